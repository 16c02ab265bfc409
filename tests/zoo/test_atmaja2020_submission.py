"""An AVEC 2019 CES submission covers every test recording: German, Hungarian and the test-only
Chinese ones (issue 12). The real test partition is Test_DE 16 + Test_HU 18 + Test_CN 70; before,
the reader kept DE/HU only and a submission silently covered 34 of 104 recordings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from zoo.data.corpora.sewa.reader import read_feature_file, read_prediction_file
from zoo.data.corpora.sewa.synthetic import write_synthetic_sewa

pytestmark = pytest.mark.slow
TARGETS = ["arousal", "valence", "liking"]
TINY = [
    "trainer.max_epochs=1",
    "trainer.enable_progress_bar=false",
    "logger=none",
    "data.args.batch_size=4",
    "model.args.hidden_sizes=[8,8,8]",
]


def _test_names(corpus: Path) -> list[str]:
    return sorted(p.stem for p in (corpus / "visual_features").glob("Test_*.csv"))


def test_fit_and_zoo_predict_cover_every_test_recording(tmp_path: Path, zoo_cli):
    corpus = write_synthetic_sewa(
        tmp_path / "ces",
        seed=5,
        release="avec2019",
        with_test_labels=False,
        counts={"Train_DE": 2, "Train_HU": 1, "Devel_DE": 1, "Devel_HU": 1, "Test_DE": 1, "Test_HU": 1, "Test_CN": 2},
    )
    names = _test_names(corpus)
    assert names == ["Test_CN_01", "Test_CN_02", "Test_DE_01", "Test_HU_01"]
    run_dir = zoo_cli(
        "fit", "sewa/atmaja2020_mtl2", f"data.args.root={corpus}", f"output_dir={tmp_path / 'runs'}", *TINY
    )
    fitted = sorted(p.stem for p in (run_dir / "predictions" / "Test").glob("*.csv"))
    assert fitted == names
    ckpt = run_dir / "checkpoints" / "best.ckpt"
    # zoo predict RECIPE ckpt=...: the test partition of the corpus
    again = zoo_cli(
        "predict",
        "sewa/atmaja2020_mtl2",
        f"data.args.root={corpus}",
        f"ckpt={ckpt}",
        f"output_dir={tmp_path / 'runs'}",
        *TINY,
    )
    predicted = sorted(p.stem for p in (again / "predictions" / "Test").glob("*.csv"))
    assert predicted == names
    for name in names:  # one row per 100 ms label frame of the recording, over its whole duration
        times, values = read_prediction_file(again / "predictions" / "Test" / f"{name}.csv", TARGETS)
        fau_times, _ = read_feature_file(corpus / "visual_features" / f"{name}.csv", recording=name)
        np.testing.assert_allclose(times, np.round(np.arange(len(times)) * 0.1, 6), atol=1e-6)
        assert times[-1] == pytest.approx(np.floor(fau_times[-1] * 10 + 1e-6) / 10, abs=1e-6)
        assert values.shape == (len(times), 3) and np.all(np.isfinite(values))
    # zoo predict MODEL FOLDER: the test recordings as a user's folder
    out = zoo_cli("predict", str(ckpt), str(corpus), "--output", str(tmp_path / "folder_preds"))
    assert {p.stem for p in out.glob("Test_*.csv")} == set(names)
