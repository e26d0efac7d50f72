"""`make products`' archive: the notebooks read an archived product first, only an intact one of the current
configuration; the runner records provenance and does nothing when the archive is complete; the committed
quick archive holds every product the quick profile's code expects."""

import json
import shutil

import pytest
import torch

from voltlib import paths, store
from voltlib.config import get_profile
from voltlib.forecast import train
from voltlib.paper import across_states, observing, products
from voltlib.workflow import products_run
from voltlib.workflow.fanout import MeasuredJob, ObserverJob, StateJob

SMOKE = get_profile("smoke")
STATE = {"state": "ai", "baselines": {}, "ceiling": {}, "member": {}, "transfer": {}, "wall_s": 1.25}
OBSERVER = {k: [] for k in products_run.KEYS["observer"]} | {"wall_s": 2.5}
MEASURED = {"states": {}, "wall_s": 0.75}


@pytest.fixture
def archive_root(monkeypatch, tmp_path):
    """The archive and the data/ cache in a temporary folder; computing a product is an error unless a test allows it."""
    monkeypatch.setattr(products, "ARCHIVE", tmp_path / "results" / "archive")
    monkeypatch.setattr(paths, "ARCHIVE", tmp_path / "results" / "archive")  # where train finds archived fits
    monkeypatch.setattr(paths, "ROOT", tmp_path)  # the project root messages show paths from
    monkeypatch.setattr(paths, "DATA", tmp_path / "data")

    def no_computing(*args, **kwargs):
        raise AssertionError("an archived product must be read, not computed")

    monkeypatch.setattr(across_states, "compute_product", no_computing)
    monkeypatch.setattr(observing, "compute_product", no_computing)
    monkeypatch.setattr(across_states, "compute_measured", no_computing)
    return tmp_path / "results" / "archive"


def _archive(cache_path, obj, profile="smoke"):
    return store.write_json(products.archive_path(profile, cache_path), obj)


def test_an_archived_product_is_read_instead_of_computed(archive_root):
    _archive(across_states.product_path(SMOKE, "ai"), STATE)
    _archive(observing.product_path(SMOKE), OBSERVER)
    assert across_states.product(SMOKE, "ai") == STATE
    assert observing.product(SMOKE, sim=object()) == OBSERVER
    # the fan-out computes only what neither the archive nor the cache holds
    assert across_states.missing_products(SMOKE) == [
        k for k in across_states.forecast_keys(SMOKE) if k not in ("source", "ai")
    ]
    assert not observing.missing_product(SMOKE)
    example = {"spike_t_ms": [801.5, 802.25], "spike_i": [3, 7], "n_neurons": 100}
    _archive(across_states.measured_path(SMOKE), {"states": {"ai": {"record": {"key": "ai"}, "example": example}}})
    measured = across_states.measured(SMOKE)
    assert measured["ai"].record == {"key": "ai"} and measured["ai"].example["n_neurons"] == 100
    assert measured["ai"].example["spike_t_ms"].tolist() == [801.5, 802.25]  # arrays again, as measure_states's
    assert not (paths.DATA / "states").exists()  # nothing was cached: the archive is read as it is


def test_a_damaged_archived_product_is_said_and_not_used(archive_root, monkeypatch, capsys):
    path = _archive(across_states.product_path(SMOKE, "ai"), STATE)
    path.write_text(path.read_text().replace("1.25", "1.5"))
    assert "ai" in across_states.missing_products(SMOKE)
    monkeypatch.setattr(across_states, "compute_product", lambda cfg, key: {**STATE, "wall_s": 9.0})
    assert across_states.product(SMOKE, "ai")["wall_s"] == 9.0  # computed and cached, not read from the archive
    out = capsys.readouterr().out
    assert f"results/archive/smoke/products/{path.name} failed its checksum" in out
    assert "git checkout --" in out and "make products PROFILE=smoke" in out
    assert path.exists()  # a committed file is never removed
    assert store.verify(across_states.product_path(SMOKE, "ai")) is None


def test_a_product_of_another_configuration_is_never_read(archive_root, monkeypatch):
    cache = observing.product_path(SMOKE)
    store.write_json(products.folder("smoke") / "000000000000.json", OBSERVER)  # an older configuration's hash
    assert observing.missing_product(SMOKE)
    monkeypatch.setattr(observing, "compute_product", lambda cfg, sim, progress=False: {"computed": True})
    assert observing.product(SMOKE, sim=object()) == {"computed": True}
    assert store.verify(cache) is None and not products.archive_path("smoke", cache).exists()


def _trained(spec, sim, library=None):
    """What train_on_worker returns for a training, with stand-in weights (the fit is not what is tested)."""
    weights = train.weights_bytes({"w": torch.ones(3)})
    return {"weights": weights, "info": {"name": spec.name, "train_s": 2.0}, "worker": "here", "seconds": 2.5}


def _archive_everything(monkeypatch, note=""):
    """Every product smoke expects, each computed (stood in for) by the worker's function and archived, and every
    training it archives (stand-in weights)."""
    monkeypatch.setattr(across_states, "compute_product", lambda cfg, key: {**STATE, "state": key})
    monkeypatch.setattr(observing, "compute_product", lambda cfg, sim, progress=False: OBSERVER)
    monkeypatch.setattr(across_states, "compute_measured", lambda cfg: MEASURED)
    monkeypatch.setattr("voltlib.sim.simulate.simulate", lambda *a, **k: None)
    monkeypatch.setattr(products_run, "train_on_worker", _trained)
    jobs = products_run.expected("smoke")
    for job in jobs:
        products_run.write("smoke", job, products_run.archive_on_worker(job, note=note))
    for spec in products_run.expected_fits("smoke"):
        products_run.write_fit("smoke", spec, products_run.archive_fit_on_worker(spec, None, note=note))
    return jobs


def test_the_runner_archives_each_product_with_its_provenance(archive_root, monkeypatch):
    jobs = _archive_everything(monkeypatch, note="a test")
    assert [type(j) for j in jobs] == [StateJob] * (len(jobs) - 2) + [ObserverJob, MeasuredJob]
    assert all(products_run.archived("smoke", j) for j in jobs)
    path = products.archive_path("smoke", jobs[0].path())
    assert path.name == across_states.product_path(SMOKE, jobs[0].state).name
    assert path.read_text() == json.dumps(STATE | {"state": jobs[0].state}, indent=2) + "\n"  # as the cache holds it
    prov = products.provenance(path)
    assert prov["sha256"] == store.sha256_of(path) and prov["kind"] == "state" and prov["note"] == "a test"
    assert prov["wall_s"] >= 0 and prov["worker_threads"] >= 1 and prov["threads"] >= 1
    assert {"commit", "machine", "cpu", "cores", "device", "packages", "date"} <= set(prov)
    manifest = products_run.write_manifest("smoke")
    fit_specs = products_run.expected_fits("smoke")
    n_fits = len(fit_specs)
    assert n_fits == SMOKE.seeds["phase4_cnn_lstm"] and all(
        products_run.fit_archived("smoke", sp) for sp in products_run.expected_fits("smoke")
    )
    assert manifest["complete"] and manifest["done"] == len(jobs) + n_fits and not manifest["stale"]
    assert manifest["files"][path.name] == store.sha256_of(path)
    assert manifest["files"][products.provenance_path(path).name] == store.sha256_of(products.provenance_path(path))
    assert products_run.check("smoke") == []
    # the trainings' folder is absent until the first is archived: they are missing, nothing else
    shutil.rmtree(archive_root / "smoke" / "fits")
    assert products_run.write_manifest("smoke")["missing"] == [f"fits/{sp.folder().name}" for sp in fit_specs]
    for spec in fit_specs:
        products_run.write_fit("smoke", spec, products_run.archive_fit_on_worker(spec, None))
    # a product without its provenance record (a stop between the two writes) is read, but computed again
    store.remove(products.provenance_path(path))
    assert across_states.product(SMOKE, jobs[0].state)["state"] == jobs[0].state
    assert not products_run.archived("smoke", jobs[0])
    assert products_run.write_manifest("smoke")["missing"] == [path.name]
    assert any("no intact provenance record" in p for p in products_run.check("smoke"))


def test_a_rerun_with_every_product_archived_computes_nothing(archive_root, monkeypatch):
    jobs = _archive_everything(monkeypatch)
    store.write_json(products.folder("smoke") / "ai-000000000000.json", STATE)  # another configuration's

    def no_cluster(*args, **kwargs):
        raise AssertionError("a complete archive must not start a cluster")

    monkeypatch.setattr("voltlib.workflow.fanout.FanOut", no_cluster)
    said = []
    before = products_run.write_manifest("smoke")
    sha = store.sha256_of(products.manifest_path("smoke"))
    manifest = products_run.run("smoke", say=said.append)
    assert manifest == before and store.sha256_of(products.manifest_path("smoke")) == sha  # left as it was
    assert said == [
        f"products: all {len(jobs) + SMOKE.seeds['phase4_cnn_lstm']} products of the smoke profile are archived in "
        "results/archive/smoke/products/; "
        "nothing to do"
    ]
    assert manifest["complete"] and manifest["stale"] == ["ai-000000000000.json"]


def test_the_origin_of_a_product_is_one_sentence(archive_root, monkeypatch):
    cache = across_states.product_path(SMOKE, "ai")
    assert products.origin_sentence("smoke", cache) == (
        "This product was computed in this build (cached in data/states/; not in the archive "
        "results/archive/smoke/products/, which `make products PROFILE=smoke` fills)."
    )
    _archive_everything(monkeypatch)
    prov = products.provenance(products.archive_path("smoke", cache))
    sentence = products.origin_sentence("smoke", cache, "The state's product")
    assert sentence.startswith("The state's product was read from results/archive/smoke/products/, computed by ")
    assert f"at commit {prov['commit'][:7]}" in sentence and f"{prov['cores']} cores" in sentence
    assert f" on {prov['date'][:10]}, on {prov['cpu']} (" in sentence and "(s)" not in sentence
    assert sentence.endswith(f"per task), in {prov['wall_s']:,.0f} s.")
    text = across_states.origins(SMOKE)  # notebook 09's line: the states of one origin in one sentence
    assert text.startswith(
        "The products of the asynchronous irregular state, the synchronous irregular state, the synchronous "
        "regular state and the states' measured statistics were read from results/archive/smoke/products/"
    )
    assert text.endswith(" s respectively.") and text.count("read from") == 1


def test_the_committed_quick_archive_holds_every_product_the_quick_profile_expects():
    problems = products_run.check("quick")
    assert not problems, (
        "results/archive/quick/products does not hold every product the quick profile's current configuration "
        "expects (notebook 09's network states and their statistics, notebook 10's observer, notebook 07's shuffled-order "
        "fits), so `make report` would compute them "
        "(about 10 min of one worker per state):\n  "
        + "\n  ".join(problems)
        + "\nRun `make products PROFILE=quick` and commit results/archive/quick."
    )


def test_where_archived_trainings_came_from_is_one_sentence(archive_root, monkeypatch):
    own = [{"train_s": 2.0}, {"train_s": 3.0}]
    assert products.fits_origin_sentence("smoke", own, "The models") == (
        "The models were trained by the build (2 s and 3 s of training) and cached under data/models/, not read "
        "from the archive, which `make products PROFILE=smoke` fills."
    )
    _archive_everything(monkeypatch)
    folders = [products_run.fit_folder("smoke", sp) for sp in products_run.expected_fits("smoke")]
    infos = [{"train_s": 2.0, "archived": products.where(f)} for f in folders]
    prov = json.loads((folders[0] / products.FIT_PROVENANCE).read_text())
    sentence = products.fits_origin_sentence("smoke", infos, "The models")
    assert sentence.startswith("The models were read from results/archive/smoke/fits/, trained by `make products` ")
    assert f"at commit {prov['commit'][:7]}" in sentence and sentence.endswith(
        "per task), with 2 s and 2 s of training."
    )
    assert "in part (1 of 2)" in products.fits_origin_sentence("smoke", [infos[0], own[0]], "The models")
