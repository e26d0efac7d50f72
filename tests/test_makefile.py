"""`make` with an interpreter that cannot build the environment stops before installing anything, saying why."""

import glob
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from voltlib import paths

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs GNU make")


@pytest.fixture
def checkout(tmp_path):
    """A copy of what the env target reads, so that no make run here can touch the real .venv."""
    for name in ("Makefile", "requirements.txt", "pyproject.toml"):
        shutil.copy(paths.ROOT / name, tmp_path / name)
    return tmp_path


def _make(folder: Path, *args) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["make", "--no-print-directory", *args], cwd=folder, capture_output=True, text=True, timeout=60
    )


def _version(python: str) -> str | None:
    try:
        out = subprocess.run(
            [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except OSError:
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def _other_python() -> str | None:
    """A working interpreter that is not Python 3.11: on PATH, or beside this one (pyenv, /usr/bin)."""
    candidates = [shutil.which(f"python3.{m}") for m in (12, 13, 10)]
    candidates += sorted(glob.glob(str(Path(sys.base_prefix).parent / "3.1[023]*" / "bin" / "python3")))
    return next((c for c in candidates if c and _version(c) not in (None, "3.11")), None)


@pytest.mark.parametrize("python", ["/bin/false", "no-such-python3.11"])
def test_a_python_that_does_not_run_is_named_with_what_to_do(checkout, python):
    res = _make(checkout, "report", f"PYTHON={python}")
    assert res.returncode != 0
    lines = res.stderr.splitlines()
    assert lines[0] == (
        f"error: PYTHON={python} is not a working Python 3.11, which the pinned packages need. "
        "Install Python 3.11 and pass its path: make report PYTHON=/path/to/python3.11"
    )
    assert len(lines) == 2 and "Error 1" in lines[1]  # make's own line naming the target
    assert not (checkout / ".venv").exists()


def test_a_venv_of_another_python_is_found_before_installing(checkout):
    other = _other_python()
    if other is None:
        pytest.skip("no Python other than 3.11 on this machine")
    res = _make(checkout, "env", f"PYTHON={other}")
    assert res.returncode != 0
    assert res.stderr.startswith(f"error: PYTHON={other} is Python {_version(other)}, not a working Python 3.11")
    subprocess.run([other, "-m", "venv", "--without-pip", str(checkout / ".venv")], check=True, timeout=120)
    res = _make(checkout, "env", f"PYTHON={sys.executable}")
    assert res.returncode != 0
    assert res.stderr.splitlines()[0] == (
        f"error: .venv is not a Python 3.11 environment (its python is "
        f"{_version(other)}). Remove it (rm -rf .venv) or move it away, then run "
        "make env again."
    )
    assert not (checkout / ".venv" / ".voltlib-installed").exists() and "pip" not in res.stdout


def test_a_venv_whose_python_is_gone_is_found_before_installing(checkout):
    (checkout / ".venv" / "bin").mkdir(parents=True)
    (checkout / ".venv" / "bin" / "python").symlink_to(checkout / "removed-python3.11")
    res = _make(checkout, "env", f"PYTHON={sys.executable}")
    assert res.returncode != 0
    assert res.stderr.splitlines()[0].startswith(
        "error: .venv is not a Python 3.11 environment (its python is missing or broken). Remove it (rm -rf .venv)"
    )
    assert "pip" not in res.stdout


def test_a_venv_left_by_an_unfinished_install_is_built_again_not_taken_as_working(checkout):
    # what a make env leaves when pip fails or Ctrl-C stops it: ours (marked), never completed (no stamp)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(checkout / ".venv")], check=True, timeout=120)
    (checkout / ".venv" / ".voltlib-made").touch()
    res = _make(checkout, "env", "PYTHON=/bin/false")  # rebuilt with the PYTHON given now, not the old one
    lines = res.stderr.splitlines()
    assert lines[0] == (
        ".venv was left by an install that did not finish (pip failed or was stopped): building it again "
        "with PYTHON=/bin/false"
    )
    assert lines[1].startswith("error: PYTHON=/bin/false is not a working Python 3.11")
    assert res.returncode != 0 and not (checkout / ".venv").exists()


def test_a_venv_someone_else_made_is_named_and_left_alone(checkout):
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(checkout / ".venv")], check=True, timeout=120)
    res = _make(checkout, "env", f"PYTHON={sys.executable}")
    assert res.returncode != 0
    assert res.stderr.splitlines()[0] == (
        "error: .venv exists but was not made by make env (or by one that did not finish), so it is left alone. "
        "Remove it (rm -rf .venv) or move it away, then run make env again."
    )
    assert (checkout / ".venv" / "pyvenv.cfg").exists() and "pip" not in res.stdout


def test_a_failed_pip_leaves_no_venv_and_says_so(checkout, tmp_path):
    (checkout / "requirements.txt").write_text("voltlib-no-such-package==0\n")
    env = {**os.environ, "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(tmp_path / "no-wheels"), "PIP_CONSTRAINT": ""}
    res = subprocess.run(
        ["make", "--no-print-directory", "env", f"PYTHON={sys.executable}"],
        cwd=checkout,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert res.returncode != 0
    assert res.stderr.splitlines()[-2] == (
        "error: pip could not install the pinned packages into .venv (its messages are above); .venv was "
        "removed. Fix what pip names, then run make env again."
    )
    assert not (checkout / ".venv").exists()


def test_a_python_given_for_a_venv_made_from_another_is_said_not_ignored(checkout, tmp_path):
    venv = checkout / ".venv"
    venv.mkdir()
    (venv / "pyvenv.cfg").write_text(f"home = {tmp_path}/gone\nexecutable = {tmp_path}/gone/python3.11\n")
    (venv / ".voltlib-made").touch()
    (venv / ".voltlib-installed").touch()  # complete and newer than the pins: nothing to install
    assert _make(checkout, "env").returncode == 0  # PYTHON left out: .venv is used as it is
    res = _make(checkout, "env", f"PYTHON={sys.executable}")
    assert res.returncode != 0
    assert res.stderr.splitlines()[0] == (
        f"error: PYTHON={sys.executable} ({Path(sys._base_executable).resolve()}) was given, but .venv was made "
        f"from {tmp_path}/gone/python3.11. To rebuild it with PYTHON: rm -rf .venv && make env "
        f"PYTHON={sys.executable}; or leave PYTHON out to use .venv as it is."
    )


def test_make_lab_passes_a_path_with_a_space_as_one_argument(tmp_path):
    root = tmp_path / "with space"
    root.mkdir()
    shutil.copy(paths.ROOT / "Makefile", root / "Makefile")
    res = _make(root, "-n", "lab", "-o", ".venv/.voltlib-installed")  # print the command only
    line = next(ln for ln in res.stdout.replace("\\\n", " ").splitlines() if "jupyter lab" in ln)
    args = shlex.split(line)
    assert f"--notebook-dir={root}/notebooks" in args and f"--LabApp.app_settings_dir={root}/lab" in args


@pytest.mark.parametrize("given, idle", [((), "60"), (("LAB_KERNEL_IDLE_S=600",), "600")])
def test_make_lab_shuts_down_the_kernels_no_tab_is_connected_to(tmp_path, given, idle):
    shutil.copy(paths.ROOT / "Makefile", tmp_path / "Makefile")
    res = _make(tmp_path, "-n", "lab", "-o", ".venv/.voltlib-installed", *given)
    line = next(ln for ln in res.stdout.replace("\\\n", " ").splitlines() if "jupyter lab" in ln)
    args = shlex.split(line)
    # idle kernels without a connection are culled; connected or busy ones never (test-lab checks it in the lab)
    assert f"--MappingKernelManager.cull_idle_timeout={idle}" in args
    assert "--MappingKernelManager.cull_connected=False" in args and "--MappingKernelManager.cull_busy=False" in args
