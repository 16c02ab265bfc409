"""A W&B sweep's ``parameters``, ``method`` and ``early_terminate`` as Optuna objects.

Parameters (W&B's forms → Optuna):

=============================================  =============================================
``value: x`` (``distribution: constant``)      fixed, passed to every trial
``values: [...]`` (``categorical``)            :class:`~optuna.distributions.CategoricalDistribution`
``int_uniform`` (``min``/``max`` integers)      ``IntDistribution(min, max)``
``uniform`` (``min``/``max``)                  ``FloatDistribution(min, max)``
``q_uniform`` (``min``/``max``/``q``)           ``FloatDistribution(min, max, step=q)``
``log_uniform_values`` (``min``/``max``)        ``FloatDistribution(min, max, log=True)``
``log_uniform`` (``min``/``max`` exponents)     ``FloatDistribution(e^min, e^max, log=True)``
=============================================  =============================================

As in W&B, a parameter without ``distribution`` is categorical with ``values``, constant with
``value``, ``int_uniform`` with integer bounds and ``uniform`` otherwise. The distributions
Optuna cannot draw (normal, beta, inverse and quantised log forms, weighted ``probabilities``)
are refused with a message that names them; the W&B server path takes them.

Methods: ``grid`` → :class:`~optuna.samplers.GridSampler` (every combination once; a trial's grid
point is its number, so workers never run a point twice), ``random`` →
:class:`~optuna.samplers.RandomSampler`, ``bayes`` → :class:`~optuna.samplers.TPESampler`
(multivariate, with the constant liar for parallel workers; W&B's server uses a Gaussian process
instead). ``early_terminate: {type: hyperband, min_iter, eta}`` (or ``max_iter`` and ``s``, from
which W&B derives ``min_iter = max_iter / eta**s``) → :class:`~optuna.pruners.SuccessiveHalvingPruner`
with rungs at ``min_iter · eta^k`` epochs, the brackets W&B's hyperband stops runs at.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from zoo.config.recipe import ConfigError

__all__ = ["SweepError", "Param", "SearchSpace", "format_value", "parse_space", "quiet_optuna"]

_SUPPORTED = (
    "constant",
    "categorical",
    "int_uniform",
    "uniform",
    "q_uniform",
    "log_uniform_values",
    "log_uniform",
)
_W_AND_B_ONLY = (
    "q_log_uniform",
    "q_log_uniform_values",
    "inv_log_uniform",
    "inv_log_uniform_values",
    "normal",
    "q_normal",
    "log_normal",
    "q_log_normal",
    "beta",
    "q_beta",
)


class SweepError(ConfigError):
    """A sweep file is invalid; the message names the file and what is wrong (``zoo`` exits 2)."""


def format_value(value: Any) -> str:
    """A parameter value as it is written in a ``key=value`` override."""
    import numpy as np

    if isinstance(value, (list, tuple)):
        return "[" + ",".join(format_value(v) for v in value) + "]"
    if isinstance(value, (np.floating, float)):
        return repr(float(value))
    if isinstance(value, np.integer):
        return str(int(value))
    return str(value)


def quiet_optuna() -> None:
    """Optuna's per-trial INFO lines off (``zoo sweep`` prints its own one line per trial)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, (bool, int, float, str))


@dataclass(frozen=True)
class Param:
    """One swept recipe key.

    Attributes:
        name: the recipe key (``optimizer.lr``).
        kind: ``constant``, ``categorical``, ``int`` or ``float``.
        value: the value of a constant.
        choices: a categorical's values (non-scalar values, e.g. lists, are stored as their
            override text and decoded back by :meth:`decode`).
        low, high, log, step: the range of an ``int`` or ``float``.
    """

    name: str
    kind: str
    value: Any = None
    choices: tuple[Any, ...] = ()
    low: float = 0.0
    high: float = 0.0
    log: bool = False
    step: float | None = None
    decoded: dict[str, Any] = field(default_factory=dict, compare=False)

    def distribution(self) -> Any:
        from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

        if self.kind == "categorical":
            return CategoricalDistribution(self.choices)
        if self.kind == "int":
            return IntDistribution(int(self.low), int(self.high))
        return FloatDistribution(self.low, self.high, log=self.log, step=self.step)

    def grid(self) -> list[Any] | None:
        """The values of a grid axis, or ``None`` when the parameter is continuous."""
        if self.kind == "categorical":
            return list(self.choices)
        if self.kind == "int":
            return list(range(int(self.low), int(self.high) + 1))
        if self.kind == "float" and self.step is not None and not self.log:
            n = int(round((self.high - self.low) / self.step))
            return [round(self.low + i * self.step, 12) for i in range(n + 1)]
        return None

    def decode(self, value: Any) -> Any:
        return self.decoded.get(value, value) if isinstance(value, str) else value

    def example(self) -> Any:
        """A value of the parameter (to check the recipe accepts the key)."""
        if self.kind == "constant":
            return self.value
        if self.kind == "categorical":
            return self.decode(self.choices[0])
        return int(self.low) if self.kind == "int" else self.low


def _number(spec: Mapping[str, Any], key: str, where: str) -> float:
    value = spec.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SweepError(f"{where}: {key} must be a number, found {value!r}")
    return value


def _param(name: str, spec: Any, where: str) -> Param:
    if not isinstance(spec, Mapping):
        raise SweepError(
            f"{where}: expected a mapping such as {{values: [...]}} or {{min: .., max: ..}}, found {spec!r}"
        )
    if "parameters" in spec:
        raise SweepError(f"{where}: nested parameters are not supported; write the dotted recipe key instead")
    if "probabilities" in spec:
        raise SweepError(
            f"{where}: weighted values (probabilities) are for the W&B server path; the local search draws them evenly"
        )
    dist = spec.get("distribution")
    if dist is None:
        if "value" in spec:
            dist = "constant"
        elif "values" in spec:
            dist = "categorical"
        elif isinstance(spec.get("min"), int) and isinstance(spec.get("max"), int):
            dist = "int_uniform"
        elif "min" in spec and "max" in spec:
            dist = "uniform"
        else:
            raise SweepError(f"{where}: give value, values, or min and max")
    if dist in _W_AND_B_ONLY:
        raise SweepError(
            f"{where}: distribution {dist} is not supported by the local (Optuna) search; "
            f"supported: {', '.join(_SUPPORTED)}. The W&B server path (zoo sweep FILE) takes it"
        )
    if dist not in _SUPPORTED:
        raise SweepError(f"{where}: unknown distribution {dist!r}; supported: {', '.join(_SUPPORTED)}")
    if dist == "constant":
        if "value" not in spec:
            raise SweepError(f"{where}: a constant needs value")
        return Param(name, "constant", value=spec["value"])
    if dist == "categorical":
        values = spec.get("values")
        if not isinstance(values, list) or not values:
            raise SweepError(f"{where}: values must be a non-empty list")
        decoded = {format_value(v): v for v in values if not _scalar(v)}
        choices = tuple(v if _scalar(v) else format_value(v) for v in values)
        if len(set(map(repr, choices))) != len(choices):
            raise SweepError(f"{where}: values holds duplicates: {values}")
        return Param(name, "categorical", choices=choices, decoded=decoded)
    low, high = _number(spec, "min", where), _number(spec, "max", where)
    if dist == "log_uniform":  # W&B: min and max are natural-log exponents
        low, high = math.exp(low), math.exp(high)
    if not low < high and not (dist == "int_uniform" and low == high):
        raise SweepError(f"{where}: min must be below max, found min {spec['min']} and max {spec['max']}")
    if dist == "int_uniform":
        if low != int(low) or high != int(high):
            raise SweepError(f"{where}: int_uniform needs integer min and max")
        return Param(name, "int", low=int(low), high=int(high))
    if dist in ("log_uniform_values", "log_uniform"):
        if low <= 0:
            raise SweepError(f"{where}: a log-uniform range must be positive, found min {spec['min']}")
        return Param(name, "float", low=float(low), high=float(high), log=True)
    step = _number(spec, "q", where) if dist == "q_uniform" else None
    if step is not None and step <= 0:
        raise SweepError(f"{where}: q must be positive")
    return Param(name, "float", low=float(low), high=float(high), step=step)


@dataclass(frozen=True)
class SearchSpace:
    """The parsed sweep: parameters, search method, metric and early termination."""

    params: tuple[Param, ...]
    method: str
    metric: str
    goal: str
    early_terminate: Mapping[str, Any] | None = None

    @property
    def direction(self) -> str:
        return "maximize" if self.goal == "maximize" else "minimize"

    def searched(self) -> list[Param]:
        return [p for p in self.params if p.kind != "constant"]

    def grid_size(self) -> int | None:
        """The number of grid points (``None`` for random and Bayesian search)."""
        if self.method != "grid":
            return None
        return math.prod(len(p.grid() or []) for p in self.searched())

    def sampler(self, seed: int) -> Any:
        """The Optuna sampler of the sweep's method."""
        import optuna

        if self.method == "grid":
            axes = {p.name: p.grid() for p in self.searched()}
            return optuna.samplers.GridSampler(axes, seed=seed)
        if self.method == "random":
            return optuna.samplers.RandomSampler(seed=seed)
        return optuna.samplers.TPESampler(seed=seed, multivariate=True, constant_liar=True)

    def pruner(self) -> Any:
        """Successive halving at W&B's hyperband brackets, or no pruning."""
        import optuna

        if not self.early_terminate:
            return optuna.pruners.NopPruner()
        spec = self.early_terminate
        eta = int(spec.get("eta", 3))
        if "min_iter" in spec:
            min_iter = int(spec["min_iter"])
        else:
            min_iter = max(1, int(round(int(spec["max_iter"]) / eta ** int(spec.get("s", 2)))))
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=min_iter, reduction_factor=eta)

    def suggest(self, trial: Any) -> dict[str, Any]:
        """The trial's values of every parameter (constants included), in the sweep's order."""
        out: dict[str, Any] = {}
        for p in self.params:
            if p.kind == "constant":
                out[p.name] = p.value
            elif p.kind == "categorical":
                out[p.name] = p.decode(trial.suggest_categorical(p.name, list(p.choices)))
            elif p.kind == "int":
                out[p.name] = trial.suggest_int(p.name, int(p.low), int(p.high))
            else:
                out[p.name] = trial.suggest_float(p.name, p.low, p.high, log=p.log, step=p.step)
        return out

    def example(self) -> dict[str, Any]:
        return {p.name: p.example() for p in self.params}

    def grid_points(self) -> list[dict[str, Any]]:
        """Every combination of a grid (for checks and documentation)."""
        axes = [(p.name, p.grid() or []) for p in self.searched()]
        return [dict(zip([a for a, _ in axes], combo)) for combo in itertools.product(*[v for _, v in axes])]


def _early_terminate(spec: Any, source: str) -> Mapping[str, Any] | None:
    if spec is None:
        return None
    where = f"{source}: early_terminate"
    if not isinstance(spec, Mapping) or spec.get("type") != "hyperband":
        raise SweepError(f"{where}: only type: hyperband is defined by W&B, found {spec!r}")
    if "min_iter" not in spec and "max_iter" not in spec:
        raise SweepError(f"{where}: hyperband needs min_iter (or max_iter and s)")
    for key in ("min_iter", "max_iter", "s", "eta"):
        if key in spec and (not isinstance(spec[key], int) or isinstance(spec[key], bool) or spec[key] < 1):
            raise SweepError(f"{where}.{key} must be a positive integer, found {spec[key]!r}")
    if spec.get("eta", 3) < 2:
        raise SweepError(f"{where}.eta must be at least 2, found {spec['eta']}")
    return dict(spec)


def parse_space(config: Mapping[str, Any], source: str) -> SearchSpace:
    """The :class:`SearchSpace` of a sweep config (already checked by ``zoo.sweeps.sweep._check_schema``).

    Raises:
        SweepError: a parameter the local search cannot draw, or a grid over a continuous range.
    """
    params = tuple(_param(str(k), v, f"{source}: parameters.{k}") for k, v in config["parameters"].items())
    method = str(config.get("method"))
    metric = config.get("metric") or {}
    space = SearchSpace(
        params,
        method,
        str(metric.get("name")),
        str(metric.get("goal", "minimize")),
        _early_terminate(config.get("early_terminate"), source),
    )
    if method == "grid":
        for p in space.searched():
            if p.grid() is None:
                raise SweepError(
                    f"{source}: parameters.{p.name}: a grid needs discrete values (values, int_uniform or "
                    "q_uniform), not a continuous range"
                )
    return space
