"""Speed of every ``zoo extract`` extractor, in seconds per minute of media, on this machine.

Usage::

    python benchmarks/extract_speed.py                 # 60 s of audio / video / words
    python benchmarks/extract_speed.py --tiny          # 2 s, tiny models (a smoke test, CI)
    python benchmarks/extract_speed.py --only egemaps vggish --out results.json
    python benchmarks/extract_speed.py --only timm_face --seconds 10   # shorter media, scaled to 1 min

Media are synthesised (speech-like AM/FM audio at 16 kHz, a 25 fps video of 112×112 face crops,
a word-timestamp transcript at 2.5 words/s). Networks use random weights saved to a temporary
file (speed does not depend on the values): VGGish, timm ``resnet50`` at 224×224 (``resnet18``
at 64×64 in ``--tiny``), BERT-base sized (12 layers, 768 wide; 2 layers, 32 wide in ``--tiny``),
300-d word vectors. Each extractor is timed end to end on one recording (reading + features +
alignment to a 0.25 s label step, not writing), after one warm-up call on a short input.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

SR = 16000
FPS = 25


def _speech(seconds: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    f0 = 140 + 40 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / SR
    env = np.clip(np.sin(2 * np.pi * 2.3 * t), 0, None)
    return (0.3 * env * sum(np.sin(k * phase) / k for k in range(1, 6)) + 0.01 * rng.standard_normal(len(t))).astype(
        np.float32
    )


def _media(folder: Path, seconds: float, tiny: bool) -> dict[str, Path]:
    """Write the audio, a crop folder, and a transcript of ``seconds``; return their paths."""
    import soundfile as sf
    from PIL import Image

    paths = {"audio": folder / "rec.wav", "warm_audio": folder / "warm.wav"}
    sf.write(paths["audio"], _speech(seconds), SR)
    sf.write(paths["warm_audio"], _speech(1.5, 1), SR)
    crops = folder / "crops"
    crops.mkdir()
    size = 112
    yy, xx = np.mgrid[:size, :size]
    for i in range(int(seconds * FPS)):
        img = np.stack([(xx + 3 * i) % 256, (yy * 2 + i) % 256, (xx + yy) % 256], -1).astype(np.uint8)
        Image.fromarray(img).save(crops / f"{i:06d}.png")
    paths["video"] = crops
    warm = folder / "warm_crops"
    warm.mkdir()
    Image.fromarray(np.zeros((size, size, 3), np.uint8)).save(warm / "000000.png")
    paths["warm_video"] = warm
    words = ["the", "car", "is", "fast", "and", "red", "it", "drives", "very", "well"]
    rows = [f"{i * 0.4:.2f},{i * 0.4 + 0.35:.2f},{words[i % len(words)]}" for i in range(int(seconds / 0.4))]
    paths["text"] = folder / "words.csv"
    paths["text"].write_text("start,end,word\n" + "\n".join(rows) + "\n")
    paths["warm_text"] = folder / "warm_words.csv"
    paths["warm_text"].write_text("start,end,word\n0,0.3,car\n")
    return paths


def _weights(folder: Path, tiny: bool) -> dict[str, dict[str, Any]]:
    """Random-init local weights for the network extractors → constructor kwargs per extractor."""
    import timm
    import torch
    from transformers import BertConfig, BertModel, BertTokenizer

    from zoo.features.vggish import VGGish

    torch.manual_seed(0)
    torch.save(VGGish().state_dict(), folder / "vggish.pth")
    arch, image = ("resnet18", 64) if tiny else ("resnet50", 224)
    torch.save(timm.create_model(arch, pretrained=False).state_dict(), folder / "timm.pth")
    words = [
        "[PAD]",
        "[UNK]",
        "[CLS]",
        "[SEP]",
        "[MASK]",
        "the",
        "car",
        "is",
        "fast",
        "and",
        "red",
        "it",
        "drive",
        "##s",
        "very",
        "well",
    ]
    (folder / "vocab.txt").write_text("\n".join(words) + "\n")
    width, layers = (32, 4) if tiny else (768, 12)
    config = BertConfig(
        vocab_size=len(words),
        hidden_size=width,
        num_hidden_layers=layers,
        num_attention_heads=4 if tiny else 12,
        intermediate_size=4 * width,
    )
    BertModel(config).save_pretrained(folder / "bert")
    BertTokenizer(vocab_file=str(folder / "vocab.txt")).save_pretrained(folder / "bert")
    rng = np.random.default_rng(0)
    (folder / "glove.txt").write_text(
        "".join(w + " " + " ".join(f"{v:.4f}" for v in rng.normal(size=300)) + "\n" for w in words[5:])
    )
    return {
        "vggish": {"weights": folder / "vggish.pth"},
        "timm_face": {"weights": folder / "timm.pth", "arch": arch, "image_size": image, "fps": FPS},
        "bert": {"weights": folder / "bert"},
        "bert2": {"weights": folder / "bert"},
        "bert4": {"weights": folder / "bert"},
        "word_vectors": {"weights": folder / "glove.txt"},
    }


def run_benchmarks(
    tiny: bool = False,
    only: Sequence[str] | None = None,
    log: Callable[[str], None] = print,
    seconds: float | None = None,
) -> list[dict[str, Any]]:
    """Time each extractor; returns rows ``{extractor, modality, media_s, seconds, s_per_min, dim}``.

    Args:
        tiny: 2 s of media and tiny models.
        only: extractor names (default: all registered).
        log: progress printer.
        seconds: media length (default 60, or 2 with ``tiny``); timings are scaled to a minute.
    """
    import torch

    from zoo.features import create_extractor, extractor_class, label_times, list_extractors

    seconds = float(seconds or (2.0 if tiny else 60.0))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        media = _media(folder, seconds, tiny)
        kwargs = _weights(folder, tiny)
        for name in only or list_extractors():
            cls = extractor_class(name)
            if cls.modality not in ("audio", "visual", "text"):
                continue
            key = {"audio": "audio", "visual": "video", "text": "text"}[cls.modality]
            ex = create_extractor(name, hop=0.25, **kwargs.get(name, {}))
            warm = media["warm_" + key]
            ex.extract(warm, label_times(ex.duration(warm), 0.25))
            start = time.perf_counter()
            out = ex.extract(media[key], label_times(ex.duration(media[key]), 0.25))
            elapsed = time.perf_counter() - start
            rows.append(
                {
                    "extractor": name,
                    "modality": cls.modality,
                    "media_s": seconds,
                    "seconds": round(elapsed, 3),
                    "s_per_min": round(elapsed * 60 / seconds, 3),
                    "dim": int(out.values.shape[1]),
                    "threads": torch.get_num_threads(),
                }
            )
            log(f"{name:<14} {rows[-1]['s_per_min']:>9.2f} s per minute  (dim {rows[-1]['dim']})")
    return rows


def machine() -> str:
    """CPU model, core count and Python/torch versions."""
    import torch

    cpu = platform.processor() or "cpu"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), Python {platform.python_version()}"
    )


def markdown(rows: list[dict[str, Any]]) -> str:
    """The results as a Markdown table."""
    lines = ["| extractor | modality | dim | s per minute of media |", "|---|---|---|---|"]
    lines += [f"| {r['extractor']} | {r['modality']} | {r['dim']} | {r['s_per_min']:.2f} |" for r in rows]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tiny", action="store_true", help="2 s of media and tiny models")
    parser.add_argument("--only", nargs="+", default=None, help="extractor names")
    parser.add_argument("--seconds", type=float, default=None, help="media length (default 60; --tiny 2)")
    parser.add_argument("--out", default=None, help="write the rows as JSON here")
    args = parser.parse_args(argv)
    rows = run_benchmarks(tiny=args.tiny, only=args.only, seconds=args.seconds)
    print(f"\nmachine: {machine()}\n\n{markdown(rows)}")
    if args.out:
        Path(args.out).write_text(json.dumps({"machine": machine(), "tiny": args.tiny, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
