"""Hostile checkpoints (issue 12): a checkpoint carrying a pickle payload — an object whose
unpickling creates a marker file — must be refused by every command that loads checkpoints,
before anything runs; remote checkpoints (which Lightning unpickles with ``weights_only=False``)
are refused outright; an honest checkpoint still resumes."""

from __future__ import annotations

import functools
import http.server
import re
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

import zoo
from zoo.cli import run
from zoo.hub.checkpoint_io import CheckpointError

pytestmark = pytest.mark.slow

RECIPE = "muse_car/sun2020_lstm_selfattn"
SMALL = ["trainer.max_epochs=1", "model.args.hidden_size=32", "trainer.enable_progress_bar=false", "logger=csv"]


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


class _Payload:
    """Unpickling this creates ``marker``: proof that code from the file ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.fixture()
def evil(tmp_path: Path) -> tuple[Path, Path]:
    """``(checkpoint, marker)``: a checkpoint shaped like affect-zoo's, plus a payload."""
    marker = tmp_path / "payload-ran"
    path = tmp_path / "served" / "evil.ckpt"
    path.parent.mkdir()
    torch.save(
        {
            "state_dict": {},
            "hyper_parameters": {"model": "sun2020_lstm_selfattn", "data_spec": {}},
            "affect_zoo": {"version": 1},
            "callbacks": {"x": _Payload(marker)},
        },
        path,
    )
    return path, marker


@pytest.fixture()
def served(evil: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The evil checkpoint served over HTTP from this machine; its URL."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))  # where torch.hub would download
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(evil[0].parent))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/{evil[0].name}"
    finally:
        server.shutdown()
        server.server_close()


def test_fit_resume_from_a_url_is_refused_before_download(served: str, evil, tmp_path: Path, capsys):
    _, marker = evil
    _refused(
        ["fit", RECIPE, f"ckpt={served}", f"output_dir={tmp_path / 'runs'}", *SMALL],
        capsys,
        "only local checkpoint files are loaded",
    )
    assert not marker.exists()
    assert not (tmp_path / "torch-home").exists()  # nothing was downloaded


def test_fit_resume_reads_weights_only_even_when_torch_is_told_otherwise(
    evil, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
):
    # TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD turns off weights_only wherever the caller leaves it unset
    # (as Lightning's resume did): the resume path must set it explicitly.
    path, marker = evil
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    _refused(["fit", RECIPE, f"ckpt={path}", f"output_dir={tmp_path / 'runs'}", *SMALL], capsys, "refused to load")
    assert not marker.exists()


@pytest.mark.parametrize("command", ["validate", "test", "predict"])
def test_eval_commands_refuse_payloads_and_urls(command: str, evil, served: str, tmp_path: Path, capsys):
    path, marker = evil
    _refused(
        [command, RECIPE, f"ckpt={path}", f"output_dir={tmp_path / 'runs'}", *SMALL],
        capsys,
        "refused to load.*weights_only",
    )
    _refused(
        [command, RECIPE, f"ckpt={served}", f"output_dir={tmp_path / 'runs'}", *SMALL],
        capsys,
        "only local checkpoint files are loaded",
    )
    assert not marker.exists()


def test_load_pretrained_refuses_payloads_and_urls(evil, served: str):
    path, marker = evil
    with pytest.raises(CheckpointError, match="refused to load"):
        zoo.load_pretrained(path)
    with pytest.raises(CheckpointError, match="only local checkpoint files are loaded"):
        zoo.load_pretrained(served)
    for url in ("https://example.org/x.ckpt", "s3://bucket/x.ckpt", "file:///tmp/x.ckpt"):
        with pytest.raises(CheckpointError, match="only local"):
            zoo.load_pretrained(url)
    assert not marker.exists()


def test_export_and_predict_refuse_payloads(evil, tmp_path: Path, capsys: pytest.CaptureFixture):
    path, marker = evil
    assert run(["export", str(path), str(tmp_path / "bundle")])["exit_code"] == 2
    assert "refused to load" in capsys.readouterr().err
    assert not (tmp_path / "bundle").exists()
    (tmp_path / "input").mkdir()
    assert run(["predict", str(path), str(tmp_path / "input"), "--output", str(tmp_path / "out")])["exit_code"] == 2
    assert "refused to load" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    assert not marker.exists()


def test_honest_checkpoint_resumes_with_weights_only(
    trained_muse_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    run_dir = Path(shutil.copytree(trained_muse_run, tmp_path / "run"))  # resuming writes into the run folder
    last = run_dir / "checkpoints" / "last.ckpt"
    epoch = torch.load(last, map_location="cpu", weights_only=True)["epoch"]
    calls: list[object] = []
    real_load = torch.load

    def spy(*args, **kwargs):
        calls.append(kwargs.get("weights_only"))
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    out = run(
        [
            "fit",
            RECIPE,
            f"ckpt={last}",
            f"output_dir={tmp_path}",
            "model.args.hidden_size=32",
            f"trainer.max_epochs={epoch + 2}",
            "trainer.enable_progress_bar=false",
            "logger=csv",
        ]
    )
    monkeypatch.setattr(torch, "load", real_load)
    assert out["exit_code"] == 0
    assert len(calls) >= 2 and all(flag is True for flag in calls), calls  # ours, then Lightning's
    epochs = [
        torch.load(p, map_location="cpu", weights_only=True)["epoch"]
        for p in (Path(out["run_dir"]) / "checkpoints").glob("last*.ckpt")
    ]
    assert max(epochs) == epoch + 1  # one more epoch ran on top of the checkpoint's
