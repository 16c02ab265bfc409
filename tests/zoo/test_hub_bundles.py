"""Exported bundles as Hugging Face model repositories (issue 16, item 2), no network.

``zoo export`` writes a card the Hub's parser accepts, under a manifest that still verifies;
``zoo.load_pretrained("org/name")`` reads the bundle from the Hugging Face cache and predicts as
the local folder does; ``zoo export ... --push-to-hub`` uploads exactly the bundle's files.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

import zoo
from zoo.cli import run as zoo_run
from zoo.hub.bundle import BundleError, load_bundle
from zoo.hub.huggingface import HubError

REPO_ID = "affect/sun2020-muse-car"
pytestmark = pytest.mark.slow  # a trained run (the session fixture)


@pytest.fixture()
def bundle(trained_muse_run: Path, tmp_path: Path) -> Path:
    out = zoo_run(["export", str(trained_muse_run / "checkpoints" / "best.ckpt"), str(tmp_path / "bundle")])
    assert out["exit_code"] == 0
    return Path(out["run_dir"])


def test_card_front_matter_states_the_ccc_and_the_manifest_covers_it(bundle, trained_muse_run):
    from huggingface_hub import ModelCard

    card = ModelCard.load(bundle / "README.md")  # the Hub's own parser
    assert card.data.library_name == "affect-zoo" and card.data.datasets == ["muse_car"]
    assert "sun2020_lstm_selfattn" in card.data.tags
    results = json.loads((trained_muse_run / "results.json").read_text())
    found = {(r.dataset_split, r.metric_name): r.metric_value for r in card.data.eval_results}
    assert found[("validation", "CCC mean (validation)")] == pytest.approx(results["val/ccc_mean"])
    assert found[("test", "CCC arousal (test)")] == pytest.approx(results["test/ccc_arousal"])
    assert card.text.lstrip().startswith("# sun2020_lstm_selfattn")
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert "README.md" in manifest["files"]
    load_bundle(bundle)  # the card written before the manifest: the bundle verifies


def _into_hf_cache(bundle: Path, cache: Path, repo_id: str) -> None:
    """The layout ``huggingface_hub`` keeps: models--org--name/{refs/main, snapshots/<commit>/}."""
    commit = "0123456789abcdef0123456789abcdef01234567"
    base = cache / f"models--{repo_id.replace('/', '--')}"
    (base / "refs").mkdir(parents=True)
    (base / "refs" / "main").write_text(commit)
    shutil.copytree(bundle, base / "snapshots" / commit)


def test_load_pretrained_reads_org_name_from_the_cache(bundle, tmp_path, monkeypatch):
    cache = tmp_path / "hf-cache"
    _into_hf_cache(bundle, cache, REPO_ID)
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(cache))  # read at each call
    local, hub = zoo.load_pretrained(bundle), zoo.load_pretrained(REPO_ID)
    assert hub.bundle_sha256 == local.bundle_sha256
    rng = np.random.default_rng(0)
    features = {n: rng.normal(size=(40, d)).astype(np.float32) for n, d in local.feature_dims.items()}
    np.testing.assert_array_equal(hub.predict(features), local.predict(features))
    with pytest.raises(HubError, match=r"affect/missing: .* it is not in the Hugging Face cache.*allow_download=True"):
        zoo.load_pretrained("affect/missing")


def test_a_tampered_cached_bundle_is_refused(bundle, tmp_path, monkeypatch):
    cache = tmp_path / "hf-cache"
    _into_hf_cache(bundle, cache, REPO_ID)
    card = next(cache.rglob("README.md"))
    card.write_text(card.read_text().replace("library_name: affect-zoo", "library_name: other"))
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(cache))
    with pytest.raises(BundleError, match="README.md: sha256 differs"):
        zoo.load_pretrained(REPO_ID)


def test_export_push_to_hub_uploads_the_bundle_files_only(trained_muse_run, tmp_path, monkeypatch, capsys):
    import huggingface_hub

    calls = []
    monkeypatch.setattr(huggingface_hub.HfApi, "create_repo", lambda self, **kw: calls.append(("create_repo", kw)))

    def upload_folder(self, **kw):
        calls.append(("upload_folder", {**kw, "files": sorted(p.name for p in Path(kw["folder_path"]).iterdir())}))
        return type("Commit", (), {"commit_url": f"https://huggingface.co/{kw['repo_id']}/commit/abc"})()

    monkeypatch.setattr(huggingface_hub.HfApi, "upload_folder", upload_folder)
    ckpt = trained_muse_run / "checkpoints" / "best.ckpt"
    out = zoo_run(["export", str(ckpt), str(tmp_path / "b"), "--push-to-hub", REPO_ID, "--private"])
    assert out["exit_code"] == 0 and out["commit_url"].endswith("/commit/abc")
    (create, create_kw), (upload, upload_kw) = calls
    assert create_kw == {"repo_id": REPO_ID, "repo_type": "model", "private": True, "exist_ok": True}
    assert upload_kw["repo_id"] == REPO_ID and Path(upload_kw["folder_path"]) == tmp_path / "b"
    assert upload_kw["files"] == ["README.md", "config.json", "manifest.json", "model.safetensors", "recipe.yaml"]
    assert set(upload_kw["allow_patterns"]) == set(upload_kw["files"])
    assert f"bundle pushed to https://huggingface.co/{REPO_ID}" in capsys.readouterr().out
    calls.clear()
    assert zoo_run(["export", str(ckpt), str(tmp_path / "c"), "--push-to-hub", "not a repo"])["exit_code"] == 2
    assert calls == [] and "expected a repository id org/name" in capsys.readouterr().err
    front = yaml.safe_load((tmp_path / "c" / "README.md").read_text().split("---\n")[1])
    assert front["library_name"] == "affect-zoo"


def test_predict_by_hub_id_reads_the_local_cache_and_offline_messages_are_true(bundle, tmp_path, monkeypatch, capsys):
    from zoo.data.corpora.muse_car.synthetic import write_synthetic_muse_car

    cache = tmp_path / "hf-cache"
    _into_hf_cache(bundle, cache, REPO_ID)
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(cache))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    videos = {"train": 1, "devel": 1, "test": 0}
    corpus = write_synthetic_muse_car(tmp_path / "muse", seed=1, n_videos=videos, feature_sets=["egemaps", "vggface"])
    by_id = zoo_run(["predict", REPO_ID, str(corpus), "--output", str(tmp_path / "by-id")])
    by_path = zoo_run(["predict", str(bundle), str(corpus), "--output", str(tmp_path / "by-path")])
    assert by_id["exit_code"] == by_path["exit_code"] == 0
    files = sorted(p.relative_to(tmp_path / "by-id") for p in by_id["files"])
    assert files and files == sorted(p.relative_to(tmp_path / "by-path") for p in by_path["files"])
    for name in files:
        assert (tmp_path / "by-id" / name).read_text() == (tmp_path / "by-path" / name).read_text()
    capsys.readouterr()
    # not in the cache, no download allowed: the flag that allows it, and no word of HF_HUB_OFFLINE
    assert zoo_run(["predict", "affect/missing", str(corpus)])["exit_code"] == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--allow-download" in err and "HF_HUB_OFFLINE" not in err
    # downloads allowed but forbidden by HF_HUB_OFFLINE: says so (and reaches no network)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)
    assert zoo_run(["predict", "affect/missing", str(corpus), "--allow-download"])["exit_code"] == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "HF_HUB_OFFLINE=1 is set, which forbids downloads" in err


def test_export_of_a_run_folder_and_an_upload_that_fails(trained_muse_run, tmp_path, monkeypatch, capsys):
    """``zoo export RUN`` exports the checkpoint the run scored; an upload without network is one
    line, exit 2, and the bundle stays on disk."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)
    out = zoo_run(["export", str(trained_muse_run), str(tmp_path / "b"), "--push-to-hub", REPO_ID])
    assert out["exit_code"] == 2
    captured = capsys.readouterr()
    assert f"exporting {trained_muse_run / 'checkpoints' / 'best.ckpt'}" in captured.out
    err = captured.err.strip()
    assert len(err.splitlines()) == 1, err
    assert f"upload to https://huggingface.co/{REPO_ID} failed (HF_HUB_OFFLINE=1 is set" in err
    assert f"the bundle is on disk at {tmp_path / 'b'}" in err
    ckpt = zoo_run(["export", str(trained_muse_run / "checkpoints" / "best.ckpt"), str(tmp_path / "c")])
    assert (tmp_path / "b" / "model.safetensors").read_bytes() == (
        Path(ckpt["run_dir"]) / "model.safetensors"
    ).read_bytes()
    load_bundle(tmp_path / "b")
    assert zoo_run(["export", str(tmp_path), str(tmp_path / "d")])["exit_code"] == 2
    assert "not a run folder with checkpoints/best.ckpt" in capsys.readouterr().err
