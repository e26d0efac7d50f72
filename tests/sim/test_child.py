"""The child-process runner: progress lines echoed, a failure raised with the exit code and the output's tail."""

import pytest

from voltlib.sim import child

CHILD = """
import sys
for k in range(int(sys.argv[1])):
    print(f"[chatty] step {k}", flush=True)
    print(f"chatter {k}", file=sys.stderr, flush=True)
sys.exit(int(sys.argv[2]))
"""


@pytest.fixture
def chatty(tmp_path, monkeypatch):
    """A real module `chatty` (argv: lines to print, exit code) that the child's Python can import."""
    (tmp_path / "chatty.py").write_text(CHILD)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    return "chatty"


def test_a_child_that_succeeds_has_its_progress_lines_echoed(chatty, capsys):
    child.run_module(chatty, "3", "0", progress=True, what="the chatty child")
    assert capsys.readouterr().out == "".join(f"[chatty] step {k}\n" for k in range(3))  # not its other output
    child.run_module(chatty, "3", "0", progress=False, what="the chatty child")
    assert capsys.readouterr().out == ""


def test_a_child_that_fails_is_an_error_with_its_exit_code_and_last_lines(chatty):
    n = child.TAIL_LINES  # 2 n lines written: only the last n are quoted
    with pytest.raises(RuntimeError) as err:
        child.run_module(chatty, str(n), "3", progress=False, what="the chatty child")
    message = str(err.value)
    assert message.startswith("the chatty child failed (exit 3). Its last output:\n")
    assert f"chatter {n - 1}\n" in message and f"[chatty] step {n // 2}\n" in message
    assert f"step {n // 2 - 1}\n" not in message and len(message.splitlines()) == 1 + n
