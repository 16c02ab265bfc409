"""``EmotionTask``: the one LightningModule that trains and evaluates every registered network.

As in lightning-hydra-template, the network is a plain ``nn.Module`` built from the registry;
this class owns the steps, the masked loss, the metrics, logging and the optimiser, once for all
papers. Everything it needs is in its hyper-parameters (plain types), so a checkpoint rebuilds
it without any other file: see :mod:`zoo.hub.pretrained`.

Logged keys: ``train/loss``, ``val/loss``, ``<stage>/<metric>_<target>`` and
``<stage>/<metric>_mean`` (e.g. ``val/ccc_arousal``, ``test/ccc_mean``); metric values are pooled
over the whole partition and merged exactly across DDP processes by torchmetrics. ``val/loss``
and ``test/loss`` are the mean of the per-batch losses weighted by batch size, kept as a sum and
a count that are summed across processes, so uneven DDP shards give the single-process value.
A non-finite training loss stops the run with a :class:`~zoo.errors.TrainingError`.

Inputs: the datamodules' loaders yield raw (delayed, windowed, zero-padded) features; the first
operation of every training/validation/test/predict step z-normalises the batch with the train
statistics of ``data_spec``, on the model's device and in float32 (autocast is switched off for
it), padded frames set back to 0 (:meth:`EmotionTask.normalize_batch`).
:meth:`EmotionTask.forward` takes normalised features.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import pytorch_lightning as pl
import torch
from torch import nn
from torchmetrics import Metric

from zoo.data._normalize import FeatureNormalizer
from zoo.data.types import DataSpec
from zoo.errors import TrainingError
from zoo.models.registry import create_model
from zoo.training.losses import build_loss
from zoo.training.metrics import build_metric
from zoo.training.postprocess import PostProcessor

__all__ = ["EmotionTask", "build_optimizer", "build_scheduler", "parameter_groups"]

_OPTIMIZERS = {
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "rmsprop": torch.optim.RMSprop,
    "sgd": torch.optim.SGD,
}


def build_optimizer(params: Any, config: Mapping[str, Any]) -> torch.optim.Optimizer:
    """A torch optimiser from ``{name, lr, weight_decay, args}`` over parameters or groups."""
    name = str(config.get("name", "adam")).lower()
    if name not in _OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; choose one of {', '.join(_OPTIMIZERS)}")
    kwargs = dict(config.get("args") or {})
    return _OPTIMIZERS[name](
        params, lr=float(config["lr"]), weight_decay=float(config.get("weight_decay", 0.0)), **kwargs
    )


@runtime_checkable
class RebuildsFromCheckpoint(Protocol):
    """A network whose construction reads files (e.g. a pretrained encoder's config) and that
    can instead be rebuilt from extra model arguments stored in the checkpoint."""

    def checkpoint_model_args(self) -> dict[str, Any]:
        """Model arguments to store so the network rebuilds without those files."""


@runtime_checkable
class ProvidesFeatureEncoders(Protocol):
    """A network with frozen feature transforms whose outputs may be cached with the corpus
    (see :meth:`zoo.data.datamodule.CorpusDataModule.attach_feature_encoder`)."""

    def feature_encoders(self) -> dict[str, Any]:
        """``{feature set: transform}`` (empty when nothing may be cached)."""


def _flatten(mapping: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    """``{"net": {"speech": 0.1}}`` → ``{"net.speech": 0.1}`` (the dotted form of an override)."""
    flat: dict[str, float] = {}
    for key, value in mapping.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, name + "."))
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            flat[name] = float(value)
        else:
            raise ValueError(
                f"optimizer.lr_multipliers.{name}: expected a number, got {value!r} (write "
                "optimizer.lr_multipliers.net.speech=0.01 or {net.speech: 0.01}, with the space)"
            )
    return flat


def parameter_groups(
    module: nn.Module, lr: float, multipliers: Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Optimiser parameter groups with per-submodule learning-rate multipliers.

    A multiplier applies to every parameter whose dotted name starts with its prefix at a module
    boundary (``net.speech`` covers ``net.speech.conv2.weight``, not ``net.speechx.w``); the
    longest matching prefix wins; the other parameters keep ``lr``. This is how a pretrained or
    very wide feature extractor is fine-tuned more gently than the layers above it, e.g. the
    4000-tap convolution of Tzirakis et al.'s speech network, which Adam at the recurrent layers'
    learning rate would overwrite within a few steps.

    Args:
        module: the module whose parameters are optimised (names as in ``named_parameters``).
        lr: base learning rate.
        multipliers: ``{prefix: factor}`` (nested mappings are read as dotted prefixes).

    Returns:
        Groups ``{"params", "lr", "name"}``, the base group first; empty groups are dropped.

    Raises:
        ValueError: a prefix that matches no parameter (naming the top-level modules), or a
            negative factor.
    """
    factors = _flatten(multipliers or {})
    for prefix, factor in factors.items():
        if factor < 0:
            raise ValueError(f"optimizer.lr_multipliers.{prefix}: a learning-rate factor must be >= 0, got {factor}")
    named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
    groups: dict[str, list[nn.Parameter]] = {"": []}
    groups.update({prefix: [] for prefix in factors})
    for name, param in named:
        matches = [pre for pre in factors if name == pre or name.startswith(pre + ".")]
        groups[max(matches, key=len) if matches else ""].append(param)
    empty = [pre for pre in factors if not groups[pre]]
    if empty:
        tops = sorted({".".join(n.split(".")[:2]) for n, _ in named})
        raise ValueError(
            f"optimizer.lr_multipliers: {empty} match no trainable parameter; parameters live in "
            f"modules such as {tops[:12]}"
        )
    out = [{"params": groups[""], "lr": lr, "name": "base"}] if groups[""] else []
    out += [{"params": groups[pre], "lr": lr * factors[pre], "name": pre} for pre in factors]
    return out


def build_scheduler(optimizer: torch.optim.Optimizer, config: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A Lightning ``lr_scheduler`` dict from ``{name: none|plateau|step, ...}``, or ``None``."""
    name = str((config or {}).get("name", "none")).lower()
    if name == "none":
        return None
    if name == "plateau":
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer,
            mode=config.get("mode", "min"),
            factor=float(config.get("factor", 0.5)),
            patience=int(config.get("patience", 5)),
        )
        return {"scheduler": scheduler, "monitor": config.get("monitor", "train/loss"), "interval": "epoch"}
    if name == "step":
        scheduler = torch.optim.lr_scheduler.StepLR(
            optimizer, step_size=int(config.get("step_size", 50)), gamma=float(config.get("gamma", 0.5))
        )
        return {"scheduler": scheduler, "interval": "epoch"}
    raise ValueError(f"unknown scheduler {name!r}; choose none, plateau or step")


class WeightedMean(Metric):
    """``Σ w·x / Σ w`` kept as a sum and a count, both summed across DDP processes.

    torchmetrics' ``MeanMetric`` either drops NaN values (hiding a diverged loss) or, with
    ``nan_strategy="disable"``, ignores the weights (torchmetrics 1.9); this keeps both.
    """

    full_state_update = False

    def __init__(self) -> None:
        super().__init__()
        self.add_state("total", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, value: torch.Tensor, weight: float = 1.0) -> None:  # noqa: D102
        self.total += value.detach().double().sum() * float(weight)
        self.count += float(weight)

    def compute(self) -> torch.Tensor:  # noqa: D102
        return (self.total / self.count).float() if self.count > 0 else self.total.new_tensor(float("nan")).float()


class EmotionTask(pl.LightningModule):
    """Train/evaluate a registered network on a sequence datamodule.

    Args:
        model: registry name of the network.
        data_spec: the datamodule's :class:`~zoo.data.types.DataSpec` (or its dict; feature
            names/dims, target names, level, label step, normalisation statistics) — stored so a checkpoint is self-contained; its
            statistics normalise every batch (:attr:`normalizer`).
        model_args: keyword arguments of the model variant.
        loss: ``{"name": "ccc"|"mse"|"mae", "weights": per-target weights or None}``.
        metrics: metric names (see :mod:`zoo.training.metrics`) evaluated on val and test.
        optimizer: ``{"name", "lr", "weight_decay", "args"}``.
        scheduler: ``{"name": "none"|"plateau"|"step", ...}``.
        recipe: the resolved recipe, kept in the checkpoint for reproducibility.
        loaded_files: what the files named by ``model_args`` hold, read by the caller
            (:func:`zoo.hub.checkpoint_io.read_model_files`; the network reads none); not a
            hyper-parameter.
    """

    def __init__(
        self,
        model: str,
        data_spec: Mapping[str, Any] | DataSpec,
        model_args: Mapping[str, Any] | None = None,
        loss: Mapping[str, Any] | None = None,
        metrics: Sequence[str] = ("ccc",),
        optimizer: Mapping[str, Any] | None = None,
        scheduler: Mapping[str, Any] | None = None,
        recipe: Mapping[str, Any] | None = None,
        loaded_files: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__()
        # a typed spec (old checkpoints' specs are upgraded); stored as plain types
        spec = DataSpec.from_dict(data_spec)
        data_spec = spec.to_dict()
        self.save_hyperparameters(ignore=["loaded_files"])
        #: ``"frame"`` (outputs ``(B, T, K)``, masked by the frame mask) or ``"segment"``
        #: (outputs ``(B, K)``), as the corpus declares
        self.level: str = spec.level
        self.target_names: list[str] = list(data_spec["target_names"])
        #: train-partition z-normalisation of the raw batches (statistics from ``data_spec``,
        #: non-persistent buffers: the checkpoint keeps them in the hyper-parameters)
        self.normalizer = FeatureNormalizer.from_spec(data_spec.get("normalization"))
        self.net: nn.Module = create_model(
            model,
            feature_dims=dict(data_spec["feature_dims"]),
            num_targets=len(self.target_names),
            **dict(model_args or {}),
            **({"loaded": dict(loaded_files)} if loaded_files else {}),
        )
        if isinstance(self.net, RebuildsFromCheckpoint):
            # e.g. a speech encoder's full config: the checkpoint then rebuilds the network
            # without the folder the encoder was first read from
            self.hparams["model_args"] = {**dict(model_args or {}), **self.net.checkpoint_model_args()}
        loss = dict(loss or {"name": "ccc"})
        self.loss_fn = build_loss(
            loss.get("name", "ccc"),
            self.target_names,
            loss.get("weights"),
            aggregation=loss.get("aggregation", "pooled"),
        )
        #: fitted on val after training (zoo.training.postprocess); applied to test and predict outputs
        self.postprocessor: PostProcessor | None = None
        self.metric_names = list(metrics)
        num_targets = len(self.target_names)
        #: evaluation loss as a weighted sum and count (states summed across DDP processes); NaN kept
        self.stage_losses = nn.ModuleDict({s: WeightedMean() for s in ("val", "test")})
        self.stage_metrics = nn.ModuleDict(
            {
                stage: nn.ModuleDict({m: build_metric(m, num_targets) for m in self.metric_names})
                for stage in ("val", "test")
            }
        )

    # ------------------------------------------------------------------ forward
    def forward(self, features: Mapping[str, torch.Tensor], mask: torch.Tensor) -> torch.Tensor:
        """Per-frame predictions ``(B, T, K)`` from *normalised* features (see
        :meth:`normalize_batch`)."""
        return self.net(features, mask)

    def normalize_batch(self, batch: Mapping[str, Any]) -> dict[str, Any]:
        """The batch with its features z-normalised by :attr:`normalizer` (padded frames 0).

        Runs in float32 with autocast switched off, so under ``bf16-mixed`` / ``16-mixed`` the
        statistics are applied exactly as in a ``32`` run.

        Args:
            batch: a loader batch of raw features (``"features"`` and ``"mask"``), on any device.

        Returns:
            A new batch dict with new feature tensors for the normalised sets; the input batch is
            left as it was (a loader may serve the same tensors again, e.g. a cached list).
        """
        with torch.autocast(device_type=batch["mask"].device.type, enabled=False):
            features = self.normalizer(batch["features"], batch["mask"])
        return {**batch, "features": features}

    def target_mask(self, preds: torch.Tensor, batch: Mapping[str, Any]) -> torch.Tensor | None:
        """The mask that applies to the targets: the frame mask at frame level, none at segment
        level (whose input mask only marks padded input steps).

        Raises:
            ValueError: outputs whose shape is not the declared level's (``(B, T, K)`` / ``(B, K)``).
        """
        expected = 3 if self.level == "frame" else 2
        if preds.ndim != expected:
            raise ValueError(
                f"{self.hparams['model']}: {self.level}-level data needs outputs with {expected} "
                f"dimensions, the model gave {tuple(preds.shape)}"
            )
        return batch["mask"] if self.level == "frame" else None

    def _shared_step(self, batch: Mapping[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        """Predictions and loss of a loader batch of raw features (normalised first)."""
        batch = self.normalize_batch(batch)
        preds = self(batch["features"], batch["mask"])
        loss = self.loss_fn(preds.float(), batch["targets"], self.target_mask(preds, batch))
        return preds, loss

    def training_step(self, batch: Mapping[str, Any], batch_idx: int) -> torch.Tensor:
        _, loss = self._shared_step(batch)
        if not bool(torch.isfinite(loss)):
            ids = list(batch["ids"])
            shown = ids if len(ids) <= 5 else [*ids[:5], f"... {len(ids)} in all"]
            raise TrainingError(
                f"the training loss is {float(loss.detach())} at epoch {self.current_epoch}, step "
                f"{self.global_step} (batch {batch_idx}, recordings {shown}); {self._largest_input(batch)}; "
                "check that file, lower optimizer.lr, or set trainer.gradient_clip_val"
            )
        self.log(
            "train/loss",
            loss,
            on_step=False,
            on_epoch=True,
            prog_bar=True,
            batch_size=len(batch["ids"]),
            sync_dist=True,
        )
        return loss

    def _largest_input(self, batch: Mapping[str, Any]) -> str:
        """Where the batch's largest raw input value is: feature set, recording, time (the row of
        the corpus's file) and the file, for the message of a loss that is not finite."""
        mask = batch["mask"]
        best: tuple[float, str, int, int] | None = None
        for name, x in batch["features"].items():
            if not torch.is_floating_point(x) or x.ndim < 2:
                continue
            size = x.detach().float().abs().reshape(x.shape[0], x.shape[1], -1).amax(dim=2)
            size = torch.nan_to_num(size, nan=float("inf"))
            if mask.shape == size.shape:
                size = size.masked_fill(~mask.bool(), -1.0)
            flat = int(size.argmax())
            b, t = divmod(flat, size.shape[1])
            value = float(size[b, t])
            if best is None or value > best[0]:
                best = (value, name, b, t)
        if best is None:
            return "no floating-point input to inspect"
        value, name, b, t = best
        rec = batch["ids"][b]
        times = batch.get("timestamps")
        at = (
            f"at {float(times[b, t]):.3f} s (the row of that time in its file)"
            if self.level == "frame" and times is not None and times.ndim == 2
            else f"at word step {t}"
        )
        corpus = getattr(getattr(self.trainer, "datamodule", None), "corpus", None) if self._trainer else None
        path = corpus.feature_file(rec, name) if corpus is not None else None
        where = f", file {path}" if path is not None else ""
        return f"its largest input value is {value:g} in feature set {name!r} of recording {rec} {at}{where}"

    @staticmethod
    def _drop_padding(batch: Mapping[str, Any]) -> Mapping[str, Any]:
        """The batch without the padding item a DDP rank without recordings evaluates
        (see :class:`zoo.data._sequence.ShardPaddedDataset`)."""
        padding = batch.get("padding")
        if padding is None or not bool(padding.any()):
            return batch
        keep = ~padding
        out = {}
        for key, value in batch.items():
            if key == "features":
                out[key] = {n: x[keep] for n, x in value.items()}
            elif isinstance(value, torch.Tensor) and value.ndim > 0 and len(value) == len(keep):
                out[key] = value[keep]
            elif isinstance(value, list) and len(value) == len(keep):
                out[key] = [v for v, k in zip(value, keep.tolist()) if k]
            else:
                out[key] = value
        return out

    def _eval_step(self, batch: Mapping[str, Any], stage: str) -> dict[str, Any]:
        batch = self._drop_padding(batch)
        if not batch["ids"]:  # this process only ran the padding item: nothing to score
            return {"preds": batch["targets"].float(), "mask": batch["mask"], "ids": []}
        if not bool(batch["has_targets"].all()):
            missing = [i for i, h in zip(batch["ids"], batch["has_targets"].tolist()) if not h]
            raise RuntimeError(
                f"cannot score the {stage} partition: recordings {missing} have no labels (the "
                "corpus does not distribute them). Use `zoo predict` to write predictions instead."
            )
        preds, loss = self._shared_step(batch)
        self.stage_losses[stage].update(loss.detach().float(), weight=len(batch["ids"]))
        if stage == "test":
            preds = self._postprocess(preds, batch)
        mask = self.target_mask(preds, batch)
        for metric in self.stage_metrics[stage].values():
            metric.update(preds.float(), batch["targets"], mask)
        return {"preds": preds.float(), "mask": batch["mask"], "ids": batch["ids"]}

    def validation_step(self, batch: Mapping[str, Any], batch_idx: int) -> dict[str, Any]:
        return self._eval_step(batch, "val")

    def test_step(self, batch: Mapping[str, Any], batch_idx: int) -> dict[str, Any]:
        return self._eval_step(batch, "test")

    def predict_step(self, batch: Mapping[str, Any], batch_idx: int, dataloader_idx: int = 0) -> dict[str, Any]:
        batch = self.normalize_batch(self._drop_padding(batch))
        preds = self._postprocess(self(batch["features"], batch["mask"]), batch)
        return {"preds": preds.float(), "mask": batch["mask"], "ids": batch["ids"]}

    def _postprocess(self, preds: torch.Tensor, batch: Mapping[str, Any]) -> torch.Tensor:
        """Apply the fitted post-processing chain (if any) to whole-recording predictions."""
        if self.postprocessor is None or self.level != "frame":
            return preds
        return self.postprocessor.apply_batch(preds, batch["mask"], self.target_names)

    def _log_reduced(self, key: str, value: torch.Tensor, **kwargs: Any) -> None:
        """Log a value that is already reduced across processes (equal on every rank).

        ``sync_dist=True`` with ``reduce_fx="max"`` returns the value unchanged (the maximum of
        equal numbers, bit for bit, where a mean could move it by a rounding step) and keeps
        Lightning from warning that an epoch-level value is not synchronised.
        """
        self.log(key, value, on_step=False, on_epoch=True, sync_dist=True, reduce_fx="max", **kwargs)

    def _log_epoch_metrics(self, stage: str) -> None:
        # Under DDP every process must take part in compute() (it gathers the states), also one
        # that evaluated no recording; in one process a metric never updated is skipped.
        distributed = torch.distributed.is_available() and torch.distributed.is_initialized()
        loss = self.stage_losses[stage]
        if loss.update_called or distributed:
            self._log_reduced(f"{stage}/loss", loss.compute())
            loss.reset()
        for name, metric in self.stage_metrics[stage].items():
            if not (metric.update_called or distributed):
                continue
            values = metric.compute().reshape(-1)  # already reduced across processes
            for target, value in zip(self.target_names, values):
                self._log_reduced(f"{stage}/{name}_{target}", value)
            self._log_reduced(f"{stage}/{name}_mean", values.mean(), prog_bar=(stage == "val"))
            metric.reset()

    def on_validation_epoch_end(self) -> None:
        self._log_epoch_metrics("val")

    def on_test_epoch_end(self) -> None:
        self._log_epoch_metrics("test")

    # ------------------------------------------------------------------ optimisation
    def configure_optimizers(self) -> Any:
        config = dict(self.hparams.optimizer or {"lr": 1e-3})
        groups = parameter_groups(self, float(config["lr"]), config.pop("lr_multipliers", None))
        optimizer = build_optimizer(groups, config)
        scheduler = build_scheduler(optimizer, self.hparams.scheduler)
        if scheduler is None:
            return optimizer
        return {"optimizer": optimizer, "lr_scheduler": scheduler}

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Mark the checkpoint as affect-zoo's, so loaders can refuse foreign files clearly."""
        from zoo._version import __version__

        checkpoint["affect_zoo"] = {"format_version": 1, "zoo_version": __version__, "model": self.hparams.model}
        if self.postprocessor is not None:
            checkpoint["affect_zoo"]["postprocess"] = self.postprocessor.to_dict()
