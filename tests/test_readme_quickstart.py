"""The README's quick start, run as the README writes it.

* Command 1 (read from the README) trains Sun et al. 2020 on the synthetic MuSe-CaR and reaches at
  least the test CCC the README promises (read from the README too), so that the two cannot drift
  apart.
* The command the README gives straight after it predicts a WAV and an MP4 that this test
  synthesises (a voice-like tone and a drawn face, from no corpus), writing a CSV and a PNG each.
* The same for a ``muse_car/ssl_audio`` bundle, with the two commands of "Your own audio or video"
  (the fit with a few size/time overrides added, as in the recipe tables).

The commands run in a scratch folder that links the repository's ``recipes/`` (and, where the tests
run in the repository's own ``.venv``, ``scripts/``, ``pyproject.toml`` and ``.venv``, so that
``bash scripts/bootstrap.sh && .venv/bin/zoo ...`` runs verbatim; elsewhere the ``zoo`` part runs with
this interpreter), so nothing is written into the repository.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
SR = 16000


def _line(prefix: str) -> str:
    lines = [line.strip() for line in README.splitlines() if line.strip().startswith(prefix)]
    assert len(lines) == 1, f"README: expected one line starting with {prefix!r}, found {lines}"
    return lines[0].split("  #")[0].strip()  # without a trailing comment


def _in_own_venv() -> bool:
    venv = ROOT / ".venv"
    return (venv / "bin" / "zoo").is_file() and Path(sys.prefix).resolve() == venv.resolve()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A scratch folder that looks like the clone's root for the README's commands."""
    folder = tmp_path_factory.mktemp("clone")
    links = ["recipes"] + (["scripts", "pyproject.toml", ".venv"] if _in_own_venv() else [])
    for name in links:
        (folder / name).symlink_to(ROOT / name)
    return folder


def _run(command: str, cwd: Path) -> str:
    """Run a README command in ``cwd``: verbatim with bash in the repository's own ``.venv``, else
    its ``zoo`` part with this interpreter. Returns stdout + stderr; fails with them on error."""
    env = {**os.environ, "WANDB_MODE": "offline"}
    if _in_own_venv():  # the README's `zoo ...` lines assume the .venv on the PATH
        argv = ["bash", "-c", f".venv/bin/{command}" if command.startswith("zoo ") else command]
    else:
        zoo = command.split("&&")[-1].strip()
        words = shlex.split(zoo)
        assert words[0].endswith("zoo"), command
        argv = [sys.executable, "-c", "import sys; from zoo.cli import main; sys.exit(main())", *words[1:]]
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=1500)
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{command!r} exited {done.returncode}:\n{output[-4000:]}"
    return output


def _run_folder(output: str) -> Path:
    found = re.findall(r"^run folder: (.+)$", output, flags=re.M)
    assert found, output[-2000:]
    return Path(found[-1].strip())


# --------------------------------------------------------------------------- synthesised media
def _voice(seconds: float, seed: int) -> np.ndarray:
    """A gliding harmonic tone with a syllable rhythm and pauses (no corpus behind it)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(round(seconds * SR))) / SR
    f0 = 160 + 50 * np.sin(2 * np.pi * 0.15 * t)
    phase = 2 * np.pi * np.cumsum(f0) / SR
    tone = sum(np.sin(k * phase) / k for k in range(1, 9))
    envelope = (0.6 + 0.4 * np.sin(2 * np.pi * 3.5 * t)) * (np.sin(2 * np.pi * 0.2 * t) > -0.8)
    return (0.15 * envelope * tone + 0.003 * rng.standard_normal(len(t))).astype(np.float32)


def _write_media(folder: Path) -> dict[str, float]:
    """``talk.wav`` (9 s) and ``clip.mp4`` (6 s of a drawn face with a voice, AAC) with
    ``clip.boxes.csv``; returns each file's length in seconds."""
    import av
    import soundfile as sf
    from PIL import Image, ImageDraw

    folder.mkdir()
    sf.write(folder / "talk.wav", _voice(9.0, 1), SR)
    fps, size, seconds = 25, 96, 6.0
    boxes = ["frame,x,y,w,h"]
    with av.open(str(folder / "clip.mp4"), "w") as container:
        video = container.add_stream("mpeg4", rate=Fraction(fps))
        video.width = video.height = size
        video.pix_fmt = "yuv420p"
        audio = container.add_stream("aac", rate=SR)
        for i in range(int(seconds * fps)):
            x = int(30 + 8 * np.sin(i / 15))
            image = Image.new("RGB", (size, size), (50, 55, 60))
            draw = ImageDraw.Draw(image)
            draw.ellipse((x, 18, x + 36, 66), fill=(205, 170, 150))  # head
            draw.arc((x + 8, 40, x + 28, 58), 20, 160, fill=(120, 20, 30), width=3)  # smile
            boxes.append(f"{i},{x - 4},14,44,56")
            container.mux(video.encode(av.VideoFrame.from_image(image)))
        container.mux(video.encode(None))
        signal = _voice(seconds, 2)
        for start in range(0, len(signal), 1024):
            frame = av.AudioFrame.from_ndarray(signal[None, start : start + 1024], format="fltp", layout="mono")
            frame.sample_rate = SR
            container.mux(audio.encode(frame))
        container.mux(audio.encode(None))
    (folder / "clip.boxes.csv").write_text("\n".join(boxes) + "\n")
    return {"talk": 9.0, "clip": seconds}


def _check_predictions(output: str, lengths: dict[str, float], targets: list[str], cwd: Path) -> None:
    found = re.findall(r"prediction files written to (\S+)", output)
    assert found, output[-2000:]
    folder = cwd / found[-1]  # relative to where the command ran
    for name, seconds in lengths.items():
        table = pd.read_csv(folder / f"{name}.csv")
        assert list(table.columns) == ["timestamp", *targets]
        assert np.all(np.diff(table["timestamp"]) == 250) and table["timestamp"].iloc[0] == 0  # ms, 250 ms
        assert seconds - 0.25 <= table["timestamp"].iloc[-1] / 1000 <= seconds + 0.3  # AAC pads a little
        assert np.isfinite(table[targets].to_numpy()).all() and table[targets].to_numpy().std(0).min() > 0
        png = folder / "plots" / f"{name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# --------------------------------------------------------------------------- the tests
@pytest.mark.slow
def test_quick_start_command_1_reaches_the_promised_ccc_then_predicts_a_wav_and_an_mp4(workdir: Path):
    command = _line("bash scripts/bootstrap.sh && .venv/bin/zoo fit")
    assert "recipes/muse_car/sun2020_lstm_selfattn.yaml" in command
    # only the epoch budget may be added to the paper's recipe
    assert re.sub(r" trainer\.max_epochs=\d+$", "", command).endswith("sun2020_lstm_selfattn.yaml"), command
    promised = re.search(r"test CCC of arousal is \*\*at least ([0-9.]+)\*\*", README)
    assert promised, "README: the figure command 1 promises is not stated"
    output = _run(command, workdir)
    run = workdir / _run_folder(output) if not _run_folder(output).is_absolute() else _run_folder(output)
    results = json.loads((run / "results.json").read_text())
    print(f"README command 1: {results}")  # shown by pytest -rP
    assert results["test/ccc_arousal"] >= float(promised.group(1)), results
    assert re.search(r"^ccc\s+[0-9.]+", output, flags=re.M)  # the printed table

    predict = _line(".venv/bin/zoo predict runs/<run>/")
    lengths = _write_media(workdir / "my_media")
    assert "my_media/" in predict
    output = _run(predict.replace("<run>", run.name), workdir)
    assert "has no video stream" in output  # the WAV: no face seen
    _check_predictions(output, lengths, ["arousal"], workdir)


@pytest.mark.slow
def test_ssl_audio_bundle_predicts_a_wav_and_an_mp4_as_the_readme_says(workdir: Path):
    fit = _line("zoo fit muse_car/ssl_audio export_bundle=true")
    predict = _line("zoo predict runs/<run>/bundle my_media/")
    small = "trainer.max_epochs=1 trainer.limit_train_batches=2 data.args.win_len=16 data.args.hop_len=16"
    output = _run(f"{fit} {small}", workdir)
    run = _run_folder(output)
    run = run if run.is_absolute() else workdir / run
    assert (run / "bundle" / "config.json").is_file()
    config = json.loads((run / "bundle" / "config.json").read_text())
    assert config["feature_extractors"]["audio"]["extractor"] == "waveform"
    media = workdir / "my_media"
    lengths = _write_media(media) if not media.exists() else {"talk": 9.0, "clip": 6.0}
    output = _run(predict.replace("<run>", run.name), workdir)
    _check_predictions(output, lengths, ["arousal", "valence"], workdir)
