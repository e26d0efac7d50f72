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
    templates = paths.module_data("paper.prose")
    assert {"paper/templates/abstract.md", "paper/templates/reaching_conclusion.md"} <= sources
    assert len(sources) == len(list(paths.PACKAGE_DIR.rglob("*.py"))) - len(
        list((paths.PACKAGE_DIR / paths.BUILD_ONLY).rglob("*.py"))
    ) + len(templates)


def test_a_module_that_reads_files_as_code_hashes_them_with_its_source(tmp_path):
    (tmp_path / "paper" / "templates").mkdir(parents=True)
    (tmp_path / "paper" / "prose.py").write_text("x = 1\n")
    (tmp_path / "paper" / "other.py").write_text("y = 1\n")
    (tmp_path / "paper" / "templates" / "a.md").write_text("Text.\n")
    with_prose, without = (
        paths.modules_hash({"paper.prose"}, tmp_path, ()),
        paths.modules_hash({"paper.other"}, tmp_path, ()),
    )
    (tmp_path / "paper" / "templates" / "a.md").write_text("Other text.\n")
    assert paths.modules_hash({"paper.prose"}, tmp_path, ()) != with_prose
    assert paths.modules_hash({"paper.other"}, tmp_path, ()) == without
    assert paths.module_data("paper.other", tmp_path) == []
