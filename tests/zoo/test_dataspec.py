"""DataSpec: the typed data specification, and specs stored before it existed."""

from __future__ import annotations

import pytest
import torch

from zoo.data.types import DataSpec, DataSpecError
from zoo.training.task import EmotionTask

#: a spec as checkpoints written before DataSpec stored it (no level; SEWA's descriptive keys at top level)
LEGACY_SEWA = {
    "corpus": "sewa",
    "feature_names": ["text_bow"],
    "feature_dims": {"text_bow": 5},
    "target_names": ["liking"],
    "label_step": 0.1,
    "label_shift": 0.0,
    "feature_delay": {},
    "normalization": {"text_bow": {"mean": [0.0] * 5, "std": [1.0] * 5}},
    "release": "avec2017",
    "interlocutor": "mixed",
    "interlocutor_features": ["text_bow"],
    "reader_state": {"vocabulary": ["a", "b", "c", "d", "e"]},
}
LEGACY_MOSEI = {
    "corpus": "cmu_mosei",
    "feature_names": ["COVAREP"],
    "feature_dims": {"COVAREP": 74},
    "target_names": ["happy", "sad"],
    "label_step": 0.0,
    "label_shift": 0.0,
    "feature_delay": {},
    "normalization": None,
    "maxlen": 20,
    "truncate": "last",
    "format": "csd",
}


def test_legacy_frame_spec_gets_its_corpus_level_and_keeps_its_reader_facts():
    spec = DataSpec.from_dict(LEGACY_SEWA)
    assert spec.level == "frame"
    assert spec.reader_state == {"vocabulary": ["a", "b", "c", "d", "e"]}
    assert spec.reader_info == {"release": "avec2017", "interlocutor": "mixed", "interlocutor_features": ["text_bow"]}
    assert DataSpec.from_dict(spec.to_dict()) == spec


def test_legacy_segment_spec_is_segment_level():
    spec = DataSpec.from_dict(LEGACY_MOSEI)
    assert spec.level == "segment"
    assert spec.reader_info == {"maxlen": 20, "truncate": "last", "format": "csd"}


def test_a_hand_made_spec_needs_only_dims_and_targets():
    spec = DataSpec.from_dict({"feature_dims": {"a": 3, "b": 2}, "target_names": ["arousal"]})
    assert (spec.level, spec.feature_names, spec.corpus) == ("frame", ["a", "b"], "")


def test_round_trip_through_a_weights_only_checkpoint(tmp_path):
    spec = DataSpec.from_dict(LEGACY_SEWA)
    torch.save({"data_spec": spec.to_dict()}, tmp_path / "c.ckpt")
    loaded = torch.load(tmp_path / "c.ckpt", weights_only=True)
    assert DataSpec.from_dict(loaded["data_spec"]) == spec


@pytest.mark.parametrize(
    "bad, message",
    [
        ({**LEGACY_MOSEI, "surprise_field": 1}, "unknown fields ['surprise_field']"),
        ({k: v for k, v in LEGACY_MOSEI.items() if k != "feature_dims"}, "lacks the fields ['feature_dims']"),
        ({k: v for k, v in LEGACY_MOSEI.items() if k != "target_names"}, "lacks the fields ['target_names']"),
        ({**LEGACY_MOSEI, "level": "word"}, "level must be one of"),
        (
            {**LEGACY_MOSEI, "feature_names": ["COVAREP", "FACET 4.2"]},
            "feature_dims lacks the feature sets ['FACET 4.2']",
        ),
    ],
)
def test_bad_specs_are_refused_naming_the_source_and_field(bad, message):
    with pytest.raises(DataSpecError, match=message.replace("[", r"\[").replace("]", r"\]")):
        DataSpec.from_dict(bad, source="old.ckpt")


def test_task_takes_the_declared_level_not_the_output_shape():
    task = EmotionTask("williams2018_lstm", LEGACY_MOSEI)
    assert task.level == "segment" and task.hparams["data_spec"]["level"] == "segment"
    batch = {"mask": torch.ones(2, 3, dtype=torch.bool)}
    assert task.target_mask(torch.zeros(2, 2), batch) is None
    with pytest.raises(ValueError, match="segment-level data needs outputs with 2 dimensions"):
        task.target_mask(torch.zeros(2, 3, 2), batch)
