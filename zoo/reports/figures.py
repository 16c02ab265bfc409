"""The figure of each corpus on the results page: our headline score beside chance, per run.

One horizontal bar pair per run (ours, chance), one panel per metric family (CCC, MAE, …), so
that scores on different scales never share an axis. Several targets in a headline (arousal /
valence) are drawn as their mean. Written as SVG with fixed metadata and hash salt, so the same
numbers give the same bytes (the file is committed beside ``docs/results.md``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

__all__ = ["corpus_figure"]

#: metric families (as the results page names them) where a smaller value is better
LOWER_IS_BETTER = ("MAE", "RMSE")
#: (run label, metric family as the page names it, our values, chance values)
Row = tuple[str, str, Sequence[float | None], Sequence[float | None]]


def _mean(values: Sequence[float | None]) -> float | None:
    real = [v for v in values if v is not None]
    return sum(real) / len(real) if real else None


def corpus_figure(rows: Sequence[Row], title: str, out: Path) -> Path:
    """Draw ``rows`` into ``out`` (SVG) and return it."""
    import matplotlib
    from matplotlib.figure import Figure

    families = list(dict.fromkeys(r[1] for r in rows))
    height = 0.9 + 0.42 * max(sum(1 for r in rows if r[1] == f) for f in families)
    fig = Figure(figsize=(7.5, height * len(families)))
    axes = fig.subplots(len(families), 1, squeeze=False)[:, 0]
    for ax, family in zip(axes, families):
        mine = [r for r in rows if r[1] == family]
        labels = [r[0] for r in mine]
        ours = [_mean(r[2]) for r in mine]
        chance = [_mean(r[3]) for r in mine]
        ys = range(len(mine))
        ax.barh([y - 0.2 for y in ys], [v or 0.0 for v in ours], height=0.38, color="#2b6cb0", label="ours (synthetic)")
        ax.barh([y + 0.2 for y in ys], [v or 0.0 for v in chance], height=0.38, color="#a0aec0", label="chance")
        for y, value, base in zip(ys, ours, chance):
            for x, dy, size, color in ((value, -0.2, 7, "black"), (base, 0.2, 6, "#4a5568")):
                if x is not None:
                    offset = {"xytext": (3, 0), "textcoords": "offset points", "va": "center"}
                    ax.annotate(f"{x:.2f}", (x, y + dy), fontsize=size, color=color, **offset)
        ax.set_yticks(list(ys), labels, fontsize=7)
        ax.invert_yaxis()
        ax.axvline(0.0, color="black", linewidth=0.6)
        ax.set_xlabel(f"{family} (lower is better)" if family in LOWER_IS_BETTER else family, fontsize=8)
        ax.tick_params(axis="x", labelsize=7)
        ax.legend(fontsize=7, loc="lower right", frameon=False)
    axes[0].set_title(f"{title}: ours vs chance", fontsize=9)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with matplotlib.rc_context({"svg.hashsalt": "affect-zoo", "svg.fonttype": "none"}):
        fig.savefig(out, format="svg", metadata={"Date": None, "Creator": None})
    return out
