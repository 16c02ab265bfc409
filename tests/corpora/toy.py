"""A toy corpus for the test suite: the smallest complete reader (see docs/adding_a_corpus.md).

Layout (plain CSV with a header line, times in seconds on the 0.5 s label step from 0)::

    <root>/partitions.csv              name,partition        (partition: train, dev or test)
    <root>/features/<set>/<name>.csv   time,f0,f1,...        (sets: lld, 4 columns; func, 2)
    <root>/labels/<name>.csv           time,arousal,valence  (may be absent: unlabelled)

Feature and label files of a recording have the same rows. Predictions are written as
``<out>/<partition>/<name>.csv`` with ``time,<targets>``. Two command hooks: ``zoo extract
--layout toy`` writes ``features/<set>/<name>.csv`` on the label frames (:class:`ToyExtractLayout`),
and ``zoo predict MODEL FOLDER`` takes each recording's partition from ``partitions.csv``.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from zoo.data.corpus import Corpus
from zoo.data.extract_layout import ExtractLayout
from zoo.data.registry import register_corpus
from zoo.data.sources import note_source
from zoo.data.types import Recording
from zoo.errors import CorpusFormatError

STEP = 0.5
DIMS = {"lld": 4, "func": 2}


def read_table(path: Path, first: str = "time") -> tuple[list[str], np.ndarray]:
    """Header and ``(rows, columns)`` float64 values of one CSV file; the first column is
    ``first`` and holds times on the label step.

    Raises:
        CorpusFormatError: a missing file, bad header, short row, non-numeric cell or off-step
            time, naming the file, line and field.
    """
    path = note_source(path)
    if not path.is_file():
        raise CorpusFormatError(f"{path}: file not found")
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows or not rows[0] or rows[0][0] != first:
        raise CorpusFormatError(f"{path}: line 1: header must start with {first!r}")
    header, values = rows[0], np.zeros((len(rows) - 1, len(rows[0])))
    for i, row in enumerate(rows[1:]):
        if len(row) != len(header):
            raise CorpusFormatError(f"{path}: line {i + 2}: {len(row)} fields, header has {len(header)}")
        for j, cell in enumerate(row):
            try:
                values[i, j] = float(cell)
            except ValueError:
                raise CorpusFormatError(
                    f"{path}: line {i + 2}, field {header[j]!r}: {cell!r} is not a number"
                ) from None
        if abs(values[i, 0] - i * STEP) > 1e-6:
            raise CorpusFormatError(
                f"{path}: line {i + 2}, field {first!r}: {values[i, 0]} s, expected "
                f"{i * STEP} s (rows on the {STEP} s label step from 0)"
            )
    return header, values


def read_partitions(root: Path) -> list[list[str]]:
    """The ``name,partition`` rows of ``<root>/partitions.csv``."""
    path = note_source(Path(root) / "partitions.csv")
    if not path.is_file():
        raise CorpusFormatError(f"{path}: file not found")
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows or rows[0] != ["name", "partition"]:
        raise CorpusFormatError(f"{path}: line 1: header must be 'name,partition'")
    for i, row in enumerate(rows[1:]):
        if len(row) != 2 or row[1] not in ToyCorpus.partitions.values():
            raise CorpusFormatError(
                f"{path}: line {i + 2}, field 'partition': expected name,"
                f"{'|'.join(ToyCorpus.partitions.values())}, got {','.join(row)!r}"
            )
    return rows[1:]


class ToyExtractLayout(ExtractLayout):
    """``features/<set>/<name>.csv`` with ``time,<columns>``; label times from ``labels/<name>.csv``."""

    def feature_folder(self, output: Path, folder: str) -> Path:
        return Path(output) / "features" / folder

    def feature_paths(self, output: Path, folder: str, recording_id: str) -> list[Path]:
        return [self.feature_folder(output, folder) / f"{recording_id}.csv"]

    def render(self, recording_id: str, out, segment_ids, folder: str) -> str:
        rows = [",".join(["time", *out.columns])]
        rows += [",".join(f"{v:.6f}" for v in (t, *row)) for t, row in zip(out.timestamps, out.values)]
        return "\n".join(rows) + "\n"

    def label_folder(self, output: Path) -> Path:
        return Path(output) / "labels"

    def read_timeline(self, folder: Path, recording_id: str):
        path = Path(folder) / f"{recording_id}.csv"
        if not path.is_file() or not path.read_text().startswith("time,"):
            return None
        return read_table(path)[1][:, 0], None


@register_corpus
class ToyCorpus(Corpus):
    """The toy corpus: arousal/valence every 0.5 s, CSV features ``lld`` and/or ``func``."""

    name = "toy"
    level = "frame"
    label_step = STEP
    partitions = {"train": "train", "val": "dev", "test": "test"}
    targets = ("arousal", "valence")
    default_features = ("lld",)
    prediction_format = "<out>/<partition>/<name>.csv with time,<targets>"
    datamodule_defaults = {"win_len": 8, "hop_len": 4, "batch_size": 4, "num_workers": 0}
    extract_layout = ToyExtractLayout()

    @classmethod
    def recording_partitions(cls, root: Path, ids: Sequence[str]) -> dict[str, str | None]:
        table = dict(read_partitions(root)) if (Path(root) / "partitions.csv").is_file() else {}
        return {str(i): table.get(str(i)) for i in ids}

    def read(self, partition: str) -> list[Recording]:
        return [self._recording(name) for name, part in read_partitions(self.resolve_root()) if part == partition]

    def read_folder(self) -> list[Recording]:
        folder = note_source(self.resolve_root() / "features" / self.feature_names[0])
        if not folder.is_dir():
            raise CorpusFormatError(f"{folder}: feature folder not found")
        return [self._recording(p.stem) for p in sorted(folder.glob("*.csv"))]

    def _recording(self, name: str) -> Recording:
        root, features, times = self.resolve_root(), {}, None
        for set_name in self.feature_names:
            header, values = read_table(root / "features" / set_name / f"{name}.csv")
            if times is not None and len(values) != len(times):
                raise CorpusFormatError(
                    f"{root / 'features' / set_name / f'{name}.csv'}: {len(values)} rows, "
                    f"the other feature sets of {name} have {len(times)}"
                )
            times, features[set_name] = values[:, 0], values[:, 1:].astype(np.float32)
        label_path, targets = root / "labels" / f"{name}.csv", None
        if note_source(label_path).is_file():
            header, values = read_table(label_path)
            missing = [t for t in self.target_names if t not in header]
            if missing:
                raise CorpusFormatError(f"{label_path}: line 1: no column {missing[0]!r}")
            if len(values) != len(times):
                raise CorpusFormatError(
                    f"{label_path}: {len(values)} label rows, the features of {name} have {len(times)}"
                )
            targets = values[:, [header.index(t) for t in self.target_names]].astype(np.float32)
        return Recording(id=name, features=features, timestamps=times, targets=targets, level="frame")

    @classmethod
    def write_synthetic(cls, out_dir: Path, seed: int = 0, per_partition: int = 3, frames: int = 40) -> Path:
        """A few recordings per partition; labels are a smoothed linear function of ``lld`` plus noise."""
        rng, out_dir = np.random.default_rng(seed), Path(out_dir)
        weights = rng.normal(size=(DIMS["lld"], 2))
        names = [(f"{p}_{i:02d}", p) for p in cls.partitions.values() for i in range(per_partition)]
        for name, _ in names:
            n = frames + int(rng.integers(0, 10))
            time = np.arange(n) * STEP
            lld = np.cumsum(rng.normal(scale=0.3, size=(n, DIMS["lld"])), axis=0)
            func = np.stack([lld.mean(1), lld.std(1)], axis=1)
            kernel = np.ones(3) / 3
            labels = np.tanh(np.stack([np.convolve(c, kernel, "same") for c in (lld @ weights).T], 1) / 3)
            labels += rng.normal(scale=0.05, size=labels.shape)
            for sub, values, cols in (
                ("features/lld", lld, [f"f{j}" for j in range(4)]),
                ("features/func", func, ["f0", "f1"]),
                ("labels", labels, list(cls.targets)),
            ):
                _write(out_dir / sub / f"{name}.csv", time, values, cols)
        with open(out_dir / "partitions.csv", "w", newline="") as f:
            csv.writer(f).writerows([("name", "partition"), *names])
        return out_dir

    def write_predictions(
        self, out_dir: Path, partition: str | None, recording: Recording, preds: np.ndarray, target_names: Sequence[str]
    ) -> None:
        preds = np.asarray(preds, np.float64).reshape(recording.num_frames, len(target_names))
        _write(
            Path(out_dir) / (partition or "") / f"{recording.id}.csv", recording.timestamps, preds, list(target_names)
        )

    def read_predictions(
        self, out_dir: Path, partition: str | None, recording: Recording, target_names: Sequence[str]
    ) -> np.ndarray:
        path = Path(out_dir) / (partition or "") / f"{recording.id}.csv"
        header, values = read_table(path)
        if header[1:] != list(target_names) or len(values) != recording.num_frames:
            raise CorpusFormatError(
                f"{path}: {len(values)} rows of {header[1:]}, expected {recording.num_frames} of {list(target_names)}"
            )
        return values[:, 1:].astype(np.float32)


def _write(path: Path, time: np.ndarray, values: np.ndarray, columns: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savetxt(
        path,
        np.column_stack([time, values]),
        fmt="%.6f",
        delimiter=",",
        header=",".join(["time", *columns]),
        comments="",
    )
