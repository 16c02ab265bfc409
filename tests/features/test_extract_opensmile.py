"""openSMILE extractors: sliding-window functionals against openSMILE on hand-cut windows."""

from __future__ import annotations

import numpy as np
import opensmile
import soundfile as sf

from zoo.features import create_extractor, label_times


def test_egemaps_window_matches_opensmile_on_hand_cut_window(wav_dir):
    """One openSMILE pass over the file (descriptors computed with their context) against openSMILE
    on each window cut out by hand: the same functionals within a few per cent inside the file
    (only the cut's edge frames differ), and the same column order."""
    signal, sr = sf.read(wav_dir / "rec_a.wav", dtype="float32")
    ex = create_extractor("egemaps", hop=0.25, win=2.0)
    times = label_times(len(signal) / sr, 0.25)
    out = ex.extract(wav_dir / "rec_a.wav", times)
    assert out.values.shape == (len(times), 88) and len(times) == 13  # 3.1 s → 0..3.0
    smile = opensmile.Smile(opensmile.FeatureSet.eGeMAPSv02, opensmile.FeatureLevel.Functionals)
    names = list(smile.feature_names)
    assert list(out.columns) == names

    def hand_cut(k: int) -> np.ndarray:
        t = times[k]
        a, b = int(round(max(t - 1.0, 0) * sr)), int(round(min(t + 1.0, len(signal) / sr) * sr))
        return np.nan_to_num(smile.process_signal(signal[a:b], sr).to_numpy()[0])

    key = [names.index(n) for n in ("loudness_sma3_amean", "F0semitoneFrom27.5Hz_sma3nz_amean")]
    inner = hand_cut(6)  # [0.5 s, 2.5 s]
    assert np.isclose(out.values[6], inner, rtol=0.05, atol=1e-3).mean() > 0.9
    np.testing.assert_allclose(out.values[6, key], inner[key], rtol=0.01)
    np.testing.assert_allclose(out.values[0, key], hand_cut(0)[key], rtol=0.05)  # [0, 1 s]: clipped start
    np.testing.assert_allclose(out.values[12, key], hand_cut(12)[key], rtol=0.05)  # [2 s, 3.1 s]: clipped end


def test_egemaps_avec2019_hop_and_determinism(wav_dir):
    ex = create_extractor("egemaps", hop=0.1, win=4.0)
    times = label_times(ex.duration(wav_dir / "rec_b.wav"), ex.hop)
    first = ex.extract(wav_dir / "rec_b.wav", times)
    again = create_extractor("egemaps", hop=0.1, win=4.0).extract(wav_dir / "rec_b.wav", times)
    assert first.values.shape == (21, 88)
    np.testing.assert_allclose(first.timestamps, np.arange(21) * 0.1, atol=1e-9)
    np.testing.assert_array_equal(first.values, again.values)


def test_egemaps_lld_is_mean_of_frames_in_label_interval(wav_dir):
    signal, sr = sf.read(wav_dir / "rec_b.wav", dtype="float32")
    times = label_times(2.0, 0.5)
    out = create_extractor("egemaps_lld", hop=0.5).extract(wav_dir / "rec_b.wav", times)
    lld = opensmile.Smile(opensmile.FeatureSet.eGeMAPSv02, opensmile.FeatureLevel.LowLevelDescriptors).process_signal(
        signal, sr
    )
    start = lld.index.get_level_values("start").total_seconds().to_numpy()
    end = lld.index.get_level_values("end").total_seconds().to_numpy()
    centre = (start + end) / 2
    inside = (centre >= 0.75) & (centre < 1.25)  # label frame t = 1.0 s, hop 0.5
    np.testing.assert_allclose(out.values[2], lld.to_numpy()[inside].mean(0), rtol=1e-5, atol=1e-6)
    assert out.values.shape == (5, 25)


def test_label_time_past_the_end_uses_last_100_ms(wav_dir):
    signal, sr = sf.read(wav_dir / "rec_b.wav", dtype="float32")
    out = create_extractor("egemaps", hop=0.25, win=0.5).extract(wav_dir / "rec_b.wav", np.array([1.0, 2.6]))
    smile = opensmile.Smile(opensmile.FeatureSet.eGeMAPSv02, opensmile.FeatureLevel.Functionals)
    tail = smile.process_signal(signal[-1600:], sr).to_numpy()[0]  # last 100 ms at 16 kHz
    np.testing.assert_allclose(out.values[1], np.nan_to_num(tail), rtol=1e-5, atol=1e-5)
    assert np.isfinite(out.values).all() and np.abs(out.values[1]).sum() > 0
