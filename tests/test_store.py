"""Atomic checksummed writes: sidecars, damage detection, one-line messages, readable modes, a full disk."""

import json
import os
import shutil
import stat
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from voltlib import store


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_a_write_records_a_sha256sum_sidecar_and_is_readable_by_others(tmp_path, umask_022):
    path = store.write_json(tmp_path / "r" / "a.json", {"x": np.float32(1.5), "nan": float("nan")})
    side = store.checksum_path(path)
    assert side.name == "a.json.sha256"
    assert side.read_text() == f"{store.sha256_of(path)}  a.json\n"
    assert store.verify(path) is None
    # the sidecar is in sha256sum's own format, so the shell can check it too
    if shutil.which("sha256sum"):
        subprocess.run(["sha256sum", "--check", "--quiet", side.name], cwd=path.parent, check=True)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644 and stat.S_IMODE(side.stat().st_mode) == 0o644
    assert store.read_json(path) == {"x": 1.5, "nan": None}
    assert sorted(p.name for p in path.parent.iterdir()) == ["a.json", "a.json.sha256"]  # no .part left
    import torch
    from safetensors.torch import save_file

    for name, save in (
        ("m.safetensors", lambda p: save_file({"w": torch.ones(3)}, str(p))),
        ("c.pt", lambda p: torch.save({"w": torch.ones(3)}, p)),
    ):
        with store.atomic_path(tmp_path / name) as tmp:
            save(tmp)
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o644, name


def test_verify_names_each_kind_of_damage(tmp_path):
    path = tmp_path / "w.npz"
    store.save_npz(path, v=np.arange(1000, dtype=np.float32))
    good = path.read_bytes()
    path.write_bytes(good[: len(good) // 2])  # truncated
    assert store.verify(path) == store.MISMATCH
    path.write_bytes(good[:100] + bytes(len(good) - 100))  # same size, garbage after the header
    assert store.verify(path) == store.MISMATCH
    path.write_bytes(good)
    assert store.verify(path) is None
    store.checksum_path(path).write_text("")  # an emptied sidecar
    assert store.verify(path).startswith("has an unreadable checksum file")
    store.checksum_path(path).unlink()  # written before checksums existed
    assert store.verify(path) == store.NO_CHECKSUM
    assert store.verify(tmp_path / "absent.npz") == "is missing"


def test_a_failed_write_keeps_the_old_file_and_its_checksum_and_leaves_no_part(tmp_path):
    path = store.write_json(tmp_path / "a.json", {"v": 1})
    with pytest.raises(ZeroDivisionError):
        with store.atomic_path(path) as tmp:
            tmp.write_text('{"v": 2')  # half written, then a failure
            raise ZeroDivisionError("a failure half way through the write")
    assert store.read_json(path) == {"v": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "a.json.sha256"]


def test_load_checked_announces_removes_and_returns_none(tmp_path, capsys, monkeypatch):
    log = tmp_path / "messages.log"
    monkeypatch.setenv(store.MESSAGE_LOG_ENV, str(log))
    path = store.write_json(tmp_path / "cache.json", {"v": 1})
    assert store.load_checked(path, store.parse_json, "recomputing") == {"v": 1}
    assert capsys.readouterr().out == ""  # a good file is silent

    path.write_text('{"v": 2}\n')  # valid JSON, not what was written
    assert store.load_checked(path, store.parse_json, "recomputing") is None
    line = f"cache: {path} failed its checksum (sha256 mismatch); recomputing"
    assert capsys.readouterr().out == line + "\n"
    assert log.read_text() == line + "\n"  # the build echoes these lines
    assert not path.exists() and not store.checksum_path(path).exists()

    store.write_json(path, {"v": -1})

    def reject(p):
        if store.parse_json(p)["v"] < 0:
            raise store.UnusableFile("holds a negative v")
        return p

    assert store.load_checked(path, reject, "recomputing") is None
    assert capsys.readouterr().out == f"cache: {path} holds a negative v; recomputing\n"

    path.write_text('{"v": 3}\n')  # no sidecar at all
    assert store.load_checked(path, store.parse_json, "recomputing") is None
    assert capsys.readouterr().out == f"cache: {path} {store.NO_CHECKSUM}; recomputing\n"
    assert store.load_checked(path, store.parse_json, "recomputing") is None  # absent: silent
    assert capsys.readouterr().out == ""


def test_read_json_refuses_a_damaged_results_file_naming_it_and_the_command(tmp_path):
    path = store.write_json(tmp_path / "smoke" / "baselines.json", {"r2": 0.5})
    path.write_text(path.read_text().replace("0.5", "0.9"))
    with pytest.raises(store.DamagedFileError) as err:
        store.read_json(path)
    assert str(path) in str(err.value) and "sha256 mismatch" in str(err.value)
    assert "make report PROFILE=smoke" in str(err.value)
    path.write_bytes(b"\x00garbage")
    with pytest.raises(store.DamagedFileError, match="make report PROFILE=smoke"):
        store.read_json(path)


def test_a_damaged_archive_file_says_to_restore_it_from_git_not_to_rebuild_a_profile(tmp_path):
    path = store.write_json(tmp_path / "results" / "archive" / "quick" / "budget" / "manifest.json", {"n": 1})
    path.write_text(path.read_text().replace("1", "2"))
    with pytest.raises(store.DamagedFileError) as err:
        store.read_json(path)
    assert f"git checkout -- {path}" in str(err.value) and "make budget" in str(err.value)
    assert "PROFILE=budget" not in str(err.value)


def test_update_json_starts_a_damaged_file_afresh_and_says_so(tmp_path, capsys):
    path = tmp_path / "ladder.json"
    store.update_json(path, "clean", "p1", value=1)
    assert store.update_json(path, "clean", "p2", value=2) == {"clean": {"p1": 1, "p2": 2}}
    path.write_text(path.read_text()[:10])  # truncated
    assert store.update_json(path, "clean", "p3", value=3) == {"clean": {"p3": 3}}
    assert capsys.readouterr().out == f"cache: {path} {store.MISMATCH}; starting it afresh\n"
    assert store.read_json(path) == {"clean": {"p3": 3}}


FULL_DISK_WRITES = textwrap.dedent("""
    import json, os, sys
    import numpy as np, torch
    from safetensors.torch import save_file
    from voltlib import store
    folder = sys.argv[1]
    big = {"w": torch.randn(400_000)}                 # 1.6 MB on a 256 kB disk
    writes = {
        "checkpoint.pt": lambda p: torch.save(big, p),
        "model.safetensors": lambda p: save_file(big, str(p)),
        "run.npz": lambda p: store.save_npz(p, v=big["w"].numpy()),
        "results.json": lambda p: store.write_json(p, {"v": big["w"].tolist()}),
    }
    out = {}
    for name, write in writes.items():
        path = os.path.join(folder, name)
        try:
            if name.endswith((".pt", ".safetensors")):
                with store.atomic_path(path) as tmp:
                    write(tmp)
            else:
                write(path)
            out[name] = "written"
        except store.DiskFullError as exc:
            out[name] = str(exc)
        except Exception as exc:
            out[name] = f"OTHER {type(exc).__name__}: {exc}"
        out[name + " left"] = sorted(os.listdir(folder))
    print(json.dumps(out))
""")


def test_a_full_disk_gives_a_clear_error_naming_the_file_and_leaves_nothing(tmp_path):
    # a real full disk: a 256 kB tmpfs in a private mount namespace (no root needed where user namespaces are on)
    disk = tmp_path / "disk"
    disk.mkdir()
    script = tmp_path / "writes.py"
    script.write_text(FULL_DISK_WRITES)
    cmd = [
        "unshare",
        "--user",
        "--map-root-user",
        "--mount",
        "sh",
        "-c",
        f'mount -t tmpfs -o size=256k none "{disk}" && exec "{sys.executable}" "{script}" "{disk}"',
    ]
    if shutil.which("unshare") is None:
        pytest.skip("unshare is not installed: cannot make a small full disk without root")
    probe = subprocess.run(cmd[:4] + ["true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"user namespaces are off here ({probe.stderr.decode().strip()}): cannot mount a small disk")
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    for name in ("checkpoint.pt", "model.safetensors", "run.npz", "results.json"):
        message = out[name]
        assert message.startswith(f"the disk holding {disk / name} is full"), message
        assert "Free space on that disk" in message
        assert out[name + " left"] == [], out  # no .part, no half file, no sidecar


def test_horizon_keys_are_one_spelling():
    from voltlib.store import horizon_key

    assert [horizon_key(h) for h in (1, 1.0, "2", 0.5, 20)] == ["1", "1", "2", "0.5", "20"]
    with pytest.raises(ValueError, match="positive number of milliseconds"):
        horizon_key(0)


def test_a_record_that_differs_only_in_its_stamp_is_left_byte_for_byte_and_any_other_change_is_written(tmp_path):
    path = tmp_path / "manifest.json"
    store.write_json(path, {"done": 3, "written": "2000-01-01"})
    before = path.read_bytes()
    assert store.write_record(path, {"done": 3, "written": "2026-12-07"}) == {"done": 3, "written": "2000-01-01"}
    assert path.read_bytes() == before
    assert store.write_record(path, {"done": 4, "written": "2026-12-07"})["done"] == 4
    assert json.loads(path.read_text()) == {"done": 4, "written": "2026-12-07"}
    path.write_text('{"done": 4, "written": "x"}\n')  # damaged (its checksum no longer holds): written again
    assert store.write_record(path, {"done": 4, "written": "y"})["written"] == "y"
    assert store.verify(path) is None
