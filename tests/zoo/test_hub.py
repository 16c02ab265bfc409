"""Bundles as Hugging Face model repositories: card metadata, cache resolution, push (no network)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from zoo.hub.bundle import push_to_hub
from zoo.hub.huggingface import HubError, card_metadata, card_with_metadata, is_repo_id, resolve_pretrained

CONFIG = {
    "architecture": "sun2020_lstm_selfattn",
    "corpus": "muse_car",
    "corpus_root": None,
    "target_names": ["arousal", "valence"],
}
RESULTS = {
    "val/ccc_arousal": 0.61,
    "val/ccc_valence": 0.42,
    "val/ccc_mean": 0.515,
    "test/ccc_arousal": 0.55,
    "test/ccc_mean_std": 0.01,
    "epoch": 7,
}


def _front_matter(text: str) -> dict:
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n")[1])


def test_card_front_matter_has_library_tags_datasets_and_model_index():
    text = card_with_metadata("# card body\n", CONFIG, RESULTS)
    meta = _front_matter(text)
    assert meta["library_name"] == "affect-zoo" and meta["datasets"] == ["muse_car"]
    assert {"affect-zoo", "sun2020_lstm_selfattn", "muse_car", "target:arousal"} <= set(meta["tags"])
    (index,) = meta["model-index"]
    found = {(r["dataset"]["split"], m["type"], m["name"]): m["value"] for r in index["results"] for m in r["metrics"]}
    assert found == {
        ("validation", "ccc", "CCC arousal (validation)"): 0.61,
        ("validation", "ccc", "CCC valence (validation)"): 0.42,
        ("validation", "ccc", "CCC mean (validation)"): 0.515,
        ("test", "ccc", "CCC arousal (test)"): 0.55,
    }
    assert all("synthetic" in r["dataset"]["name"] for r in index["results"])
    assert text.endswith("# card body\n")


def test_card_without_results_has_no_model_index():
    assert "model-index" not in _front_matter(card_with_metadata("x", CONFIG, None))
    assert (
        card_metadata({**CONFIG, "corpus_root": "/data/muse"}, {"val/ccc_mean": 0.3}).eval_results[0].dataset_name
        == "muse_car"
    )


def _fake_cache(cache: Path, repo: str, files: dict[str, str]) -> Path:
    """The Hugging Face cache layout: models--org--name/{refs/main, snapshots/<commit>/...}."""
    commit = "0123456789abcdef0123456789abcdef01234567"
    base = cache / f"models--{repo.replace('/', '--')}"
    (base / "refs").mkdir(parents=True)
    (base / "refs" / "main").write_text(commit)
    snapshot = base / "snapshots" / commit
    snapshot.mkdir(parents=True)
    for name, text in files.items():
        (snapshot / name).write_text(text)
    return snapshot


def test_repo_id_resolves_from_the_cache_without_network(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    snapshot = _fake_cache(tmp_path / "hub", "affect/sun2020-muse", {"config.json": "{}", "README.md": "x"})
    assert resolve_pretrained("affect/sun2020-muse", cache_dir=tmp_path / "hub") == snapshot
    with pytest.raises(HubError, match="not in the Hugging Face cache.*allow_download"):
        resolve_pretrained("affect/other", cache_dir=tmp_path / "hub")


def test_local_paths_are_not_repo_ids(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "org" / "name").mkdir(parents=True)
    assert not is_repo_id("org/name") and is_repo_id("org/other") and not is_repo_id("a/b/c")
    assert resolve_pretrained("org/name") == Path("org/name")


class _FakeApi:
    def __init__(self):
        self.calls = []

    def create_repo(self, **kwargs):
        self.calls.append(("create_repo", kwargs))

    def upload_folder(self, **kwargs):
        self.calls.append(("upload_folder", kwargs))
        return type("Commit", (), {"commit_url": f"https://hub.example/{kwargs['repo_id']}/commit/1"})()


def test_push_uploads_a_verified_bundle_only(trained_muse_run, tmp_path):
    from zoo.hub.bundle import export_bundle

    bundle = export_bundle(trained_muse_run / "checkpoints" / "best.ckpt", tmp_path / "bundle")
    api = _FakeApi()
    url = push_to_hub(bundle, "affect/sun2020-muse", private=True, api=api)
    assert url == "https://hub.example/affect/sun2020-muse/commit/1"
    (create, create_args), (upload, upload_args) = api.calls
    assert create == "create_repo" and create_args["private"] is True and create_args["exist_ok"] is True
    assert upload == "upload_folder" and Path(upload_args["folder_path"]) == bundle
    assert "model.safetensors" in upload_args["allow_patterns"] and "*.ckpt" not in upload_args["allow_patterns"]
    config = json.loads((bundle / "config.json").read_text())
    config["target_names"] = config["target_names"][::-1]
    (bundle / "config.json").write_text(json.dumps(config))
    api = _FakeApi()
    with pytest.raises(HubError, match="not pushed"):
        push_to_hub(bundle, "affect/sun2020-muse", api=api)
    assert api.calls == []
    with pytest.raises(HubError, match="org/name"):
        push_to_hub(bundle, "not a repo", api=api)
