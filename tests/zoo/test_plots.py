"""Run-folder figures: learning curves from a hand-written Lightning CSV log, segment scatter."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from zoo.runner.plots import plot_learning_curves, plot_segment_scatter, read_epoch_metrics

# The shape of Lightning's CSVLogger file: lr rows without an epoch, val rows and train rows apart.
LOG = """epoch,lr-Adam/base,step,train/loss,val/ccc_arousal,val/ccc_mean,val/loss
,0.005,0,,,,
0,,3,0.90,,,
0,,7,0.80,,,
0,,7,,0.10,0.10,0.95
,0.005,8,,,,
1,,15,0.50,,,
1,,15,,0.40,0.40,nan
"""


def test_epoch_metrics_average_steps_and_skip_non_finite(tmp_path):
    path = tmp_path / "metrics.csv"
    path.write_text(LOG)
    series = read_epoch_metrics(path)
    assert series["train/loss"] == [(0, pytest.approx(0.85)), (1, pytest.approx(0.50))]
    assert series["val/ccc_arousal"] == [(0, 0.10), (1, 0.40)]
    assert series["val/loss"] == [(0, 0.95)]  # the NaN of epoch 1 is not drawn
    assert not any(k.startswith("lr-") for k in series)


def test_learning_curve_png_is_written(tmp_path):
    (tmp_path / "metrics.csv").write_text(LOG)
    out = plot_learning_curves(tmp_path / "metrics.csv", tmp_path / "plots" / "learning_curves.png")
    with Image.open(out) as image:
        assert image.format == "PNG" and image.size == (1100, 400)
    (tmp_path / "empty.csv").write_text("epoch,step\n")
    assert plot_learning_curves(tmp_path / "empty.csv", tmp_path / "none.png") is None


def test_segment_scatter_has_one_panel_per_target(tmp_path):
    rng = np.random.default_rng(0)
    golds = rng.uniform(0, 3, size=(50, 6))
    out = plot_segment_scatter(
        tmp_path / "s.png",
        golds + rng.normal(0, 0.1, golds.shape),
        golds,
        ["happy", "sad", "anger", "surprise", "disgust", "fear"],
        "val",
    )
    with Image.open(out) as image:
        assert image.size == (4 * 320, 2 * 320)
