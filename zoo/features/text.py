"""Text extractors: contextual BERT-style embeddings (last / sum of last 2 / sum of last 4 layers)
and static word vectors (GloVe / word2vec text format), repeated over the label frames.

Inputs, one CSV per recording (the recording id is the file stem):

* **word timestamps**: comma-separated with a header naming ``start``, ``end`` and ``word``
  (seconds; other columns are ignored; a ``text`` column instead of ``word`` → turn level);
* **turns** (SEWA transcriptions): ``start;end;text`` (semicolon-separated, header optional) →
  turn level.

Alignment (``docs/features.md``): label frame ``t`` is covered by a word/turn when
``start <= t < end``; it takes that unit's vector (the mean if several overlap) and zeros where no
unit covers it. A word shorter than the label step that covers no label timestamp is given to
the label frame nearest to its midpoint (Sun et al. 2020 repeat each word over the frames it
spans). Turn level (Chen et al. 2017): the turn vector is the mean of its word vectors.

Contextual vectors (Sun et al. 2020's BERT / BERT-2 / BERT-4): the whole transcript (or each
turn) is tokenised as pre-split words, run through ``AutoModel`` from a LOCAL directory
(``local_files_only=True``) in chunks of at most ``max_tokens`` sub-words, the chosen hidden
layers are summed, and a word's vector is the mean of its sub-word tokens.
"""

from __future__ import annotations

import csv as _csv
from pathlib import Path

import numpy as np

from .base import Extractor, ExtractorError, FeatureOutput, register_extractor

__all__ = ["Unit", "read_transcript", "units_to_labels", "BertExtractor", "WordVectorExtractor"]

Unit = tuple[float, float, str]  # start s, end s, word or turn text


def read_transcript(path: Path) -> tuple[list[Unit], str]:
    """Read a word CSV (``start,end,word``) or a turn CSV (``start;end;text``).

    Returns:
        ``(units, level)`` with ``level`` ``"word"`` or ``"turn"``.

    Raises:
        ExtractorError: unreadable file, or a line with a non-numeric/negative time or
            ``end < start`` (naming the line).
    """
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise ExtractorError(f"{path}: cannot read transcript: {err}") from None
    lines = [(i + 1, line) for i, line in enumerate(lines) if line.strip()]
    if not lines:
        raise ExtractorError(f"{path}: transcript is empty")
    first = lines[0][1]
    sep = ";" if first.count(";") >= 2 else ","
    head = [c.strip().strip('"').lower() for c in first.split(sep)]
    level = "turn" if sep == ";" else "word"
    columns = (0, 1, 2)
    if "start" in head and "end" in head:
        text_col = next((c for c in ("word", "text", "token") if c in head), None)
        if text_col is None:
            raise ExtractorError(f"{path}: line 1: no 'word' (or 'text') column in {head}")
        columns = (head.index("start"), head.index("end"), head.index(text_col))
        level = "word" if text_col in ("word", "token") else "turn"
        lines = lines[1:]
    elif sep == ",":
        raise ExtractorError(f"{path}: line 1: expected a header with start,end,word; found {first!r}")
    units: list[Unit] = []
    for number, line in lines:
        parts = next(_csv.reader([line], delimiter=sep)) if sep == "," else line.split(sep, 2)
        if len(parts) <= max(columns):
            raise ExtractorError(f"{path}: line {number}: expected start{sep}end{sep}text, got {line!r}")
        try:
            start, end = float(parts[columns[0]]), float(parts[columns[1]])
        except ValueError:
            raise ExtractorError(f"{path}: line {number}, field 'start'/'end': non-numeric time in {line!r}") from None
        if start < 0 or end < start:
            raise ExtractorError(f"{path}: line {number}: invalid interval start={start}, end={end}")
        text = parts[columns[2]].strip().strip('"').strip()
        if text:
            units.append((start, end, text))
    return units, level


def units_to_labels(units: list[Unit], vectors: np.ndarray, times: np.ndarray, hop: float) -> np.ndarray:
    """Repeat each unit's vector over the label frames it covers (mean on overlap, zeros elsewhere)."""
    times = np.asarray(times, dtype=np.float64)
    out = np.zeros((len(times), vectors.shape[1]), dtype=np.float64)
    count = np.zeros(len(times))
    for (start, end, _), vec in zip(units, vectors):
        idx = np.flatnonzero((times >= start - 1e-9) & (times < end - 1e-9))
        if len(idx) == 0 and len(times):
            k = int(np.argmin(np.abs(times - (start + end) / 2.0)))
            if abs(times[k] - (start + end) / 2.0) <= hop / 2.0 + (end - start) / 2.0:
                idx = np.array([k])
        out[idx] += vec
        count[idx] += 1
    out[count > 0] /= count[count > 0, None]
    return out.astype(np.float32)


class _TextExtractor(Extractor):
    modality = "text"
    input_suffixes = (".csv",)
    needs_weights = True

    def duration(self, path: Path) -> float:
        units, _ = read_transcript(path)
        return max((end for _, end, _ in units), default=0.0)

    def word_vectors(self, words: list[str]) -> np.ndarray:
        """One vector per word of a contiguous word sequence."""
        raise NotImplementedError

    def extract(self, path: Path, times: np.ndarray) -> FeatureOutput:
        units, level = read_transcript(path)
        dim = self.output_dim()
        if not units:
            vectors = np.zeros((0, dim), dtype=np.float32)
        elif level == "word":
            vectors = self.word_vectors([w for _, _, w in units])
        else:
            rows = []
            for _, _, text in units:
                words = text.split()
                rows.append(self.word_vectors(words).mean(axis=0) if words else np.zeros(dim))
            vectors = np.asarray(rows, dtype=np.float32)
        values = units_to_labels(units, vectors.reshape(len(units), dim), times, self.hop)
        return FeatureOutput(values, times, [f"{self.name}_{j}" for j in range(dim)])


class BertExtractor(_TextExtractor):
    """Contextual sub-word embeddings from a local transformers model, summed over layers.

    Args:
        layers: number of last hidden layers summed (1 = last layer).
        max_tokens: sub-word tokens per forward pass (without special tokens).
    """

    dim = None
    dim_note = "hidden size of the model (BERT-base: 768)"
    num_layers: int = 1

    @classmethod
    def weights_help(cls) -> str:
        return "a local transformers model directory (config, weights and tokenizer files)"

    def __init__(self, hop=None, win=None, weights=None, max_tokens: int = 510) -> None:
        super().__init__(hop=hop, win=win, weights=weights)
        from transformers import AutoModel, AutoTokenizer

        if not self.weights.is_dir():
            raise ExtractorError(f"{self.weights}: expected a local transformers model directory")
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(str(self.weights), local_files_only=True)
            self.model = AutoModel.from_pretrained(str(self.weights), local_files_only=True).eval()
        except Exception as err:  # noqa: BLE001 - transformers raises OSError/ValueError/...
            raise ExtractorError(f"{self.weights}: cannot load the model/tokenizer: {err}") from None
        if not getattr(self.tokenizer, "is_fast", False):
            raise ExtractorError(f"{self.weights}: a fast tokenizer is needed (word ↔ sub-word map)")
        total = int(self.model.config.num_hidden_layers)
        if self.num_layers > total:
            raise ExtractorError(
                f"{self.weights}: {self.name} sums the last {self.num_layers} layers but the model has {total}"
            )
        self.max_tokens = int(max_tokens)

    def output_dim(self) -> int:
        return int(self.model.config.hidden_size)

    def word_vectors(self, words: list[str]) -> np.ndarray:
        import torch

        dim = self.output_dim()
        out = np.zeros((len(words), dim), dtype=np.float32)
        pieces = [len(self.tokenizer.tokenize(w)) or 1 for w in words]
        start = 0
        while start < len(words):  # chunks of whole words within max_tokens sub-words
            stop, used = start, 0
            while stop < len(words) and (used + pieces[stop] <= self.max_tokens or stop == start):
                used += pieces[stop]
                stop += 1
            enc = self.tokenizer(
                words[start:stop],
                is_split_into_words=True,
                return_tensors="pt",
                truncation=True,
                max_length=self.max_tokens + 2,
            )
            with torch.inference_mode():
                hidden = self.model(**enc, output_hidden_states=True).hidden_states
            summed = torch.stack(hidden[-self.num_layers :]).sum(0)[0].numpy()
            word_ids = enc.word_ids(0)
            sums = np.zeros((stop - start, dim))
            counts = np.zeros(stop - start)
            for token, wid in enumerate(word_ids):
                if wid is not None:
                    sums[wid] += summed[token]
                    counts[wid] += 1
            seen = counts > 0
            out[start:stop][seen] = sums[seen] / counts[seen, None]
            start = stop
        return out


@register_extractor("bert")
class BertLast(BertExtractor):
    """Last hidden layer (Sun et al. 2020 "BERT")."""

    num_layers = 1


@register_extractor("bert2")
class BertSum2(BertExtractor):
    """Sum of the last 2 hidden layers (Sun et al. 2020 "BERT-2")."""

    num_layers = 2


@register_extractor("bert4")
class BertSum4(BertExtractor):
    """Sum of the last 4 hidden layers (Sun et al. 2020 "BERT-4")."""

    num_layers = 4


@register_extractor("word_vectors")
class WordVectorExtractor(_TextExtractor):
    """Static word vectors from a local GloVe / word2vec text file (unknown words → zeros).

    Args:
        lowercase: look words up in lower case (GloVe vocabularies are lower case).
    """

    dim = None
    dim_note = "vector size of the file (GloVe/fastText: 300)"

    @classmethod
    def weights_help(cls) -> str:
        return "a GloVe or word2vec text file ('word v1 v2 ...' per line)"

    def __init__(self, hop=None, win=None, weights=None, lowercase: bool = True) -> None:
        super().__init__(hop=hop, win=win, weights=weights)
        self.lowercase = bool(lowercase)
        self.table, self.size = self._read(self.weights)

    @staticmethod
    def _read(path: Path) -> tuple[dict[str, np.ndarray], int]:
        table: dict[str, np.ndarray] = {}
        size = None
        with open(path, encoding="utf-8", errors="replace") as handle:
            for number, line in enumerate(handle, 1):
                parts = line.rstrip().split(" ")
                if number == 1 and len(parts) == 2 and all(p.isdigit() for p in parts):
                    continue  # word2vec header "count dim"
                if len(parts) < 2:
                    continue
                try:
                    vec = np.asarray(parts[1:], dtype=np.float32)
                except ValueError:
                    raise ExtractorError(f"{path}: line {number}: non-numeric vector value") from None
                if size is None:
                    size = len(vec)
                elif len(vec) != size:
                    raise ExtractorError(f"{path}: line {number}: vector has {len(vec)} values, line 1 has {size}")
                table.setdefault(parts[0], vec)
        if size is None:
            raise ExtractorError(f"{path}: no word vectors found")
        return table, size

    def output_dim(self) -> int:
        return self.size

    def word_vectors(self, words: list[str]) -> np.ndarray:
        zero = np.zeros(self.size, dtype=np.float32)
        key = str.lower if self.lowercase else str
        return np.asarray([self.table.get(key(w), self.table.get(w, zero)) for w in words], dtype=np.float32).reshape(
            len(words), self.size
        )
