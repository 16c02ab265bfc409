"""Tampered and hostile bundles (issue 12): every file is pinned by manifest.json; every config
field is validated with a message naming it; old bundles without a manifest are refused with the
way to re-export; ``zoo export --overwrite`` never writes through a symbolic link."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import zoo
from zoo.cli import run
from zoo.hub.bundle import BundleError, export_bundle

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def bundle(trained_muse_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_bundle(trained_muse_run / "checkpoints" / "best.ckpt", tmp_path_factory.mktemp("b") / "bundle")


def _copy(bundle: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(bundle, tmp_path / "copy"))


def _reseal(folder: Path) -> None:
    """manifest.json recomputed for the files present (what a forger who knows the format does)."""
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"] = {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != "manifest.json"
    }
    (folder / "manifest.json").write_text(json.dumps(manifest))


def _edited(bundle: Path, tmp_path: Path, edit: Callable[[dict[str, Any]], None]) -> Path:
    copy = _copy(bundle, tmp_path)
    config = json.loads((copy / "config.json").read_text())
    edit(config)
    (copy / "config.json").write_text(json.dumps(config))
    return copy


def _reverse_targets(c):
    c["target_names"] = c["target_names"][::-1]


def _no_normalization(c):
    c["normalization"] = None


def _shift(c):
    c["label_shift"] = c["label_shift"] + 2.0


def _std_zero(c):
    name = next(iter(c["normalization"]))
    c["normalization"][name]["std"][0] = 0.0


def _wider_model(c):
    c["model_args"]["num_heads"] = 2


@pytest.mark.parametrize("edit", [_reverse_targets, _no_normalization, _shift, _std_zero, _wider_model])
def test_any_config_change_is_refused(bundle: Path, tmp_path: Path, edit):
    copy = _edited(bundle, tmp_path, edit)
    with pytest.raises(BundleError, match=r"config.json: sha256 differs from the one in manifest.json.*zoo export"):
        zoo.load_pretrained(copy)


def test_added_or_changed_files_are_refused(bundle: Path, tmp_path: Path):
    copy = _copy(bundle, tmp_path)
    (copy / "notes.txt").write_text("hello")
    with pytest.raises(BundleError, match="holds notes.txt, which manifest.json does not list"):
        zoo.load_pretrained(copy)
    (copy / "notes.txt").unlink()
    (copy / "recipe.yaml").write_text((copy / "recipe.yaml").read_text() + "\nextra: 1\n")
    with pytest.raises(BundleError, match="recipe.yaml: sha256 differs"):
        zoo.load_pretrained(copy)
    (copy / "README.md").unlink()
    with pytest.raises(BundleError, match="missing file README.md"):
        zoo.load_pretrained(copy)


def test_bundle_without_manifest_says_how_to_reexport(bundle: Path, tmp_path: Path):
    copy = _copy(bundle, tmp_path)
    (copy / "manifest.json").unlink()
    with pytest.raises(BundleError, match=r"no manifest.json.*older affect-zoo.*zoo export .*--overwrite"):
        zoo.load_pretrained(copy)
    copy2 = _edited(bundle, tmp_path / "v1", lambda c: c.update(format_version=1))
    _reseal(copy2)
    with pytest.raises(BundleError, match=r"format version 1 is older.*zoo export"):
        zoo.load_pretrained(copy2)


def _set_std(value):
    def edit(c):
        name = next(iter(c["normalization"]))
        c["normalization"][name]["std"][3] = value

    return edit


def _short_mean(c):
    name = next(iter(c["normalization"]))
    c["normalization"][name]["mean"] = c["normalization"][name]["mean"][:-1]


@pytest.mark.parametrize(
    "edit, message",
    [
        (_set_std(0.0), r"field 'normalization\.\w+\.std\[3\]': expected finite numbers > 0, got 0\.0"),
        (_set_std(-1.0), r"field 'normalization\.\w+\.std\[3\]': expected finite numbers > 0"),
        (_set_std(float("inf")), r"field 'normalization\.\w+\.std\[3\]': expected finite numbers > 0"),
        (_short_mean, r"field 'normalization\.\w+\.mean': expected a list of \d+ numbers \(feature_dims\.\w+\)"),
        (
            lambda c: c.update(target_names=["arousal", "arousal"]),
            "field 'target_names': expected a non-empty list of distinct",
        ),
        (lambda c: c.update(target_names=[]), "field 'target_names'"),
        (lambda c: c.update(label_step=0), "field 'label_step': expected a finite number of seconds > 0"),
        (lambda c: c.update(label_shift="2"), "field 'label_shift': expected a finite number"),
        (lambda c: c["feature_dims"].update(extra=3), r"field 'feature_dims': expected one entry per feature set"),
        (
            lambda c: c["feature_dims"].update({c["feature_names"][0]: -4}),
            r"field 'feature_dims\.\w+': expected a positive integer",
        ),
        (lambda c: c.update(feature_delay={"nope": 1.0}), r"field 'feature_delay\.nope'"),
        (lambda c: c.update(normalization={"nope": {"mean": [0.0], "std": [1.0]}}), r"field 'normalization\.nope'"),
        (
            lambda c: c["normalization"][next(iter(c["normalization"]))].update(padding_blocks=-1),
            r"field 'normalization\.\w+\.padding_blocks': expected 0 or a whole divisor",
        ),
        (lambda c: c.update(architecture="nobody2099_net"), "unknown architecture 'nobody2099_net'"),
        (lambda c: c.update(datamodule="nobody_corpus"), "field 'datamodule': expected a registered corpus"),
        (lambda c: c.update(reader_state={"root": "/elsewhere"}), "reader_state sets 'root'"),
        (
            lambda c: c.update(postprocess={"label_step": 0.25, "targets": {"liking": {}}}),
            r"field 'postprocess\.targets'",
        ),
    ],
)
def test_every_field_is_validated_even_when_resealed(bundle: Path, tmp_path: Path, edit, message: str):
    copy = _edited(bundle, tmp_path, edit)
    _reseal(copy)
    with pytest.raises(BundleError, match=message):
        zoo.load_pretrained(copy)


def test_zero_padding_statistics_load_from_a_bundle(bundle: Path, tmp_path: Path):
    """Statistics of a set padded in normalised space (Chen et al. recipes) keep their padding rule."""
    copy = _edited(
        bundle, tmp_path, lambda c: c["normalization"][next(iter(c["normalization"]))].update(padding_blocks=1)
    )
    _reseal(copy)
    model = zoo.load_pretrained(copy)
    assert list(model.normalizer.padding_blocks.values()) == [1]


def test_symbolic_links_inside_a_bundle_are_refused(bundle: Path, tmp_path: Path):
    copy = _copy(bundle, tmp_path)
    outside = tmp_path / "outside.yaml"
    shutil.move(copy / "recipe.yaml", outside)
    os.symlink(outside, copy / "recipe.yaml")
    with pytest.raises(BundleError, match="recipe.yaml is a symbolic link"):
        zoo.load_pretrained(copy)


def test_export_overwrite_never_writes_through_links(
    trained_muse_run: Path, bundle: Path, tmp_path: Path, capsys: pytest.CaptureFixture
):
    ckpt = trained_muse_run / "checkpoints" / "best.ckpt"
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    # a link inside an earlier bundle: the old export wrote the model card through it
    target = _copy(bundle, tmp_path)
    (target / "README.md").unlink()
    os.symlink(victim, target / "README.md")
    assert run(["export", str(ckpt), str(target), "--overwrite"])["exit_code"] == 2
    assert "symbolic link README.md" in capsys.readouterr().err
    assert victim.read_text() == "precious"
    # the output folder itself a link to someone else's folder
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "config.json").write_text("{}")
    os.symlink(elsewhere, tmp_path / "linked")
    assert run(["export", str(ckpt), str(tmp_path / "linked"), "--overwrite"])["exit_code"] == 2
    assert "is a symbolic link" in capsys.readouterr().err
    assert sorted(p.name for p in elsewhere.iterdir()) == ["config.json"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary folder left
