"""The build's incremental rule, its atomic execution, its error message and its timings."""

import ast
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support import start_pipeline

from voltlib import paths, store
from voltlib.workflow import pipeline

HEADER = "# ---\n# jupyter:\n#   kernelspec:\n#     display_name: Python 3.11 (voltlib)\n#     language: python\n#     name: voltlib\n# ---\n"


def _write(folder: Path, name: str, body: str) -> Path:
    path = folder / name
    path.write_text(HEADER + '\n# %% tags=["parameters"]\nprofile = "smoke"\n\n' + body)
    return path


@pytest.fixture
def project(tmp_path):
    nbs = tmp_path / "notebooks"
    nbs.mkdir()
    _write(nbs, "01_first.py", "# %%\nprint('first', profile)\n")
    _write(nbs, "02_second.py", "# %%\nx = 2\n\n# %%\nprint('second', x)\n")
    _write(nbs, "00_abstract.py", "# %% [markdown]\n# # Title\n")
    return nbs, tmp_path / "build", tmp_path / "results"


def _stamps(nbs, build, lib="lib-v1"):
    return {s.name: s.stamp for s in pipeline.plan("smoke", nbs, build, lib_hash=lib)}


def test_run_order_puts_the_abstract_last_and_report_order_first(project):
    nbs, _, _ = project
    assert [p.stem for p in paths.discover(nbs)] == ["01_first", "02_second", "00_abstract"]
    assert [p.stem for p in paths.report_order(paths.discover(nbs))] == ["00_abstract", "01_first", "02_second"]


def test_stamps_are_stable_and_a_change_invalidates_that_notebook_and_the_ones_after(project):
    nbs, build, _ = project
    before = _stamps(nbs, build)
    assert before == _stamps(nbs, build)
    (nbs / "02_second.py").write_text((nbs / "02_second.py").read_text() + "\n# %%\ny = 3\n")
    after = _stamps(nbs, build)
    assert after["01_first"] == before["01_first"]
    assert after["02_second"] != before["02_second"]
    # the abstract is a declared notebook: what it reads is checked file by file, its stamp is its own
    assert after["00_abstract"] == before["00_abstract"]
    changed_lib = _stamps(nbs, build, lib="lib-v2")
    assert all(changed_lib[k] != after[k] for k in after)
    other_profile = {s.name: s.stamp for s in pipeline.plan("quick", nbs, build, lib_hash="lib-v1")}
    assert all(other_profile[k] != after[k] for k in after)  # another profile is another build


def test_no_notebook_imports_the_build_only_workflow():
    # if one did, editing that module would have to re-execute it, and the hash would miss that
    for nb in sorted(paths.NOTEBOOKS.glob("*.py")):
        for line in nb.read_text().splitlines():
            assert f"voltlib.{pipeline.BUILD_ONLY}" not in line and not re.match(
                rf"from voltlib import .*\b{pipeline.BUILD_ONLY}\b", line
            ), (nb.name, line)


def test_build_runs_then_is_up_to_date_and_records_timings(project):
    nbs, build, results = project
    lines = []
    pipeline.build("smoke", nbs, build, results, lib_hash="lib", progress=lambda t, end="\n": lines.append(t))
    assert (build / "01_first.ipynb").exists() and (build / "01_first.stamp.json").exists()
    executed = json.loads((build / "01_first.ipynb").read_text())
    assert "first smoke" in json.dumps(executed)
    first = json.loads((results / "timings.json").read_text())
    assert set(first["notebooks"]) == {"01_first", "02_second", "00_abstract"}
    assert not any(v["cached"] for v in first["notebooks"].values())
    assert first["executed_s"] > 0
    lines.clear()
    # what a build killed by SIGKILL leaves behind; the next build clears it even with nothing to run
    leftovers = [build / ".02_second.input.ipynb", build / ".02_second.running.ipynb", build / ".09_gone.running.ipynb"]
    for stale in leftovers:
        stale.write_text("{}")
    pipeline.build("smoke", nbs, build, results, lib_hash="lib", progress=lambda t, end="\n": lines.append(t))
    assert lines == [
        "[1/3] 01_first ... up to date",
        "[2/3] 02_second ... up to date",
        "[3/3] 00_abstract ... up to date",
    ]
    assert not any(stale.exists() for stale in leftovers)
    second = json.loads((results / "timings.json").read_text())
    assert all(v["cached"] for v in second["notebooks"].values()) and second["executed_s"] == 0
    assert second["notebooks"]["01_first"]["seconds"] == first["notebooks"]["01_first"]["seconds"]


def test_a_failing_notebook_stops_the_build_names_the_cell_and_leaves_no_executed_copy(project):
    nbs, build, results = project
    _write(nbs, "02_second.py", "# %%\nx = 2\n\n# %%\nraise ValueError('planted failure')\n")
    build.mkdir(parents=True)
    # a stale executed copy and stamp from an earlier, different source must not survive
    (build / "02_second.ipynb").write_text("{}")
    (build / "02_second.stamp.json").write_text('{"stamp": "old"}')
    with pytest.raises(pipeline.NotebookFailed) as err:
        pipeline.build("smoke", nbs, build, results, lib_hash="lib", progress=lambda t, end="\n": None)
    message = str(err.value)
    assert "02_second.py" in message and "code cell 3" in message
    assert "raise ValueError('planted failure')" in message and "ValueError: planted failure" in message
    assert not (build / "02_second.ipynb").exists() and not (build / "02_second.stamp.json").exists()
    assert (build / "02_second.failed.ipynb").exists()
    assert not (build / "00_abstract.ipynb").exists()  # the build stopped there
    assert not list(build.glob(".*"))  # no temporary files left behind
    assert (build / "01_first.ipynb").exists()  # earlier work is kept


def _setup_cells(nb: Path) -> tuple[str, str]:
    """The source of a notebook's parameters cell and of the code cell after it."""
    import jupytext

    code = [c for c in jupytext.read(nb).cells if c.cell_type == "code"]
    k = next(i for i, c in enumerate(code) if "parameters" in c.metadata.get("tags", []))
    return code[k].source, code[k + 1].source


@pytest.mark.parametrize("nb", sorted(paths.NOTEBOOKS.glob("[0-9][0-9]_*.py")), ids=lambda p: p.stem)
def test_each_notebook_checks_all_its_parameters_first(nb):
    # papermill injects whatever it is given (`-p device 3` is the int 3); one call checks them all
    params, setup = _setup_cells(nb)
    names = [t.id for node in ast.parse(params).body for t in node.targets]
    # notebook_profile(...), or analysis.setup(...) which calls it first (06, 07)
    calls = [
        n
        for n in ast.walk(ast.parse(setup))
        if isinstance(n, ast.Call)
        and (getattr(n.func, "id", "") == "notebook_profile" or getattr(n.func, "attr", "") == "setup")
    ]
    assert len(calls) == 1 and [a.id for a in calls[0].args] == names, (nb.name, names)
    assert "get_profile" not in setup


@pytest.mark.parametrize(
    "notebook, params, message",
    [
        (
            "00_abstract.py",
            {"profile": ["quick"]},
            "ConfigError: profile=['quick'] is invalid: expected one of 'smoke', 'quick', 'paper' (a string, not a list)",
        ),
        ("04_lstm_ladder.py", {"profile": "smoke", "device": 3}, "ConfigError: device=3 is invalid: expected None"),
    ],
)
def test_a_parameter_of_the_wrong_type_fails_in_the_setup_cell_with_its_message(tmp_path, notebook, params, message):
    # the real notebook cut after its setup cell: a bad parameter must fail there, before any work
    source = paths.NOTEBOOKS / notebook
    text = source.read_text()
    setup = _setup_cells(source)[1]
    cut = tmp_path / notebook
    cut.write_text(text[: text.index(setup) + len(setup)] + "\n")
    step = pipeline.Step(cut, tmp_path / "build" / f"{cut.stem}.ipynb", tmp_path / "build" / "stamp.json", "s")
    with pytest.raises(pipeline.NotebookFailed) as err:
        pipeline.execute(step, params)
    assert f"{notebook} failed in code cell 2" in str(err.value) and message in str(err.value)


def test_an_unknown_profile_is_one_line_and_a_non_zero_exit():
    out, err = start_pipeline("--profile", "nonsense").communicate(timeout=60)
    assert err.splitlines() == [
        "error: profile='nonsense' is invalid: expected one of 'smoke', 'quick', 'paper'. "
        "Pass PROFILE=smoke|quick|paper to make, or profile = 'smoke' in the notebook's "
        "parameters cell (one notebook by hand: .venv/bin/jupytext --to ipynb notebooks/NN_name.py -o NN.ipynb "
        "&& .venv/bin/papermill NN.ipynb NN.out.ipynb -k voltlib -p profile smoke)."
    ]
    assert out == ""


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process states from /proc")
def test_sigterm_stops_the_build_like_ctrl_c_removing_its_temporaries_and_its_kernel(tmp_path):
    nbs = tmp_path / "notebooks"
    nbs.mkdir()
    # the cell reports its kernel's pid once it runs, then sleeps until the build is stopped
    _write(
        nbs, "01_sleep.py", "# %%\nimport os, time\nopen('kernel.pid', 'w').write(str(os.getpid()))\ntime.sleep(120)\n"
    )
    build = tmp_path / "build" / "smoke"
    proc = start_pipeline(
        "--profile", "smoke", "--no-report", env={"VOLTLIB_ROOT": str(tmp_path), **pipeline.HEADLESS_ENV}
    )
    pid_file = nbs / "kernel.pid"
    deadline = time.time() + 90
    while not (pid_file.exists() and pid_file.read_text()) and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert pid_file.exists(), proc.communicate()[1]
    kernel = int(pid_file.read_text())
    assert list(build.glob(".*")), "the running notebook's temporaries should exist before the stop"
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM
    assert err.strip().startswith("stopped by SIGTERM: what was running was shut down") and "Traceback" not in err
    assert not list(build.glob(".*")) and not list(build.glob("01_sleep*"))
    assert not _alive(kernel)


def test_a_kernel_is_shut_down_without_an_interrupt(tmp_path):
    # jupyter_client interrupts a kernel's process group before a shutdown, and ipykernel then may log
    # "KeyboardInterrupt caught in kernel"; a watcher process in that group records the SIGINT
    import asyncio

    from jupyter_client import AsyncKernelManager

    watch = (
        "import pathlib, signal, sys, time; out = pathlib.Path(sys.argv[1]); "
        "signal.signal(signal.SIGINT, lambda *a: out.write_text('SIGINT')); "
        "pathlib.Path(sys.argv[1] + '.ready').write_text(str(__import__('os').getpid())); time.sleep(60)"
    )

    async def got_sigint(manager_class, marker: Path) -> bool:
        km = manager_class(kernel_name=pipeline.KERNEL)
        await km.start_kernel(cwd=str(tmp_path))
        kc = km.client()
        kc.start_channels()
        try:
            await kc.wait_for_ready(timeout=60)
            await kc.execute_interactive(
                f"import subprocess, sys; subprocess.Popen([sys.executable, '-c', {watch!r}, {str(marker)!r}])",
                timeout=60,
            )
            ready = Path(f"{marker}.ready")
            for _ in range(600):  # the watcher has its SIGINT handler in place
                if ready.exists() and ready.read_text():
                    break
                await asyncio.sleep(0.05)
        finally:
            kc.stop_channels()
            await km.shutdown_kernel()
        await asyncio.sleep(0.5)
        try:
            os.kill(int(ready.read_text()), signal.SIGKILL)  # the watcher outlives a kernel that exits cleanly
        except ProcessLookupError:
            pass
        return marker.exists()

    assert asyncio.run(got_sigint(AsyncKernelManager, tmp_path / "stock")), "the stock manager should interrupt"
    assert not asyncio.run(got_sigint(pipeline.quiet_kernel_manager(), tmp_path / "quiet"))


def test_a_missing_or_changed_output_reruns_the_notebook_that_wrote_it_and_the_ones_after(project):
    nbs, build, results = project
    # 01 writes two outputs and reads (or makes) a cache file through voltlib.store
    _write(
        nbs,
        "01_first.py",
        "# %%\nfrom pathlib import Path\nfrom voltlib import store\n"
        "cache = Path('../data/c.json').resolve()\n"
        "if store.load_checked(cache, store.parse_json, 'recomputing') is None:\n"
        "    store.write_json(cache, {'v': 1})\n"
        "Path('../results').mkdir(exist_ok=True)\n"
        "Path('../results/first.json').write_text('{\"v\": 1}')\n"
        "Path('../results/shared.txt').write_text('a')\n",
    )
    # 02 adds to a file 01 wrote, as 04 does to ladder.json
    _write(
        nbs,
        "02_second.py",
        "# %%\nfrom pathlib import Path\n"
        "shared = Path('../results/shared.txt')\nshared.write_text(shared.read_text() + 'b')\n",
    )
    lines = []

    def run():
        lines.clear()
        pipeline.build(
            "smoke",
            nbs,
            build,
            results,
            lib_hash="lib",
            outputs=(results,),
            progress=lambda t, end="\n": lines.append(t),
        )
        return {s.name: pipeline.is_up_to_date(s) for s in pipeline.plan("smoke", nbs, build, lib_hash="lib")}

    assert run() == {"01_first": True, "02_second": True, "00_abstract": True}
    steps = {s.name: s for s in pipeline.plan("smoke", nbs, build, lib_hash="lib")}
    recorded = {n: pipeline.read_stamp(s)["outputs"] for n, s in steps.items()}
    shared, first, cache = str(results / "shared.txt"), str(results / "first.json"), nbs.parent / "data" / "c.json"
    assert set(recorded["01_first"]) == {first, shared} and set(recorded["02_second"]) == {shared}
    assert recorded["00_abstract"] == {}
    assert pipeline.read_stamp(steps["01_first"])["caches"] == {str(cache): store.sha256_of(cache)}
    assert pipeline.read_stamp(steps["02_second"])["caches"] == {}
    # 01's record of the shared file is what 02 left, so an intact build stays up to date
    assert recorded["01_first"][shared] == recorded["02_second"][shared] == store.sha256_of(results / "shared.txt")

    (results / "first.json").unlink()
    assert not pipeline.is_up_to_date(steps["01_first"]) and pipeline.is_up_to_date(steps["02_second"])
    assert run() == {"01_first": True, "02_second": True, "00_abstract": True}
    assert lines[0] == f"{first} is missing; rerunning 01_first and the notebooks after it"
    # 02, which the declaration does not know, reads what 01 wrote; the abstract reads none of it
    assert [t for t in lines if "up to date" in t] == ["[3/3] 00_abstract ... up to date"]
    assert (results / "first.json").read_text() == '{"v": 1}'

    (results / "shared.txt").write_text("garbage")  # changed behind the build's back
    assert not pipeline.is_up_to_date(steps["01_first"]) and not pipeline.is_up_to_date(steps["02_second"])
    assert run() == {"01_first": True, "02_second": True, "00_abstract": True}
    assert lines[0] == f"{shared} {store.MISMATCH}; rerunning 01_first and the notebooks after it"
    assert (results / "shared.txt").read_text() == "ab"  # its first writer ran again

    cache.write_text('{"v": 2}\n')  # a damaged cache reruns its reader,
    assert not pipeline.is_up_to_date(steps["01_first"]) and pipeline.is_up_to_date(steps["02_second"])
    assert run() == {"01_first": True, "02_second": True, "00_abstract": True}
    # no line from the build itself: the notebook's read says what was wrong and what it did, once
    assert lines[0] == "[1/3] 01_first ..." and lines[2] == f"  cache: {cache} {store.MISMATCH}; recomputing"
    assert sum(str(cache) in t for t in lines) == 1
    assert store.read_json(cache) == {"v": 1}

    record = pipeline.read_stamp(steps["02_second"])  # a stamp from before outputs were recorded
    del record["outputs"]
    steps["02_second"].stamp_file.write_text(json.dumps(record))
    assert not pipeline.is_up_to_date(steps["02_second"]) and pipeline.is_up_to_date(steps["01_first"])


def test_build_before_a_notebook_runs_only_the_ones_ahead_of_it(project):
    nbs, build, results = project
    lines = []
    pipeline.build(
        "smoke", nbs, build, results, lib_hash="lib", progress=lambda t, end="\n": lines.append(t), before="02_second"
    )
    assert (build / "01_first.ipynb").exists()
    assert not (build / "02_second.ipynb").exists() and not (build / "00_abstract.ipynb").exists()
    assert set(json.loads((results / "timings.json").read_text())["notebooks"]) == {"01_first"}
    with pytest.raises(ValueError, match="before='03_missing' is not a notebook"):
        pipeline.build("smoke", nbs, build, results, lib_hash="lib", before="03_missing")


def test_a_second_build_of_the_same_root_and_profile_waits_for_the_first_saying_so(tmp_path):
    import fcntl

    nbs = tmp_path / "notebooks"
    nbs.mkdir()
    _write(nbs, "01_first.py", "# %%\nprint('first', profile)\n")
    build = tmp_path / "build" / "smoke"
    build.mkdir(parents=True)
    env = {"VOLTLIB_ROOT": str(tmp_path), "VOLTLIB_WORKERS": "1", **pipeline.HEADLESS_ENV}
    with open(pipeline.lock_file(build), "a+") as held:  # what a first build holds while it runs
        fcntl.flock(held, fcntl.LOCK_EX)
        held.write("4242\n")
        held.flush()
        proc = start_pipeline("--profile", "smoke", "--no-report", env=env)
        first = proc.stdout.readline()
        assert (
            first
            == "another build of build/smoke is running (process 4242): waiting for it to finish (Ctrl-C to stop waiting)\n"
        )
        time.sleep(1)
        assert proc.poll() is None and not (build / "01_first.ipynb").exists()  # it waits
        fcntl.flock(held, fcntl.LOCK_UN)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "[1/1] 01_first ..." in out and (build / "01_first.ipynb").exists()
    assert pipeline.lock_file(build).read_text().strip() == str(proc.pid)  # who held it last


def test_files_the_builds_own_threads_write_while_a_notebook_runs_are_not_what_it_read(tmp_path, monkeypatch):
    # the fan-out's collector, in the build's process, saves models while notebook 02 runs
    log = tmp_path / "files"
    monkeypatch.setenv(store.FILE_LOG_ENV, str(log))
    monkeypatch.setenv(store.BUILD_PID_ENV, str(os.getpid()))
    store.write_json(tmp_path / "model" / "info.json", {"a": 1})
    assert not log.exists()
    monkeypatch.setenv(store.BUILD_PID_ENV, str(os.getpid() + 1))  # as the notebook's kernel sees it
    store.write_json(tmp_path / "read" / "info.json", {"a": 1})
    assert log.read_text().splitlines() == [str((tmp_path / "read" / "info.json").resolve())]


def test_a_file_it_cannot_write_is_advice_about_permissions_not_about_code(project):
    nbs, build, results = project
    _write(nbs, "02_second.py", "# %%\nraise PermissionError(13, 'Permission denied', 'results/smoke/x.json')\n")
    with pytest.raises(pipeline.NotebookFailed) as err:
        pipeline.build("smoke", nbs, build, results, lib_hash="lib", progress=lambda t, end="\n": None)
    message = str(err.value)
    assert "PermissionError: [Errno 13] Permission denied: 'results/smoke/x.json'" in message
    assert "is not writable by you: make it writable (chmod u+w" in message and pipeline.FIX_CODE not in message


@pytest.mark.parametrize(
    "env, first",
    [
        ({"VOLTLIB_DEVICE": "banana"}, "error: unknown device 'banana': expected one of ('cpu', 'cuda', 'mps')"),
        ({"VOLTLIB_SCHEDULER": "notaurl"}, "error: SCHEDULER='notaurl' is not the address of a Dask scheduler"),
        ({"VOLTLIB_WORKERS": "-1"}, "error: WORKERS='-1' is not a number of workers"),
    ],
)
def test_a_wrong_device_scheduler_or_workers_is_one_line_before_any_work(tmp_path, env, first):
    nbs = tmp_path / "notebooks"
    nbs.mkdir()
    _write(nbs, "01_first.py", "# %%\nopen('ran', 'w').write('yes')\n")  # also when nothing would train
    if "VOLTLIB_DEVICE" in env:  # a device this machine lacks is refused the same way
        cuda = subprocess.run(
            [sys.executable, "-c", "import torch; print(torch.cuda.is_available())"], text=True, capture_output=True
        ).stdout.strip()
        if cuda == "False":
            out, err = start_pipeline(
                "--profile", "smoke", env={"VOLTLIB_ROOT": str(tmp_path), "VOLTLIB_DEVICE": "cuda"}
            ).communicate(timeout=120)
            assert (
                err.startswith("error: device 'cuda' was requested but is not available") and len(err.splitlines()) == 1
            )
    out, err = start_pipeline("--profile", "smoke", env={"VOLTLIB_ROOT": str(tmp_path), **env}).communicate(timeout=120)
    assert err.startswith(first) and len(err.splitlines()) == 1, err
    assert out == "" and not (nbs / "ran").exists() and not (tmp_path / "build").exists()


def test_an_unwritable_home_keeps_ipythons_warnings_out_of_the_progress_lines(tmp_path):
    nbs = tmp_path / "notebooks"
    nbs.mkdir()
    _write(nbs, "01_first.py", "# %%\nimport matplotlib.pyplot as plt\nprint('first')\n")
    home = "/proc/no-such-home"  # not even root can create it
    env = {"VOLTLIB_ROOT": str(tmp_path), "VOLTLIB_WORKERS": "1", "HOME": home, **pipeline.HEADLESS_ENV}
    env = {**env, "IPYTHONDIR": "", "MPLCONFIGDIR": ""}
    proc = start_pipeline("--profile", "smoke", "--no-report", env=env)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "Warning" not in out + err and "not a writable" not in out + err, out + err
    assert out.splitlines()[0].startswith("[1/1] 01_first ... ") and out.splitlines()[0].endswith(" s")


# Toy notebooks under the paper's own names, so the declaration (voltlib.paper.inputs) applies:
# 01 writes simulation.json, 02 baselines.json, 03 reads baselines.json and fills its part of ladder.json.
DECLARED = {
    "01_simulate.py": "# %%\nfrom pathlib import Path\nfrom voltlib import store\n"
    "store.write_json(Path('../results/simulation.json').resolve(), {'rate': RATE})\n",
    "02_dataset.py": "# %%\nfrom pathlib import Path\nfrom voltlib import store\n"
    "store.write_json(Path('../results/baselines.json').resolve(), {'persistence': BASE})\n",
    "03_baseline_lstm.py": "# %%\nfrom pathlib import Path\nfrom voltlib import store\n"
    "base = store.read_json(Path('../results/baselines.json').resolve())\n"
    "for p in ('original', 'clean'):\n"
    "    store.update_json(Path('../results/ladder.json').resolve(), p, 'phase1_lstm', value=base['persistence'])\n",
}


def _declared_project(tmp_path, rate=1, base=0.5):
    nbs = tmp_path / "notebooks"
    nbs.mkdir(exist_ok=True)
    for name, body in DECLARED.items():
        _write(nbs, name, body.replace("RATE", str(rate)).replace("BASE", str(base)))
    (tmp_path / "results").mkdir(exist_ok=True)
    return nbs, tmp_path / "build", tmp_path / "results"


def _run(nbs, build, results, lines):
    lines.clear()
    pipeline.build(
        "smoke", nbs, build, results, lib_hash="lib", outputs=(results,), progress=lambda t, end="\n": lines.append(t)
    )
    ran = [re.match(r"\[\d+/\d+\] (\S+) \.\.\.", t) for t in lines if not t.endswith("up to date")]
    return [m.group(1) for m in ran if m]


def test_a_declared_notebook_reruns_when_what_it_reads_changed_not_when_an_earlier_one_ran(tmp_path):
    nbs, build, results = _declared_project(tmp_path)
    lines = []
    assert _run(nbs, build, results, lines) == ["01_simulate", "02_dataset", "03_baseline_lstm"]
    steps = {s.name: s for s in pipeline.plan("smoke", nbs, build, lib_hash="lib")}
    assert all(s.declared for s in steps.values())
    third = pipeline.read_stamp(steps["03_baseline_lstm"])
    shown = store.shown
    assert third["read"] == [shown(results / "baselines.json")]
    assert set(third["inputs"]) == {shown(results / "baselines.json")}  # ladder.json: no earlier writer
    assert set(third["parts"]) == {shown(results / "ladder.json"), shown(results / "histories.json")}
    assert shown(results / "ladder.json") not in third["outputs"]  # shared: checked by its part
    assert _run(nbs, build, results, lines) == []

    _declared_project(tmp_path, rate=2)  # 01 writes another rate; nothing after it reads simulation.json
    assert _run(nbs, build, results, lines) == ["01_simulate"]
    (nbs / "02_dataset.py").write_text((nbs / "02_dataset.py").read_text() + "\n# %%\nx = 1\n")
    assert _run(nbs, build, results, lines) == ["02_dataset"]  # it reran and wrote the same baselines

    _declared_project(tmp_path, rate=2, base=0.7)  # new baselines: 03 reads them
    assert _run(nbs, build, results, lines) == ["02_dataset", "03_baseline_lstm"]
    assert json.loads((results / "ladder.json").read_text())["clean"]["phase1_lstm"] == 0.7

    # another notebook's key in the shared file is not 03's part; its own part changed is
    store.update_json(results / "ladder.json", "clean", "phase2_large_lstm", value=1)
    assert _run(nbs, build, results, lines) == [], lines
    store.update_json(results / "ladder.json", "clean", "phase1_lstm", value=9)
    assert _run(nbs, build, results, lines) == ["03_baseline_lstm"]
    ladder = shown(results / "ladder.json")
    assert [t for t in lines if "rerunning" in t] == [f"{ladder} {pipeline.CHANGED_PART}; rerunning 03_baseline_lstm"]
    assert json.loads((results / "ladder.json").read_text())["clean"] == {"phase1_lstm": 0.7, "phase2_large_lstm": 1}

    # changed behind the build's back: its writer reruns and writes it as it was, so its reader need not
    baselines = results / "baselines.json"
    baselines.write_text('{"persistence": 0.1}')
    assert _run(nbs, build, results, lines) == ["02_dataset"]
    assert [t for t in lines if "rerunning" in t] == [f"{shown(baselines)} {store.MISMATCH}; rerunning 02_dataset"]
    assert store.read_json(baselines) == {"persistence": 0.7}


def test_editing_a_module_reruns_only_the_notebooks_that_run_it(tmp_path):
    import shutil

    package = tmp_path / "voltlib"
    shutil.copytree(paths.PACKAGE_DIR, package, ignore=shutil.ignore_patterns("__pycache__"))
    nbs = paths.NOTEBOOKS

    def stamps():
        return {s.name: s.stamp for s in pipeline.plan("smoke", nbs, tmp_path / "build", package_dir=package)}

    before = stamps()
    with open(package / "paper" / "plots" / "interpretation.py", "a") as fh:  # notebook 07's figures
        fh.write("\n# an edit\n")
    after = stamps()
    assert {n for n in before if before[n] != after[n]} == {"07_interpretability"}
    with open(package / "paper" / "plots" / "style.py", "a") as fh:  # the house style: every notebook that draws
        fh.write("\n# an edit\n")
    drawn = stamps()
    assert {n for n in before if drawn[n] != after[n]} == {
        "01_simulate",
        "02_dataset",
        "05_cnn_lstm",
        "06_error_analysis",
        "07_interpretability",
        "08_reaching_the_ceiling",
        "09_network_states",
        "10_observer",
    }
    after = drawn
    with open(package / "config.py", "a") as fh:  # every notebook reads the configuration
        fh.write("\n# an edit\n")
    edited = stamps()
    assert all(v != after[k] for k, v in edited.items())
    with open(package / "workflow" / "report.py", "a") as fh:  # the build's own code reruns nothing
        fh.write("\n# an edit\n")
    assert stamps() == edited
    with open(package / "paper" / "templates" / "abstract.md", "a") as fh:  # prose reads its templates as code
        fh.write("\nAn edit.\n")
    worded = stamps()
    # the notebooks that render prose, and no other (01, 03 and 04 write no sentence from a template)
    assert {n for n in edited if worded[n] != edited[n]} == {
        "00_abstract",
        "02_dataset",
        "05_cnn_lstm",
        "06_error_analysis",
        "07_interpretability",
        "08_reaching_the_ceiling",
        "09_network_states",
        "10_observer",
    }


def test_the_build_silences_only_the_resource_trackers_cleanup_notice(monkeypatch):
    monkeypatch.setenv("PYTHONWARNINGS", "error::DeprecationWarning")
    pipeline.quiet_resource_tracker()
    pipeline.quiet_resource_tracker()  # once is enough
    assert os.environ["PYTHONWARNINGS"] == "error::DeprecationWarning,ignore:resource_tracker:UserWarning"
    code = (
        "import warnings; warnings.warn('resource_tracker: 1 leaked', UserWarning); warnings.warn('other', UserWarning)"
    )
    err = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stderr
    assert "resource_tracker" not in err and "UserWarning: other" in err
