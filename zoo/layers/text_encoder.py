"""A ``transformers`` text encoder over per-frame transcript text (the ``ssl_audio_text`` stream).

The datamodule serves text as raw bytes: per label frame the UTF-8 bytes of the transcript row
(turn) the frame falls in, zero-padded (e.g. SEWA's ``transcript`` feature set). The encoder
decodes the distinct texts of a batch once, tokenises them with the checkpoint's own (fast)
tokenizer, runs the model and mean-pools its last hidden states over the tokens; every frame gets
its text's vector, frames without text a zero vector.

Encoders come from a local Hugging Face folder (any ``AutoModel`` with a fast tokenizer, e.g. a
German BERT for SEWA) or the built-in random ``bert-tiny`` (a 2-layer BERT with a character-level
WordPiece vocabulary built in memory: for tests and the synthetic corpora). Nothing is downloaded.
"""

from __future__ import annotations

import json
import string
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

__all__ = ["TEXT_PRESETS", "TextEncoder", "char_tokenizer", "load_text_encoder", "save_tiny_text_encoder"]

_SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
_CHARS = string.ascii_lowercase + string.digits + "äöüß.,!?'-"
#: built-in random architectures (the vocabulary size is the character tokenizer's)
TEXT_PRESETS: dict[str, dict[str, Any]] = {
    "bert-tiny": {
        "model_type": "bert",
        "hidden_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "intermediate_size": 128,
        "max_position_embeddings": 512,
    }
}


def char_tokenizer() -> Any:
    """A BERT-style fast tokenizer whose vocabulary is single characters (each word splits into
    its letters: ``toll`` → ``t ##o ##l ##l``), lower-cased; built in memory."""
    from tokenizers import Tokenizer, normalizers, pre_tokenizers, processors
    from tokenizers.models import WordPiece
    from transformers import PreTrainedTokenizerFast

    vocab = {token: i for i, token in enumerate([*_SPECIAL, *_CHARS, *(f"##{c}" for c in _CHARS)])}
    tok = Tokenizer(WordPiece(vocab=vocab, unk_token="[UNK]", max_input_chars_per_word=100))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True, strip_accents=False)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="[PAD]", unk_token="[UNK]", cls_token="[CLS]", sep_token="[SEP]"
    )


def _tokenizer_from_state(state: Mapping[str, Any]) -> Any:
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(tokenizer_object=Tokenizer.from_str(state["json"]), **dict(state["special"]))


def _tokenizer_state(tokenizer: Any) -> dict[str, Any]:
    special = {k: v for k, v in tokenizer.special_tokens_map.items() if isinstance(v, str)}
    return {"json": tokenizer.backend_tokenizer.to_str(), "special": special}


def load_text_encoder(
    encoder: str | Path,
    overrides: Mapping[str, Any] | None = None,
    stored: Mapping[str, Any] | None = None,
    read_weights: bool = True,
) -> tuple[nn.Module, Any, str]:
    """``(model, fast tokenizer, source)`` from a preset, a local folder or a checkpoint's state.

    Args:
        encoder: ``bert-tiny`` (random) or a local Hugging Face folder with a fast tokenizer.
        overrides: config changes (e.g. ``hidden_dropout_prob``).
        stored: ``{"config": ..., "tokenizer": ...}`` as a checkpoint keeps them (no file read).
        read_weights: ``False`` builds a folder's architecture only (a checkpoint supplies weights).

    Raises:
        FileNotFoundError: no such folder, or no ``config.json`` in it.
        ValueError: no fast tokenizer in the folder, or unreadable weights.
    """
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    overrides = dict(overrides or {})
    if stored is not None:
        try:
            config_dict = dict(stored["config"])
            config = AutoConfig.for_model(config_dict.pop("model_type"), **config_dict)
            return AutoModel.from_config(config), _tokenizer_from_state(stored["tokenizer"]), "checkpoint"
        except Exception as err:  # noqa: BLE001 - a damaged checkpoint can fail in many ways
            raise ValueError(
                f"model_args.text_state of the checkpoint: cannot rebuild the text encoder and tokenizer ({err})"
            ) from None
    name = str(encoder)
    if name in TEXT_PRESETS:
        tokenizer = char_tokenizer()
        preset = {**TEXT_PRESETS[name], **overrides}
        config = AutoConfig.for_model(preset.pop("model_type"), vocab_size=len(tokenizer), **preset)
        if read_weights:
            warnings.warn(
                f"text encoder {name!r} is a built-in architecture with random weights (for tests and the synthetic "
                "corpora); point model.args.text_encoder at a downloaded checkpoint folder for real use",
                UserWarning,
                stacklevel=2,
            )
        return AutoModel.from_config(config), tokenizer, name
    path = Path(name).expanduser()
    if not path.is_dir():
        raise FileNotFoundError(
            f"model.args.text_encoder: {path} is not a folder. Give a local Hugging Face model folder "
            "(config.json, weights and a fast tokenizer, tokenizer.json), downloaded beforehand, e.g. "
            "`huggingface-cli download deepset/gbert-base --local-dir /models/gbert-base`, or "
            f"one of the built-in random architectures {sorted(TEXT_PRESETS)}"
        )
    if not (path / "config.json").is_file():
        raise FileNotFoundError(f"model.args.text_encoder: {path / 'config.json'} not found")
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True, use_fast=True)
    except Exception as err:  # noqa: BLE001 - tokenizers raise many types
        raise ValueError(f"model.args.text_encoder: cannot read the tokenizer of {path}: {err}") from None
    if not getattr(tokenizer, "is_fast", False):
        raise ValueError(f"model.args.text_encoder: {path} has no fast tokenizer (tokenizer.json); one is needed")
    try:
        if read_weights:
            model = AutoModel.from_pretrained(path, local_files_only=True, **overrides)
        else:
            model = AutoModel.from_config(AutoConfig.from_pretrained(path, local_files_only=True, **overrides))
    except Exception as err:  # noqa: BLE001
        raise ValueError(f"model.args.text_encoder: cannot load {path}: {err}") from None
    return model, tokenizer, str(path)


def save_tiny_text_encoder(folder: str | Path, seed: int = 0) -> Path:
    """Save the random ``bert-tiny`` preset and its tokenizer as a Hugging Face folder (tests)."""
    torch.manual_seed(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        model, tokenizer, _ = load_text_encoder("bert-tiny")
    folder = Path(folder)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


class TextEncoder(nn.Module):
    """Frame-wise transcript bytes → mean-pooled text encoder states.

    Args:
        encoder: ``bert-tiny`` or a local folder (see :func:`load_text_encoder`).
        overrides: config changes.
        stored: the checkpoint's ``{"config", "tokenizer"}`` (see :meth:`checkpoint_state`).
        read_weights: read the folder's weights.
        freeze: keep the encoder's weights fixed (and in eval mode).
        max_tokens: longest token sequence per text (longer ones are truncated by the tokenizer).
    """

    def __init__(
        self,
        encoder: str | Path,
        overrides: Mapping[str, Any] | None = None,
        stored: Mapping[str, Any] | None = None,
        read_weights: bool = True,
        freeze: bool = False,
        max_tokens: int = 128,
    ) -> None:
        super().__init__()
        self.model, self.tokenizer, self.source = load_text_encoder(encoder, overrides, stored, read_weights)
        self.freeze, self.max_tokens = bool(freeze), int(max_tokens)
        if self.freeze:
            self.model.requires_grad_(False)

    @property
    def output_dim(self) -> int:
        """Width of each text vector."""
        return int(self.model.config.hidden_size)

    def checkpoint_state(self) -> dict[str, Any]:
        """Config and tokenizer, to rebuild without the folder."""
        return {
            "config": json.loads(self.model.config.to_json_string(use_diff=False)),
            "tokenizer": _tokenizer_state(self.tokenizer),
        }

    def train(self, mode: bool = True) -> TextEncoder:
        """A frozen encoder stays in eval mode."""
        super().train(mode)
        if self.freeze:
            self.model.eval()
        return self

    def encode_texts(self, texts: list[str]) -> Tensor:
        """``(len(texts), H)`` mean-pooled last hidden states."""
        device = next(self.model.parameters()).device
        tokens = self.tokenizer(
            texts, padding=True, truncation=True, max_length=self.max_tokens, return_tensors="pt"
        ).to(device)
        hidden = self.model(input_ids=tokens["input_ids"], attention_mask=tokens["attention_mask"]).last_hidden_state
        weights = tokens["attention_mask"].to(hidden.dtype)[..., None]
        return (hidden * weights).sum(1) / weights.sum(1).clamp_min(1.0)

    def forward(self, text: Tensor, mask: Tensor) -> Tensor:
        """``(B, T, N)`` UTF-8 bytes per frame, ``(B, T)`` mask → ``(B, T, H)``."""
        batch, length = mask.shape
        out = torch.zeros(batch, length, self.output_dim, device=text.device)
        rows = text.to(torch.uint8)
        present = mask & rows.any(-1)
        if not present.any():
            return out
        distinct, inverse = torch.unique(rows[present], dim=0, return_inverse=True)
        texts = [bytes(row[row != 0].cpu().tolist()).decode("utf-8", errors="replace") for row in distinct]
        vectors = self.encode_texts(texts)
        out = out.to(vectors.dtype)
        out[present] = vectors[inverse]
        return out
