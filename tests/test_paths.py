"""voltlib.paths: where things live, and the library hash that decides when the notebooks rerun."""

from voltlib import paths


def test_library_hash_follows_voltlib_sources(tmp_path):
    (tmp_path / "a.py").write_text("x = 1\n")
    h1 = paths.library_hash(tmp_path, extra=())
    (tmp_path / "a.py").write_text("x = 2\n")
    assert paths.library_hash(tmp_path, extra=()) != h1


def test_library_hash_follows_subpackages_and_ignores_the_workflow(tmp_path):
    (tmp_path / "a.py").write_text("x = 1\n")
    for sub in ("sim", "workflow"):
        (tmp_path / sub).mkdir()
        (tmp_path / sub / "b.py").write_text("y = 1\n")
    h1 = paths.library_hash(tmp_path, extra=())
    (tmp_path / "workflow" / "b.py").write_text("y = 2\n")
    assert paths.library_hash(tmp_path, extra=()) == h1
    (tmp_path / "sim" / "b.py").write_text("y = 2\n")
    h2 = paths.library_hash(tmp_path, extra=())
    assert h2 != h1
    (tmp_path / "sim" / "b.py").rename(tmp_path / "sim" / "c.py")  # a moved module is a change
    assert paths.library_hash(tmp_path, extra=()) != h2


def test_the_library_sources_are_every_module_but_the_workflow():
    sources = {f.relative_to(paths.PACKAGE_DIR).as_posix() for f in paths.library_sources()}
    assert {"config.py", "sim/simulate.py", "forecast/train.py", "paper/plots/style.py"} <= sources
    assert not any(s.startswith(f"{paths.BUILD_ONLY}/") for s in sources)
    assert len(sources) == len(list(paths.PACKAGE_DIR.rglob("*.py"))) - len(
        list((paths.PACKAGE_DIR / paths.BUILD_ONLY).rglob("*.py"))
    )
