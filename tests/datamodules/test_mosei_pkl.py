"""The aligned-pickle form of CMU-MOSEI: layout, padding, -inf, clear errors, refused code payloads."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest

from zoo.data import create_datamodule
from zoo.data._sequence import CorpusFormatError


def make_partition(n: int, steps: int = 5, offset: float = 0.0, video: str = "v") -> dict:
    """Segment i has i + 1 real steps at the end (left padding, as the SDK's get_tensors); its id is
    ``<video><i>[0]`` (each partition needs videos of its own)."""
    text = np.zeros((n, steps, 4), np.float32)
    audio = np.zeros((n, steps, 3), np.float32)
    vision = np.zeros((n, steps, 2), np.float32)
    for i in range(n):
        for j in range(i + 1):
            t = steps - (i + 1) + j
            text[i, t] = offset + 10 * i + j + 1
            audio[i, t] = -(10 * i + j + 1)
            vision[i, t] = 0.5
    labels = np.tile(np.array([[0.5, 1, 0, 2, 0, 0, 3]], np.float32), (n, 1))
    labels[:, 1] = np.arange(n)
    return {
        "text": text,
        "audio": audio,
        "vision": vision,
        "id": np.array([f"{video}{i}[0]" for i in range(n)]),
        "regression_labels": labels,
    }


def write_pickle(path, data) -> str:
    with open(path, "wb") as f:
        pickle.dump(data, f, protocol=2)
    return str(path)


def test_layout_padding_and_targets(tmp_path):
    data = {"train": make_partition(3), "valid": make_partition(2, video="w"), "test": make_partition(2, video="x")}
    data["train"]["audio"][2, -1, 1] = -np.inf
    path = write_pickle(tmp_path / "aligned_50.pkl", data)
    dm = create_datamodule(
        "cmu_mosei",
        root=path,
        format="pkl",
        modalities=["text", "audio", "video"],
        targets=["happy", "fear", "sentiment"],
        normalize=False,
        maxlen=2,
    )
    assert dm.feature_names == ["text", "audio", "vision"]
    segs = dm.raw_recordings("train")
    assert [s.id for s in segs] == ["v0[0]", "v1[0]", "v2[0]"]
    # segment 2 has 3 real steps (text 21, 22, 23); maxlen=2 keeps the last two
    np.testing.assert_allclose(segs[2].features["text"][:, 0], [22, 23])
    np.testing.assert_allclose(segs[2].features["audio"], [[-22, -22, -22], [-23, 0, -23]])  # -inf → 0
    assert segs[0].num_frames == 1 and segs[1].num_frames == 2
    np.testing.assert_allclose(segs[1].targets, [1, 3, 0.5])
    batch = next(iter(dm.train_dataloader()))
    assert batch["mask"].sum().item() == 1 + 2 + 2 and batch["targets"].shape == (3, 3)


def test_folder_root_and_one_column_labels(tmp_path):
    data = {p: make_partition(2, video=p) for p in ("train", "valid", "test")}
    for part in data.values():
        part["labels"] = part.pop("regression_labels")[:, :1].reshape(-1, 1, 1)  # (N, 1, 1) sentiment
    write_pickle(tmp_path / "mosei_senti.pkl", data)
    dm = create_datamodule("cmu_mosei", root=str(tmp_path), format="pkl", targets=["sentiment"], normalize=False)
    np.testing.assert_allclose([s.targets[0] for s in dm.raw_recordings("val")], [0.5, 0.5])
    dm = create_datamodule("cmu_mosei", root=str(tmp_path), format="pkl", normalize=False)
    with pytest.raises(CorpusFormatError, match=r"labels hold \['sentiment'\]"):
        dm.raw_recordings("train")


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: d.pop("valid"), r"no partition 'valid'"),
        (lambda d: d["train"].pop("audio"), r"partition 'train' has no key 'audio'"),
        (lambda d: d["train"].update(audio=np.zeros((3, 74))), r"key 'audio': shape \(3, 74\)"),
        (lambda d: d["train"].update(audio=np.zeros((4, 5, 3))), r"key 'audio': 4 segments, but 'text' has 3"),
        (lambda d: d["train"].update(vision=np.zeros((3, 6, 2))), r"key 'vision': 6 steps per segment"),
        (lambda d: d["train"].pop("regression_labels"), r"no label key"),
        (lambda d: d["train"].update(regression_labels=np.zeros((3, 5))), r"5 label columns"),
        (lambda d: d["train"].update(regression_labels=np.zeros((2, 7))), r"2 labels for 3 segments"),
    ],
)
def test_wrong_keys_and_shapes_are_clear(tmp_path, mutate, message):
    data = {"train": make_partition(3), "valid": make_partition(2, video="w"), "test": make_partition(2, video="x")}
    mutate(data)
    path = write_pickle(tmp_path / "bad.pkl", data)
    dm = create_datamodule("cmu_mosei", root=path, format="pkl", normalize=False)
    with pytest.raises(CorpusFormatError, match=message) as err:
        dm.setup("fit")
    assert "bad.pkl" in str(err.value)


class _Payload:
    def __reduce__(self):
        return (os.system, ("echo should-never-run",))


def test_code_payload_is_refused(tmp_path):
    data = {
        "train": {**make_partition(2), "evil": _Payload()},
        "valid": make_partition(1, video="w"),
        "test": make_partition(1, video="x"),
    }
    path = write_pickle(tmp_path / "evil.pkl", data)
    dm = create_datamodule("cmu_mosei", root=path, format="pkl", normalize=False)
    with pytest.raises(CorpusFormatError, match=r"refused to load (posix|os|nt)\.system"):
        dm.setup("fit")


def test_normalisation_uses_train_steps_only(tmp_path):
    data = {
        "train": make_partition(3),
        "valid": make_partition(2, offset=1000.0, video="w"),
        "test": make_partition(2, video="x"),
    }
    path = write_pickle(tmp_path / "a.pkl", data)
    dm = create_datamodule("cmu_mosei", root=path, format="pkl", modalities=["text"], normalize="zscore")
    dm.setup("fit")
    train_text = np.array([1, 11, 12, 21, 22, 23], float)  # all real train steps (maxlen 20)
    spec = dm.data_spec()["normalization"]["text"]
    np.testing.assert_allclose(spec["mean"], [train_text.mean()] * 4, rtol=1e-6)
    np.testing.assert_allclose(spec["std"], [train_text.std()] * 4, rtol=1e-6)
    maxabs = create_datamodule("cmu_mosei", root=path, format="pkl", modalities=["audio"], normalize="maxabs")
    np.testing.assert_allclose(maxabs.data_spec()["normalization"]["audio"]["std"], [23, 23, 23])


def test_prediction_csv_is_appended_per_batch(tmp_path):
    data = {p: make_partition(2, video=v) for p, v in (("train", "t"), ("valid", "w"), ("test", "v"))}
    path = write_pickle(tmp_path / "a.pkl", data)
    dm = create_datamodule("cmu_mosei", root=path, format="pkl", targets=["happy", "sad"], normalize=False)
    out = tmp_path / "predictions"
    dm.write_batch_predictions(out, "test", ["v0[0]"], np.array([[0.5, 1.25]]), np.ones((1, 3), bool), ["happy", "sad"])
    dm.write_batch_predictions(out, "test", ["v1[0]"], np.array([[2.0, 0.0]]), np.ones((1, 3), bool), ["happy", "sad"])
    assert (out / "test.csv").read_text().splitlines() == [
        "segment_id,happy,sad",
        "v0[0],0.500000,1.250000",
        "v1[0],2.000000,0.000000",
    ]
    with pytest.raises(ValueError, match=r"\(B, K\)"):
        dm.write_batch_predictions(out, "val", ["x"], np.zeros((1, 3, 2)), np.ones((1, 3), bool), ["happy", "sad"])
