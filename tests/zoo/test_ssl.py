"""The self-supervised speech family (zoo/models/ssl.py, zoo/layers/speech_encoder.py).

References are independent of the code under test: the pooling is recomputed from the encoder
frames' sample spans with plain loops, the encoder outputs with ``transformers`` called directly,
the layer weighting with NumPy.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch

from zoo import create_model
from zoo.layers.speech_encoder import (
    PRESETS,
    SpeechEncoder,
    conv_geometry,
    frame_pooling_matrix,
    load_speech_encoder,
    save_tiny_encoder,
)
from zoo.models.registry import building_from_checkpoint
from zoo.models.ssl import SSLEmotionNet
from zoo.training.task import EmotionTask, parameter_groups

pytestmark = pytest.mark.filterwarnings("ignore:speech encoder .* random weights:UserWarning")


def _reference_pooling(frames: int, frame_samples: int, encoder_frames: int, receptive: int, stride: int):
    out = np.zeros((frames, encoder_frames))
    for t in range(frames):
        lo, hi = t * frame_samples, (t + 1) * frame_samples
        members = [j for j in range(encoder_frames) if lo <= j * stride + (receptive - 1) / 2 < hi]
        if not members:  # nearest centre
            centre = lo + frame_samples / 2
            members = [min(range(encoder_frames), key=lambda j: abs(j * stride + (receptive - 1) / 2 - centre))]
        for j in members:
            out[t, j] = 1.0 / len(members)
    return out


@pytest.mark.parametrize("frame_samples", [640, 1600, 4000, 160])
def test_pooling_matches_sample_spans(frame_samples):
    frames = 12
    length = frames * frame_samples
    encoder_frames = (length - 400) // 320 + 1  # the standard front end: 400-sample field, 320 stride
    got = frame_pooling_matrix(frames, frame_samples, encoder_frames, 400, 320)
    np.testing.assert_allclose(got, _reference_pooling(frames, frame_samples, encoder_frames, 400, 320), atol=1e-7)
    assert np.allclose(got.sum(1), 1.0)


def test_conv_geometry_of_the_standard_front_end():
    config = load_speech_encoder("wav2vec2-tiny")[0].config
    assert conv_geometry(config) == (400, 320)  # 25 ms field, 20 ms stride (wav2vec 2.0 §2)


@pytest.mark.parametrize("preset,freeze", [(p, "none") for p in sorted(PRESETS)] + [("wavlm-tiny", "all")])
def test_encoder_output_is_the_pooled_hidden_states(preset, freeze):
    torch.manual_seed(0)
    enc = SpeechEncoder(preset, frame_samples=1600, freeze=freeze, normalize_waveform=True).eval()
    frames = torch.randn(2, 6, 1600)
    mask = torch.ones(2, 6, dtype=torch.bool)
    calls = []
    hook = enc.model.register_forward_hook(lambda module, args, out: calls.append(args[0].shape[0]))
    got = enc(frames, mask)
    hook.remove()
    # a frozen transformer runs on the CPU one chunk at a time (batched, torch.matmul would
    # not fold its attention projections: see SpeechEncoder._hidden_states); a trainable one in one call
    assert calls == ([1, 1] if freeze == "all" else [2])
    assert got.shape == (2, 6, enc.num_layers, enc.hidden_size)
    # reference: transformers directly on the normalised waveform, mean over the 20 ms frames whose centre is inside
    wave = frames.reshape(2, -1).double()
    wave = ((wave - wave.mean(1, keepdim=True)) / torch.sqrt(wave.var(1, unbiased=False, keepdim=True) + 1e-7)).float()
    with torch.no_grad():
        hidden = enc.model(wave, attention_mask=torch.ones_like(wave, dtype=torch.long), output_hidden_states=True)
    states = torch.stack(hidden.hidden_states, 2).numpy()
    pool = _reference_pooling(6, 1600, states.shape[1], 400, 320)
    expected = np.einsum("tj,bjlh->btlh", pool, states)
    np.testing.assert_allclose(got.detach().numpy(), expected, rtol=1e-4, atol=1e-4)


def test_chunks_and_padding():
    torch.manual_seed(0)
    enc = SpeechEncoder("wavlm-tiny", frame_samples=640, max_chunk_seconds=0.4).eval()  # 10 frames per chunk
    assert enc.chunk_frames == 10
    frames = torch.randn(2, 25, 640)
    mask = torch.ones(2, 25, dtype=torch.bool)
    mask[1, 13:] = False
    out = enc(frames, mask)
    assert out.shape[:2] == (2, 25)
    assert torch.all(out[1, 13:] == 0)
    # a chunk is encoded on its own: recording 0's second chunk equals encoding it alone
    alone = enc(frames[:1, 10:20], torch.ones(1, 10, dtype=torch.bool))
    torch.testing.assert_close(out[:1, 10:20], alone, rtol=1e-4, atol=1e-4)


def test_weighted_layer_sum_and_single_layer():
    torch.manual_seed(0)
    net = create_model("ssl_audio", feature_dims={"audio": 640}, num_targets=2, head="linear", dropout=0.0).eval()
    with torch.no_grad():
        net.layer_logits.copy_(torch.tensor([0.5, -1.0, 2.0, 0.0]))
    frames, mask = torch.randn(1, 8, 640), torch.ones(1, 8, dtype=torch.bool)
    hidden = net.audio(frames, mask).detach().numpy()  # (1, 8, L, H)
    w = np.exp([0.5, -1.0, 2.0, 0.0])
    w /= w.sum()
    np.testing.assert_allclose(net.layer_weights().detach().numpy(), w, rtol=1e-6)
    fused = np.einsum("btlh,l->bth", hidden, w)
    expected = fused @ net.heads[0]["out"].weight.detach().numpy().T + net.heads[0]["out"].bias.detach().numpy()
    np.testing.assert_allclose(net({"audio": frames}, mask).detach().numpy(), expected, rtol=1e-4, atol=1e-5)
    single = create_model("ssl_audio", feature_dims={"audio": 640}, num_targets=2, layer=-1)
    assert single.layer == single.audio.num_layers - 1 and single.layer_logits is None
    assert single.layer_weights().tolist() == [0.0] * (single.audio.num_layers - 1) + [1.0]


def test_freeze_modes_and_lr_multipliers():
    net = create_model("ssl_audio", feature_dims={"audio": 1600}, num_targets=2, freeze="feature_encoder")
    frozen = {n for n, p in net.named_parameters() if not p.requires_grad}
    assert frozen and all(n.startswith("audio.model.feature_extractor.") for n in frozen)
    unfrozen = create_model("ssl_audio", feature_dims={"audio": 1600}, num_targets=2, freeze="none")
    assert all(p.requires_grad for p in unfrozen.parameters())
    full = create_model("ssl_audio", feature_dims={"audio": 1600}, num_targets=2, freeze="all")
    assert not any(p.requires_grad for p in full.audio.parameters())
    full.train()
    assert not full.audio.model.training  # no dropout in a frozen encoder
    groups = parameter_groups(torch.nn.ModuleDict({"net": net}), 1e-3, {"net.audio.model": 0.1})
    by_name = {g["name"]: g for g in groups}
    assert by_name["net.audio.model"]["lr"] == pytest.approx(1e-4)
    encoder_params = {id(p) for p in net.audio.model.parameters() if p.requires_grad}
    assert {id(p) for p in by_name["net.audio.model"]["params"]} == encoder_params


@pytest.mark.parametrize("preset", ["wavlm-tiny", "wav2vec2-tiny", "hubert-tiny"])
def test_a_frozen_feature_encoder_is_left_out_of_the_backward_pass(preset):
    """``freeze="feature_encoder"``: in training the CNN's output needs no gradient, so backward
    stops at the transformer (it used to run through the whole frozen CNN to the waveform), and the
    trainable parameters get the gradients of the same network with the CNN output detached."""
    torch.manual_seed(0)
    enc = SpeechEncoder(preset, frame_samples=640, freeze="feature_encoder").train()
    cnn_out = []
    hook = enc.model.feature_extractor.register_forward_hook(lambda module, args, out: cnn_out.append(out))
    frames = torch.randn(2, 5, 640)
    mask = torch.ones(2, 5, dtype=torch.bool)
    torch.manual_seed(1)  # dropout
    enc(frames, mask).square().mean().backward()
    hook.remove()
    assert cnn_out and not cnn_out[0].requires_grad
    got = {n: p.grad for n, p in enc.named_parameters() if p.requires_grad}  # None: unused (masked_spec_embed)
    # reference: every trainable parameter's gradient with the CNN's output cut off by hand
    enc.zero_grad(set_to_none=True)
    hook = enc.model.feature_extractor.register_forward_hook(lambda module, args, out: out.detach())
    torch.manual_seed(1)
    enc(frames, mask).square().mean().backward()
    hook.remove()
    expected = {n: p.grad for n, p in enc.named_parameters() if p.requires_grad}
    assert sum(g is not None for g in got.values()) > 10 and got.keys() == expected.keys()
    for name, grad in got.items():
        assert (grad is None and expected[name] is None) or torch.equal(grad, expected[name]), name
    assert all(p.grad is None for p in enc.model.feature_extractor.parameters())


def test_gradient_checkpointing_gives_the_same_gradients():
    torch.manual_seed(0)
    frames, mask = torch.randn(2, 10, 640), torch.ones(2, 10, dtype=torch.bool)
    grads = []
    for checkpointing in (False, True):
        torch.manual_seed(1)
        net = create_model(
            "ssl_audio", feature_dims={"audio": 640}, num_targets=2, freeze="none", gradient_checkpointing=checkpointing
        )
        net.train()
        net.dropout.p = 0.0
        net.audio.model.config.hidden_dropout = 0.0
        for module in net.modules():
            if isinstance(module, torch.nn.Dropout):
                module.p = 0.0
        net({"audio": frames}, mask).sum().backward()
        grads.append(net.audio.model.encoder.layers[0].attention.q_proj.weight.grad.clone())
    assert net.audio.checkpointing
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-4, atol=1e-6)


def test_encoder_folder_round_trip_and_errors(tmp_path):
    folder = save_tiny_encoder(tmp_path / "hubert", preset="hubert-tiny", seed=3, do_normalize=False)
    assert json.loads((folder / "config.json").read_text())["model_type"] == "hubert"
    enc = SpeechEncoder(str(folder), frame_samples=640)
    assert enc.normalize_waveform is False  # read from preprocessor_config.json
    reference = load_speech_encoder("hubert-tiny")[0]  # a different random init
    torch.manual_seed(3)
    same = load_speech_encoder("hubert-tiny")[0]
    for (name, a), b in zip(enc.model.state_dict().items(), same.state_dict().values()):
        torch.testing.assert_close(a, b, msg=name)
    assert not torch.equal(next(iter(reference.state_dict().values())), next(iter(enc.model.state_dict().values())))
    with pytest.raises(FileNotFoundError, match="not a folder.*huggingface-cli download"):
        SpeechEncoder(str(tmp_path / "missing"), frame_samples=640)
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="config.json not found"):
        SpeechEncoder(str(tmp_path / "empty"), frame_samples=640)
    bad = tmp_path / "bert"
    bad.mkdir()
    (bad / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(ValueError, match="'bert' is not a supported speech encoder"):
        SpeechEncoder(str(bad), frame_samples=640)
    noweights = tmp_path / "noweights"
    noweights.mkdir()
    (noweights / "config.json").write_text((folder / "config.json").read_text())
    with pytest.raises(FileNotFoundError, match="no weights"):
        SpeechEncoder(str(noweights), frame_samples=640)
    torn = tmp_path / "torn"
    torn.mkdir()
    (torn / "config.json").write_text((folder / "config.json").read_text())
    (torn / "model.safetensors").write_bytes((folder / "model.safetensors").read_bytes()[:200])
    with pytest.raises(ValueError, match="cannot load the hubert weights"):
        SpeechEncoder(str(torn), frame_samples=640)


def test_checkpoint_rebuilds_without_the_encoder_folder(tmp_path):
    folder = save_tiny_encoder(tmp_path / "enc", preset="wav2vec2-tiny", seed=5)
    spec = {
        "corpus": "recola",
        "level": "frame",
        "feature_dims": {"audio": 640},
        "target_names": ["arousal", "valence"],
    }
    task = EmotionTask("ssl_audio", spec, model_args={"encoder": str(folder), "head": "linear"})
    stored = task.hparams["model_args"]
    assert stored["encoder_config"]["model_type"] == "wav2vec2" and stored["normalize_waveform"] is True
    state = task.state_dict()
    for path in folder.iterdir():
        path.unlink()
    folder.rmdir()
    with building_from_checkpoint():
        again = EmotionTask("ssl_audio", spec, model_args=stored)
    again.load_state_dict(state)
    frames, mask = torch.randn(1, 5, 640), torch.ones(1, 5, dtype=torch.bool)
    task.eval()
    again.eval()
    torch.testing.assert_close(task({"audio": frames}, mask), again({"audio": frames}, mask))


def test_bad_model_arguments():
    with pytest.raises(ValueError, match="not a feature set of the data"):
        create_model("ssl_audio", feature_dims={"egemaps": 88}, num_targets=2)
    with pytest.raises(ValueError, match="head must be one of"):
        create_model("ssl_audio", feature_dims={"audio": 640}, num_targets=2, head="gru")
    with pytest.raises(ValueError, match="freeze must be one of"):
        create_model("ssl_audio", feature_dims={"audio": 640}, num_targets=2, freeze="most")
    with pytest.raises(ValueError, match="layer must be None or an int"):
        create_model("ssl_audio", feature_dims={"audio": 640}, num_targets=2, layer=9)
    net = create_model("ssl_audio", feature_dims={"audio": 640}, num_targets=2)
    with pytest.raises(ValueError, match="frames of width 500"):
        net({"audio": torch.zeros(1, 3, 500)}, torch.ones(1, 3, dtype=torch.bool))


def test_separate_heads_and_audiovisual():
    torch.manual_seed(0)
    net = create_model("ssl_audio", feature_dims={"audio": 640}, num_targets=3, shared_head=False, head="bilstm")
    assert len(net.heads) == 3
    out = net({"audio": torch.randn(2, 7, 640)}, torch.ones(2, 7, dtype=torch.bool))
    assert out.shape == (2, 7, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        av = create_model(
            "ssl_audiovisual",
            feature_dims={"audio": 640, "video": [32, 32, 3]},
            num_targets=2,
            face_feature_dim=16,
        )
    mask = torch.ones(2, 4, dtype=torch.bool)
    mask[1, 2:] = False
    video = torch.randint(0, 255, (2, 4, 32, 32, 3), dtype=torch.uint8)
    y = av({"audio": torch.randn(2, 4, 640), "video": video}, mask)
    assert y.shape == (2, 4, 2) and torch.all(y[1, 2:] == 0)
    assert av.heads[0]["out"].in_features == av.audio.hidden_size + 16


def test_frozen_encoder_features_match_the_network():
    torch.manual_seed(0)
    net = create_model("ssl_audio", feature_dims={"audio": 1600}, num_targets=2, freeze="all", max_chunk_seconds=2.0)
    encoders = net.feature_encoders()
    assert set(encoders) == {"audio"}
    enc = encoders["audio"]
    audio = np.random.default_rng(0).normal(size=(45, 1600)).astype(np.float32)
    cached = enc(audio)
    assert cached.shape == (45, enc.output_dim)
    net.eval()
    mask = torch.ones(1, 45, dtype=torch.bool)
    from_raw = net({"audio": torch.from_numpy(audio)[None]}, mask)
    from_cache = net({"audio": torch.from_numpy(cached)[None]}, mask)
    torch.testing.assert_close(from_raw, from_cache, rtol=1e-4, atol=1e-5)
    assert enc.key == net.feature_encoders()["audio"].key
    with torch.no_grad():
        next(net.audio.model.parameters()).add_(1.0)
    assert net.feature_encoders()["audio"].key != enc.key  # other weights, other cache entry
    assert create_model("ssl_audio", feature_dims={"audio": 1600}, num_targets=2).feature_encoders() == {}


def test_word_pooling_matches_a_loop():
    rng = np.random.default_rng(0)
    frames = rng.normal(size=(2, 9, 4)).astype(np.float32)
    word = np.array([[0, 0, -1, 1, 1, 1, 3, 3, -1], [-1, 0, 0, 0, 1, 2, 2, 0, 0]], np.float32)
    mask = np.ones((2, 9), bool)
    mask[1, 7:] = False  # padding rows (word value 0 there must not count)
    got, got_mask = SSLEmotionNet.pool_words(torch.from_numpy(frames), torch.from_numpy(word), torch.from_numpy(mask))
    for b in range(2):
        present = [w for w in range(4) if any(word[b, t] == w and mask[b, t] for t in range(9))]
        for slot, w in enumerate(present):  # words without frames (word 2 of row 0) are left out
            rows = [t for t in range(9) if word[b, t] == w and mask[b, t]]
            np.testing.assert_allclose(got[b, slot].numpy(), frames[b, rows].mean(0), rtol=1e-6)
        assert got_mask[b].tolist() == [True] * len(present) + [False] * (got.shape[1] - len(present))


def test_segment_level_network_returns_one_vector_per_segment():
    torch.manual_seed(0)
    net = create_model(
        "ssl_audio",
        feature_dims={"waveform": 320, "waveform_word": 1},
        num_targets=6,
        audio_feature="waveform",
        word_feature="waveform_word",
        head="bilstm",
    )
    rows = torch.randn(3, 60, 320)
    word = (torch.arange(60) // 12).float().repeat(3, 1)[..., None]
    mask = torch.ones(3, 60, dtype=torch.bool)
    mask[2, 30:] = False
    out = net({"waveform": rows, "waveform_word": word}, mask)
    assert out.shape == (3, 6)
    # padding does not change a segment's output
    alone = net.eval()({"waveform": rows[2:, :30], "waveform_word": word[2:, :30]}, mask[2:, :30])
    torch.testing.assert_close(net({"waveform": rows, "waveform_word": word}, mask)[2:], alone, rtol=1e-4, atol=1e-5)


# ----------------------------------------------------------------------------- text stream
def _bytes(texts, frames, width=64):
    out = torch.zeros(len(texts), frames, width, dtype=torch.uint8)
    for b, per_frame in enumerate(texts):
        for t, text in enumerate(per_frame):
            data = text.encode("utf-8")
            out[b, t, : len(data)] = torch.tensor(list(data), dtype=torch.uint8)
    return out


def test_text_encoder_mean_pools_each_frames_text():
    from zoo.layers.text_encoder import TextEncoder

    torch.manual_seed(0)
    enc = TextEncoder("bert-tiny").eval()
    texts = [["gut gemacht", "gut gemacht", "", "schön"], ["schön", "", "", ""]]
    mask = torch.ones(2, 4, dtype=torch.bool)
    mask[1, 2:] = False
    got = enc(_bytes(texts, 4), mask)
    # reference: the model called directly on one text at a time, mean over its tokens
    for b in range(2):
        for t in range(4):
            if not texts[b][t] or not mask[b, t]:
                assert torch.all(got[b, t] == 0)
                continue
            tokens = enc.tokenizer([texts[b][t]], return_tensors="pt")
            assert tokens["input_ids"].shape[1] == len(texts[b][t].replace(" ", "")) + 2  # characters + CLS/SEP
            with torch.no_grad():
                hidden = enc.model(**tokens).last_hidden_state[0]
            torch.testing.assert_close(got[b, t], hidden.mean(0), rtol=1e-4, atol=1e-5)


def test_text_encoder_folder_checkpoint_and_errors(tmp_path):
    from zoo.layers.text_encoder import TextEncoder, save_tiny_text_encoder

    folder = save_tiny_text_encoder(tmp_path / "bert", seed=2)
    from_folder = TextEncoder(str(folder)).eval()
    spec = {
        "corpus": "sewa",
        "level": "frame",
        "feature_dims": {"audio": 1600, "transcript": 64},
        "target_names": ["arousal", "valence", "liking"],
    }
    task = EmotionTask("ssl_audio_text", spec, model_args={"text_encoder": str(folder)})
    stored = task.hparams["model_args"]
    assert set(stored["text_state"]) == {"config", "tokenizer"}
    state = task.state_dict()
    for path in folder.iterdir():
        path.unlink()
    with building_from_checkpoint():
        again = EmotionTask("ssl_audio_text", spec, model_args=stored)
    again.load_state_dict(state)
    task.eval()
    again.eval()
    batch = {"audio": torch.randn(1, 3, 1600), "transcript": _bytes([["toll", "toll", "öde"]], 3)}
    mask = torch.ones(1, 3, dtype=torch.bool)
    torch.testing.assert_close(task(batch, mask), again(batch, mask))
    assert from_folder.output_dim == 64
    with pytest.raises(FileNotFoundError, match="text_encoder: .* is not a folder"):
        TextEncoder(str(tmp_path / "nothing"))
    with pytest.raises(FileNotFoundError, match="config.json not found"):
        TextEncoder(str(folder))  # emptied above


def test_frozen_text_encoder():
    from zoo.layers.text_encoder import TextEncoder

    enc = TextEncoder("bert-tiny", freeze=True)
    assert not any(p.requires_grad for p in enc.parameters())
    enc.train()
    assert not enc.model.training


def test_a_tampered_stored_config_is_a_clear_error():
    net = create_model("ssl_audio", feature_dims={"audio": 640}, num_targets=2)
    config = net.checkpoint_model_args()["encoder_config"]
    with pytest.raises(ValueError, match="model_type 'bert' is not a supported speech encoder"):
        create_model(
            "ssl_audio", feature_dims={"audio": 640}, num_targets=2, encoder_config={**config, "model_type": "bert"}
        )
    with pytest.raises(ValueError, match="encoder_config of the checkpoint: cannot rebuild"):
        create_model(
            "ssl_audio", feature_dims={"audio": 640}, num_targets=2, encoder_config={**config, "hidden_size": -3}
        )
    text = create_model("ssl_audio_text", feature_dims={"audio": 640, "transcript": 32}, num_targets=2)
    state = text.checkpoint_model_args()["text_state"]
    with pytest.raises(ValueError, match="text_state of the checkpoint: cannot rebuild"):
        create_model(
            "ssl_audio_text",
            feature_dims={"audio": 640, "transcript": 32},
            num_targets=2,
            text_state={**state, "tokenizer": {"json": "{not json", "special": {}}},
        )


def test_frozen_features_of_a_long_recording_are_encoded_a_few_chunks_at_a_time():
    torch.manual_seed(0)
    net = create_model("ssl_audio", feature_dims={"audio": 640}, num_targets=2, freeze="all", max_chunk_seconds=0.4)
    enc = net.feature_encoders()["audio"]
    enc.chunks_per_call = 2  # 20 frames per call: 3 calls for 47 frames
    audio = np.random.default_rng(1).normal(size=(47, 640)).astype(np.float32)
    whole = net.audio.eval()(torch.from_numpy(audio)[None], torch.ones(1, 47, dtype=torch.bool))[0]
    np.testing.assert_allclose(enc(audio), whole.reshape(47, -1).detach().numpy(), rtol=1e-4, atol=1e-5)


def test_a_layer_range_is_what_the_weighted_sum_and_the_cache_hold():
    torch.manual_seed(0)
    net = create_model(
        "ssl_audio",
        feature_dims={"audio": 640},
        num_targets=2,
        freeze="all",
        layers=[1, -1],
        head="linear",
        dropout=0.0,
    ).eval()
    assert net.layers == (1, 3) and net.layer_logits.shape == (3,)
    with torch.no_grad():
        net.layer_logits.copy_(torch.tensor([0.3, -0.7, 1.1]))
    audio = np.random.default_rng(2).normal(size=(12, 640)).astype(np.float32)
    mask = torch.ones(1, 12, dtype=torch.bool)
    hidden = net.audio(torch.from_numpy(audio)[None], mask)[0].detach().numpy()  # (T, 4, H)
    enc = net.feature_encoders()["audio"]
    assert enc.output_dim == 3 * net.audio.hidden_size and enc.dtype == "float16"
    cached = enc(audio)
    np.testing.assert_allclose(cached, hidden[:, 1:].reshape(12, -1), rtol=1e-5, atol=1e-6)
    w = np.exp([0.3, -0.7, 1.1]) / np.exp([0.3, -0.7, 1.1]).sum()
    np.testing.assert_allclose(net.layer_weights().numpy(), [0.0, *w], rtol=1e-6)
    fused = np.einsum("tlh,l->th", hidden[:, 1:], w)
    expected = fused @ net.heads[0]["out"].weight.detach().numpy().T + net.heads[0]["out"].bias.detach().numpy()
    for source in (audio, cached):
        got = net({"audio": torch.from_numpy(source)[None]}, mask)[0].detach().numpy()
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
    single = create_model("ssl_audio", feature_dims={"audio": 640}, num_targets=2, freeze="all", layer=2)
    assert single.feature_encoders()["audio"].output_dim == single.audio.hidden_size  # one layer cached
    assert single.feature_encoders()["audio"].key != net.feature_encoders()["audio"].key
    for bad in ([2, 1], [0], [0, 9], "all"):
        with pytest.raises(ValueError, match="model.args.layers must be None or"):
            create_model("ssl_audio", feature_dims={"audio": 640}, num_targets=2, layers=bad)
    with pytest.raises(ValueError, match="exclude each other"):
        create_model("ssl_audio", feature_dims={"audio": 640}, num_targets=2, layer=1, layers=[0, 2])
    with pytest.raises(ValueError, match="cache_dtype must be one of"):
        create_model("ssl_audio", feature_dims={"audio": 640}, num_targets=2, cache_dtype="bfloat16")


def test_word_level_cache_gives_the_network_the_same_outputs():
    """Cached per word (rows averaged per word before the layer weighting) = pooled after it."""
    from zoo.data._encoded import pool_rows

    torch.manual_seed(0)
    dims = {"waveform": 320, "waveform_word": 1}
    net = create_model(
        "ssl_audio",
        feature_dims=dims,
        num_targets=6,
        audio_feature="waveform",
        word_feature="waveform_word",
        head="bilstm",
        freeze="all",
    ).eval()
    enc = net.feature_encoders()["waveform"]
    assert enc.pool_by == "waveform_word"
    rows = np.random.default_rng(3).normal(size=(40, 320)).astype(np.float32)
    word = np.array([-1] * 3 + [0] * 9 + [1] * 6 + [-1] * 2 + [3] * 14 + [4] * 6, np.float32)  # word 2 has no row
    per_word = pool_rows(enc(rows), word)
    assert per_word.shape == (4, enc.output_dim)
    from_rows = net(
        {"waveform": torch.from_numpy(rows)[None], "waveform_word": torch.from_numpy(word)[None, :, None]},
        torch.ones(1, 40, dtype=torch.bool),
    )
    index = torch.arange(4, dtype=torch.float32)[None, :, None]
    from_words = net(
        {"waveform": torch.from_numpy(per_word)[None], "waveform_word": index}, torch.ones(1, 4, dtype=torch.bool)
    )
    torch.testing.assert_close(from_words, from_rows, rtol=1e-4, atol=1e-5)
