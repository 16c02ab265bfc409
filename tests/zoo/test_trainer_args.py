"""trainer.* passes every Lightning Trainer argument through; callbacks.* builds Lightning's callbacks."""

from __future__ import annotations

import pytest
from pytorch_lightning.callbacks import LearningRateMonitor, ModelSummary, StochasticWeightAveraging

from zoo.config.trainer_args import build_callbacks, check_callback_args, check_trainer_args
from zoo.errors import ConfigError


@pytest.mark.parametrize(
    "args",
    [
        {"max_steps": 3},
        {"check_val_every_n_epoch": 2},
        {"profiler": "simple"},
        {"detect_anomaly": True},
        {"gradient_clip_algorithm": "value", "benchmark": False, "overfit_batches": 0.1},
    ],
)
def test_lightning_trainer_arguments_pass(args):
    check_trainer_args(args)


def test_typo_gets_the_closest_trainer_argument():
    with pytest.raises(ConfigError, match=r"unknown key 'trainer.max_step'\. Did you mean trainer.max_steps\?"):
        check_trainer_args({"max_step": 3})


def test_arguments_zoo_owns_name_the_recipe_key():
    with pytest.raises(ConfigError, match=r"trainer.logger is set by zoo itself; use logger"):
        check_trainer_args({"logger": False})


def test_callbacks_are_lightnings_own_classes():
    built = build_callbacks(
        {"lr_monitor": {"logging_interval": "epoch"}, "swa": {"swa_lrs": 1e-3}, "model_summary": {"max_depth": 2}},
        has_logger=True,
    )
    assert [type(c) for c in built] == [LearningRateMonitor, StochasticWeightAveraging, ModelSummary]
    assert built[1]._swa_lrs == 1e-3 and built[2]._max_depth == 2
    assert build_callbacks({"lr_monitor": {"logging_interval": "epoch"}, "swa": None}, has_logger=False) == []


@pytest.mark.parametrize(
    "block,message",
    [
        ({"ema": {}}, r"unknown key 'callbacks.ema'"),
        ({"swa": {"swa_lr": 0.1}}, r"Did you mean callbacks.swa.swa_lrs\?"),
        ({"model_summary": 2}, r"callbacks.model_summary: expected null or a mapping"),
    ],
)
def test_bad_callback_settings_are_config_errors(block, message):
    with pytest.raises(ConfigError, match=message):
        check_callback_args(block)
