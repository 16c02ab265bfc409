"""Declared types and ranges of option values, checked before anything is built or any run folder
is made.

An option's value is checked against a :class:`Rule` declared next to its default: the recipe's
top-level keys in :data:`RECIPE_RULES` (beside ``defaults.yaml``), the datamodule's own options in
:data:`zoo.data.datamodule.DATA_OPTION_RULES` (beside its defaults) and each corpus reader's
options in its ``option_rules`` (:attr:`zoo.data.corpus.Corpus.option_rules`). A value outside its
rule is one :class:`~zoo.errors.ConfigError` naming the key, what was expected and what was found::

    data.args.eval_batch_size: expected an integer >= 1, found 1.5

A rule states a kind (``int``, ``float`` — any real number —, ``str``, ``bool``, ``list``,
``dict``), an optional closed or open bound on either side, whether ``null`` is allowed, a set of
choices, and for lists whether the items must be distinct (each item may have its own rule);
a few values need a check of their own (``run_name`` is one plain folder name).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from zoo.config.recipe import _TYPE_NAMES as _KIND_NAMES  # the words for a kind, as the type check says them
from zoo.errors import ConfigError

__all__ = ["Rule", "RECIPE_RULES", "check_options", "plain_folder_name", "rule_problem"]


@dataclass(frozen=True)
class Rule:
    """What one option's value may be.

    Attributes:
        kind: ``int``, ``float`` (any finite real number), ``str``, ``bool``, ``list`` or ``dict``;
            ``None`` for any kind (with ``choices`` or ``check``).
        low, high: bounds (for numbers; for strings and lists: their length).
        low_open, high_open: whether the bound itself is excluded.
        nullable: ``null`` is allowed.
        choices: the only values allowed.
        items: the rule of each item of a list.
        distinct: the items of a list must differ.
        check: ``check(value)`` → ``None`` or what is wrong with a value that passed the rest.
        path: a ``str`` rule also takes a path object (``pathlib.Path``); bounds apply to its text.
        meaning: what ``null`` (or the value) means, appended to the expectation.
    """

    kind: type | None = None
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    nullable: bool = False
    choices: tuple[Any, ...] | None = None
    items: Rule | None = None
    distinct: bool = False
    check: Callable[[Any], str | None] | None = None
    path: bool = False
    meaning: str = ""

    def describe(self) -> str:
        """The expectation in words: ``"an integer >= 1"``, ``"null or a number in (0, 1)"``, ..."""
        if self.choices is not None:
            text = "one of " + ", ".join(_show(c) for c in self.choices)
        else:
            text = self._kind_text()
        if self.nullable:
            text = f"null or {text}"
        return f"{text} ({self.meaning})" if self.meaning else text

    def _kind_text(self) -> str:
        sized = self.kind in (str, list)
        non_empty = sized and self.low == 1 and self.high is None
        if self.kind is list:
            exact = self.low is not None and self.low == self.high
            count = f"{int(self.low)} " if exact else ""
            items = _plural(self.items.describe()) if self.items is not None else "values"
            text = f"a {'non-empty ' if non_empty else ''}list of {count}{'distinct ' if self.distinct else ''}{items}"
            return text if non_empty or exact else text + self._bounds()
        text = "a path" if self.path else _KIND_NAMES.get(self.kind, "a value")
        if non_empty:
            return text.replace("a ", "a non-empty ", 1)
        return text + self._bounds()

    def _bounds(self) -> str:
        if self.low is None and self.high is None:
            return ""
        of = " of length" if self.kind in (str, list) else ""
        if self.low is not None and self.high is not None:
            left, right = "(" if self.low_open else "[", ")" if self.high_open else "]"
            return f"{of} in {left}{self.low:g}, {self.high:g}{right}"
        if self.low is not None:
            return f"{of} {'>' if self.low_open else '>='} {self.low:g}"
        return f"{of} {'<' if self.high_open else '<='} {self.high:g}"


def _show(value: Any) -> str:
    return "null" if value is None else str(value).lower() if isinstance(value, bool) else str(value)


def _plural(text: str) -> str:
    for one, many in (
        ("an integer", "integers"),
        ("a number", "numbers"),
        ("a non-empty string", "non-empty strings"),
        ("a string", "strings"),
        ("one of", "values among"),
    ):
        if text.startswith(one):
            return many + text[len(one) :]
    return text


def _kind_ok(value: Any, kind: type | None) -> bool:
    if kind is None:
        return True
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if kind is dict:
        return isinstance(value, Mapping)
    if kind is list:
        return isinstance(value, (list, tuple))
    return isinstance(value, kind)


def rule_problem(value: Any, rule: Rule) -> str | None:
    """``None`` when ``value`` keeps ``rule``, else what is wrong (for the message)."""
    if value is None:
        return None if rule.nullable else "null is not allowed"
    if rule.choices is not None:
        return None if any(value == c and type(value) is type(c) for c in rule.choices) else "not a choice"
    if rule.path and isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not _kind_ok(value, rule.kind):
        return "wrong kind"
    size = len(value) if rule.kind in (str, list) else value if rule.kind in (int, float) else None
    if size is not None:
        if rule.low is not None and (size < rule.low or (rule.low_open and size == rule.low)):
            return "too small"
        if rule.high is not None and (size > rule.high or (rule.high_open and size == rule.high)):
            return "too large"
    if rule.kind is list:
        if rule.items is not None:
            for item in value:
                if rule_problem(item, rule.items) is not None:
                    return f"item {item!r}"
        if rule.distinct:
            seen: list[Any] = []
            for item in value:
                if item in seen:
                    return f"{item!r} is listed twice"
                seen.append(item)
    return rule.check(value) if rule.check is not None else None


def check_options(values: Mapping[str, Any], rules: Mapping[str, Rule], prefix: str = "") -> None:
    """Check every value of ``values`` (a flat or nested mapping) that has a rule.

    Args:
        values: the options, nested (``{"early_stopping": {"patience": 5}}``) or flat.
        rules: dotted key (relative to ``prefix``) → rule.
        prefix: prepended to the keys in messages (``"data.args."``).

    Raises:
        ConfigError: ``<key>: expected <rule>, found <value>`` for the first value outside its rule.
    """
    for key, rule in rules.items():
        found, value = _lookup(values, key)
        if not found:
            continue
        problem = rule_problem(value, rule)
        if problem is not None:
            detail = "" if problem in ("wrong kind", "not a choice", "too small", "too large") else f"; {problem}"
            raise ConfigError(f"{prefix}{key}: expected {rule.describe()}, found {_repr(value)}{detail}")


def _repr(value: Any) -> str:
    if value == "":
        return "'' (an empty string: an unset environment variable?)"
    return repr(value)


def _lookup(values: Mapping[str, Any], key: str) -> tuple[bool, Any]:
    if key in values:
        return True, values[key]
    node: Any = values
    for part in key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return False, None
        node = node[part]
    return True, node


# --------------------------------------------------------------------------- special values
def plain_folder_name(value: str) -> str | None:
    """``None`` when ``value`` is one plain path component (no separator, not ``.``/``..``)."""
    if value in (".", "..") or any(c in value for c in "/\\\0") or value != value.strip():
        return "a run name is one folder name inside output_dir (no '/', '\\', '..', or surrounding spaces)"
    return None


_INT = int
_NUMBER = float
#: the recipe's own keys (``defaults.yaml``); the open blocks have rules of their own
RECIPE_RULES: dict[str, Rule] = {
    "seed": Rule(_INT, low=0),
    "seeds": Rule(list, nullable=True, low=1, items=Rule(_INT, low=0), distinct=True),
    "output_dir": Rule(str, low=1),
    "run_name": Rule(str, low=1, nullable=True, check=plain_folder_name, meaning="null: <recipe>-<command>-<time>"),
    "ckpt": Rule(str, low=1, nullable=True),
    "optimizer.lr": Rule(_NUMBER, low=0, low_open=True),
    "optimizer.weight_decay": Rule(_NUMBER, low=0),
    "scheduler.factor": Rule(_NUMBER, low=0, high=1, low_open=True, high_open=True),
    "scheduler.patience": Rule(_INT, low=0),
    "scheduler.step_size": Rule(_INT, low=1),
    "scheduler.gamma": Rule(_NUMBER, low=0, low_open=True),
    "early_stopping.patience": Rule(_INT, low=0),
    "early_stopping.min_delta": Rule(_NUMBER, low=0),
    "postprocess.max_shift_seconds": Rule(_NUMBER, low=0),
    "postprocess.median_seconds": Rule(list, items=Rule(_NUMBER, low=0, low_open=True)),
    "metrics": Rule(list, low=1, distinct=True),
    "trainer.max_epochs": Rule(_INT, low=-1),
    "trainer.accumulate_grad_batches": Rule(_INT, low=1),
    "trainer.num_nodes": Rule(_INT, low=1),
    "trainer.log_every_n_steps": Rule(_INT, low=1),
}
