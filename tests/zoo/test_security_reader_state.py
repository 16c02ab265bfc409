"""A checkpoint's ``data_spec.reader_state`` restores reading options the model needs (SEWA's
vocabulary) but never a location or a value the user gave (issue 12): ``zoo test ...
data.args.root=A ckpt=X`` must not silently read the corpus named inside X."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from zoo.cli import run
from zoo.data import create_datamodule
from zoo.hub.checkpoint_io import CheckpointError, merge_reader_state

pytestmark = pytest.mark.slow

RECIPE = "muse_car/sun2020_lstm_selfattn"
QUICK = ["model.args.hidden_size=32", "trainer.enable_progress_bar=false", "logger=csv"]


def _refused(args: list[str], capsys: pytest.CaptureFixture, pattern: str) -> None:
    """``zoo ARGS`` stops with an error matching ``pattern`` (raised, or printed with exit code 2)."""
    capsys.readouterr()
    try:
        out = run(args)
    except (CheckpointError, FileNotFoundError) as err:
        assert re.search(pattern, str(err), re.S), str(err)
        return
    err = capsys.readouterr().err
    assert out["exit_code"] == 2 and re.search(pattern, err, re.S), err


def _with_reader_state(trained_muse_run: Path, tmp_path: Path, reader_state: dict) -> Path:
    """A copy of the trained checkpoint whose data_spec carries ``reader_state``."""
    checkpoint = torch.load(trained_muse_run / "checkpoints" / "best.ckpt", map_location="cpu", weights_only=True)
    checkpoint["hyper_parameters"]["data_spec"]["reader_state"] = reader_state
    path = tmp_path / "crafted.ckpt"
    torch.save(checkpoint, path)
    return path


def test_checkpoint_cannot_redirect_the_corpus_root(trained_muse_run: Path, tmp_path: Path, capsys):
    features = list(
        torch.load(trained_muse_run / "checkpoints" / "best.ckpt", map_location="cpu", weights_only=True)[
            "hyper_parameters"
        ]["data_spec"]["feature_names"]
    )
    corpus_a = create_datamodule("muse_car", features=features)._resolved_root()
    ckpt = _with_reader_state(trained_muse_run, tmp_path, {"root": str(tmp_path / "corpus_b")})
    _refused(
        ["test", RECIPE, f"ckpt={ckpt}", f"data.args.root={corpus_a}", f"output_dir={tmp_path / 'runs'}", *QUICK],
        capsys,
        r"reader_state sets 'root' = '.*corpus_b'.*never where data is read",
    )
    # also without data.args.root: a checkpoint never chooses the data
    _refused(
        ["validate", RECIPE, f"ckpt={ckpt}", f"output_dir={tmp_path / 'runs'}", *QUICK],
        capsys,
        "reader_state sets 'root'",
    )


def test_conflict_with_a_user_value_names_both(trained_muse_run: Path, tmp_path: Path, capsys):
    ckpt = _with_reader_state(trained_muse_run, tmp_path, {"win_len": 7})
    _refused(
        ["validate", RECIPE, f"ckpt={ckpt}", "data.args.win_len=20", f"output_dir={tmp_path / 'runs'}", *QUICK],
        capsys,
        r"reader_state sets 'win_len' = 7, but data.args.win_len = 20 was given",
    )


def test_merge_reader_state_rules():
    assert merge_reader_state({"root": "/a", "vocabulary": None}, {"vocabulary": ["ja", "nein"]}, "x.ckpt") == {
        "root": "/a",
        "vocabulary": ["ja", "nein"],
    }
    assert merge_reader_state({"vocabulary": ["ja"]}, {"vocabulary": ["ja"]}, "x") == {"vocabulary": ["ja"]}
    assert merge_reader_state({"a": 1}, None, "x") == {"a": 1}
    for key in ("root", "cache_dir", "embedding_file", "weights_path", "seed", "features", "normalization_stats"):
        with pytest.raises(CheckpointError, match=f"x.ckpt: data_spec.reader_state sets '{key}'"):
            merge_reader_state({}, {key: "/elsewhere"}, "x.ckpt")
    with pytest.raises(CheckpointError, match=r"'vocabulary' = \['b'\], but data.args.vocabulary = \['a'\]"):
        merge_reader_state({"vocabulary": ["a"]}, {"vocabulary": ["b"]}, "x")
    with pytest.raises(CheckpointError, match="must be a mapping"):
        merge_reader_state({}, ["root"], "x")
