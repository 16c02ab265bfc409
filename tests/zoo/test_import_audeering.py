"""``zoo import audeering-msp-dim``: a tiny checkpoint in the original repository's layout, imported,
against a reference forward written from the model card (not from the importer).

The reference: the feature extractor's normalisation ``(x - mean) / sqrt(var + 1e-7)`` in NumPy,
``transformers.Wav2Vec2Model`` (the very module whose weights the test wrote), the mean of the
last hidden state over time, and the head ``out_proj(tanh(dense(h)))`` in NumPy. The windows:
label time ``k · step`` at the centre, moved inside the recording near its ends (the zoo's
sliding-window rule, restated here).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

SR = 16000
CONFIG = {  # the keys of the real config.json, at tiny sizes
    "architectures": ["Wav2Vec2ForSpeechClassification"],
    "model_type": "wav2vec2",
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 64,
    "conv_dim": [16] * 7,
    "conv_kernel": [10, 3, 3, 3, 3, 2, 2],
    "conv_stride": [5, 2, 2, 2, 2, 2, 2],
    "conv_bias": True,
    "feat_extract_norm": "layer",
    "do_stable_layer_norm": True,
    "num_conv_pos_embeddings": 16,
    "num_conv_pos_embedding_groups": 2,
    "final_dropout": 0.1,
    "layerdrop": 0.1,
    "mask_time_prob": 0.05,
    "id2label": {"0": "arousal", "1": "dominance", "2": "valence"},
    "label2id": {"arousal": 0, "dominance": 1, "valence": 2},
    "problem_type": "regression",
    "pooling_mode": "mean",
    "vocab_size": None,
}
PREPROCESSOR = {
    "do_normalize": True,
    "feature_extractor_type": "Wav2Vec2FeatureExtractor",
    "feature_size": 1,
    "padding_side": "right",
    "padding_value": 0.0,
    "return_attention_mask": True,
    "sampling_rate": SR,
}


class Reference:
    """The model card's forward: Wav2Vec2Model, mean over time, dense -> tanh -> out_proj."""

    def __init__(self, seed: int = 0) -> None:
        import transformers

        torch.manual_seed(seed)
        self.encoder = transformers.Wav2Vec2Model(transformers.Wav2Vec2Config(**CONFIG)).eval()
        rng = np.random.default_rng(seed)
        h = CONFIG["hidden_size"]
        self.dense_w, self.dense_b = rng.normal(0, 0.3, (h, h)), rng.normal(0, 0.1, h)
        self.out_w, self.out_b = rng.normal(0, 0.3, (3, h)), rng.normal(0, 0.1, 3)

    def original_state_dict(self) -> dict[str, torch.Tensor]:
        """Tensor names as the 2022 file has them (transformers 4.17: weight_g / weight_v)."""
        state = {}
        for key, value in self.encoder.state_dict().items():
            key = key.replace("parametrizations.weight.original0", "weight_g")
            key = key.replace("parametrizations.weight.original1", "weight_v")
            state["wav2vec2." + key] = value.clone()
        for name, w, b in (("dense", self.dense_w, self.dense_b), ("out_proj", self.out_w, self.out_b)):
            state[f"classifier.{name}.weight"] = torch.tensor(w, dtype=torch.float32)
            state[f"classifier.{name}.bias"] = torch.tensor(b, dtype=torch.float32)
        return state

    @torch.no_grad()
    def __call__(self, signal: np.ndarray) -> np.ndarray:
        x = (signal - signal.mean()) / np.sqrt(signal.var() + 1e-7)
        hidden = self.encoder(torch.tensor(x[None], dtype=torch.float32))[0].mean(1)[0].double().numpy()
        return self.out_w @ np.tanh(self.dense_w @ hidden + self.dense_b) + self.out_b

    def sliding(self, signal: np.ndarray, step: float, window: float, frames: int) -> np.ndarray:
        size = min(int(round(window * SR)), len(signal))
        out = []
        for k in range(frames):
            start = min(max(int(round(k * step * SR)) - size // 2, 0), len(signal) - size)
            out.append(self(signal[start : start + size]))
        return np.asarray(out)


def write_original(folder: Path, reference: Reference, weights: str) -> Path:
    """The files of the Hugging Face repository, in its layout."""
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps(CONFIG, indent=2))
    (folder / "preprocessor_config.json").write_text(json.dumps(PREPROCESSOR, indent=2))
    state = reference.original_state_dict()
    if weights == "model.safetensors":
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in state.items()}, str(folder / weights))
    else:
        torch.save(state, folder / weights)
    return folder


def voice(seconds: float, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    return (0.3 * np.sin(2 * np.pi * (120 + 40 * np.sin(t)) * t) + 0.05 * rng.normal(size=t.size)).astype(np.float32)


@pytest.fixture(scope="module")
def reference() -> Reference:
    return Reference()


@pytest.mark.parametrize("weights", ["pytorch_model.bin", "model.safetensors"])
def test_imported_bundle_matches_the_model_card_forward(tmp_path, reference, weights):
    import zoo
    from zoo.hub.importers import import_pretrained

    source = write_original(tmp_path / "w2v2-msp-dim", reference, weights)
    bundle = import_pretrained("audeering-msp-dim", source, tmp_path / "bundle", step=0.25, window=1.0)
    model = zoo.load_pretrained(bundle)
    assert model.target_names == ["arousal", "dominance", "valence"]
    signal = voice(2.3)
    frames = len(signal) // 4000 + 1
    padded = np.concatenate([signal, np.zeros(frames * 4000 - len(signal), np.float32)])
    ours = model.predict({"audio": padded.reshape(frames, 4000)})
    # the waveform the frames hold is the signal plus the last frame's zero padding
    expected = reference.sliding(padded, 0.25, 1.0, frames)
    difference = float(np.abs(ours - expected).max())
    print(f"audeering-msp-dim ({weights}): max |imported - model card reference| = {difference:.2e}")
    assert ours.shape == (frames, 3) and difference < 1e-4


@pytest.mark.slow
def test_zoo_predict_runs_the_imported_bundle_on_a_wav(tmp_path, reference, zoo_cli):
    import pandas as pd

    from zoo.cli import run

    source = write_original(tmp_path / "w2v2-msp-dim", reference, "pytorch_model.bin")
    assert run(["import", "audeering-msp-dim", str(source), str(tmp_path / "bundle")])["exit_code"] == 0
    signal = voice(3.0)
    sf.write(tmp_path / "talk.wav", signal, SR, subtype="FLOAT")
    out = run(
        [
            "predict",
            str(tmp_path / "bundle"),
            str(tmp_path / "talk.wav"),
            "--output",
            str(tmp_path / "preds"),
            "--step",
            "0.5",
            "--window",
            "2",
            "--plot",
        ]
    )
    assert out["exit_code"] == 0
    table = pd.read_csv(tmp_path / "preds" / "talk.csv")
    assert list(table.columns) == ["timestamp", "arousal", "dominance", "valence"]
    np.testing.assert_allclose(table["timestamp"], np.arange(7) * 0.5)
    # the waveform extractor's last frame (at 3.0 s) is zero padding: the signal the model sees
    padded = np.concatenate([signal, np.zeros(8000, np.float32)])
    expected = reference.sliding(padded, 0.5, 2.0, 7)
    difference = float(np.abs(table[["arousal", "dominance", "valence"]].to_numpy() - expected).max())
    print(f"zoo predict --step 0.5 --window 2: max |CSV - model card reference| = {difference:.2e}")
    assert difference < 1e-4
    assert (tmp_path / "preds" / "plots" / "talk.png").stat().st_size > 0


def test_import_reads_the_hugging_face_cache_and_downloads_only_when_allowed(tmp_path, reference, monkeypatch):
    import huggingface_hub.constants as hf_constants

    from zoo.hub.importers import AUDEERING_REPO, ImportError_, import_pretrained

    cache = tmp_path / "hf"
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ImportError_, match="not in the Hugging Face cache.*--allow-download"):
        import_pretrained("audeering-msp-dim", None, tmp_path / "bundle")
    repo = cache / ("models--" + AUDEERING_REPO.replace("/", "--"))
    commit = "0123456789abcdef0123456789abcdef01234567"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    write_original(repo / "snapshots" / commit, reference, "model.safetensors")
    bundle = import_pretrained("audeering-msp-dim", None, tmp_path / "bundle")
    config = json.loads((bundle / "config.json").read_text())
    assert config["imported"]["source"] == AUDEERING_REPO and "CC BY-NC-SA 4.0" in config["imported"]["licence"]
    assert "license: cc-by-nc-sa-4.0" in (bundle / "README.md").read_text()


def test_import_refuses_foreign_tensors_shapes_and_pickles(tmp_path, reference):
    from zoo.hub.importers import ImportError_, import_pretrained

    source = write_original(tmp_path / "src", reference, "pytorch_model.bin")
    state = reference.original_state_dict()
    torch.save({**state, "lm_head.weight": torch.zeros(2, 2)}, source / "pytorch_model.bin")
    with pytest.raises(ImportError_, match="lm_head.weight"):
        import_pretrained("audeering-msp-dim", source, tmp_path / "b1")
    torch.save({**state, "classifier.out_proj.weight": torch.zeros(4, 32)}, source / "pytorch_model.bin")
    with pytest.raises(ImportError_, match=r"classifier|out_proj.weight.*\(4, 32\)"):
        import_pretrained("audeering-msp-dim", source, tmp_path / "b2")

    class Payload:
        def __reduce__(self):
            return (print, ("pickled code ran",))

    torch.save({"x": Payload()}, source / "pytorch_model.bin")
    with pytest.raises(ImportError_, match="weights_only=True"):
        import_pretrained("audeering-msp-dim", source, tmp_path / "b3")
    assert not (tmp_path / "b3").exists()


def test_step_and_window_are_refused_for_bundles_trained_at_one_step():
    from types import SimpleNamespace

    from zoo.hub.sliding_window import SlidingWindowError, set_sliding_window

    trained = SimpleNamespace(bundle_config={"label_step": 0.25}, spec={"label_step": 0.25})
    with pytest.raises(SlidingWindowError, match="trained as a sequence model at its label step"):
        set_sliding_window(trained, step=0.1)


def _ccc(x: np.ndarray, y: np.ndarray) -> float:
    """Lin's CCC with population moments, in NumPy."""
    cov = np.mean((x - x.mean()) * (y - y.mean()))
    return float(2 * cov / (x.var() + y.var() + (x.mean() - y.mean()) ** 2))


@pytest.mark.slow
def test_zoo_evaluate_scores_the_imported_bundle_on_synthetic_recola(tmp_path, reference):
    """Cross-corpus: audio of RECOLA's test recordings, 0.25 s predictions mapped onto its 40 ms
    labels by linear interpolation, CCC pooled over the partition — recomputed here by hand (on a
    small corpus in RECOLA's layout given as data.args.root)."""
    from zoo.cli import run
    from zoo.data import create_datamodule
    from zoo.data.corpora.recola.synthetic import write_synthetic_recola

    root = write_synthetic_recola(tmp_path / "recola", seed=3, n_per_partition=2, duration_s=4.0, feature_sets=())
    source = write_original(tmp_path / "w2v2-msp-dim", reference, "model.safetensors")
    command = ["import", "audeering-msp-dim", str(source), str(tmp_path / "bundle"), "--window", "1"]
    assert run(command)["exit_code"] == 0
    out = run(
        [
            "evaluate",
            str(tmp_path / "bundle"),
            "--corpus",
            "recola",
            "--output",
            str(tmp_path / "ev"),
            f"data.args.root={root}",
        ]
    )
    assert out["exit_code"] == 0
    (score,) = json.loads((tmp_path / "ev" / "scores.json").read_text())
    assert score["route"] == "audio" and score["targets"] == {"arousal": "arousal", "valence": "valence"}
    assert score["partition"] == "test" and score["recordings"] == 2
    dm = create_datamodule(
        "recola", root=root, mode="raw", features=["audio"], audio_normalization="none", targets=["arousal", "valence"]
    )
    preds, golds = [], []
    for rec in dm.raw_recordings("test"):
        wave = rec.features["audio"].reshape(-1)  # 40 ms frames from 0 s: contiguous
        frames = int(np.floor(len(wave) / SR / 0.25 + 1e-9)) + 1
        padded = np.concatenate([wave, np.zeros(frames * 4000 - len(wave), np.float32)])
        ours = reference.sliding(padded, 0.25, 1.0, frames)
        times = np.arange(frames) * 0.25
        preds.append(np.stack([np.interp(rec.timestamps, times, ours[:, k]) for k in (0, 2)], 1))
        golds.append(rec.targets)
    p, g = np.concatenate(preds), np.concatenate(golds)
    for k, target in enumerate(["arousal", "valence"]):
        difference = abs(score["ccc"][target] - _ccc(p[:, k], g[:, k]))
        print(f"zoo evaluate on recola {target}: |CCC - hand-computed CCC| = {difference:.2e}")
        assert difference < 1e-4
    assert (tmp_path / "ev" / "matrix.png").stat().st_size > 0
    assert "recola" in (tmp_path / "ev" / "matrix.md").read_text()
