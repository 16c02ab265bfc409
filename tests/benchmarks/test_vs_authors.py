"""benchmarks/vs_authors.py: reading the authors' output, patching their copy, skipping cleanly.

The end-to-end comparison needs a checkout of github.com/youcaiSUN/MuSe-Wild_2020, which is never
part of this repository: set ``AFFECT_ZOO_SUN2020_AUTHORS=/path/to/MuSe-Wild_2020`` to run it
(``--tiny``, a few minutes); without it that test is skipped with a message.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import vs_authors  # noqa: E402
from _bench_scripts import authors_checkout, run_script  # noqa: E402

# the shape of their train.py's output (hand-written from its print statements)
AUTHORS_LOG = """\
Parameters: Namespace(feature_set=['egemaps', 'vggface'])
Samples in "train" set: 158
==================================================
Epoch:  1 | Batch:   1 | Lr: 0.00500 | Time used(s): 3.2 | Training loss: 1.0084
--------------------------------------------------
Epoch:  1 | [Train] | Loss: 1.0084
Epoch:  1 |   [Val] | Loss: 0.8956 | [CCC]:  0.0800 [' 0.0800'] | PCC: 0.2856 ['0.2856'] | RMSE: 0.5192 ['0.5192']
Epoch:  1 | Save best model "./model/x.pth"!
==================================================
Epoch:  2 | Batch:   1 | Lr: 0.00500 | Time used(s): 3.0 | Training loss: 0.6991
--------------------------------------------------
Epoch:  2 | [Train] | Loss: 0.6991
Epoch:  2 |   [Val] | Loss: 0.9511 | [CCC]: -0.0141 ['-0.0141'] | PCC: 0.4147 ['0.4147'] | RMSE: 0.4882 ['0.4882']
==================================================
Best [Val CCC]: 0.0800 [' 0.0800']| Loss: 0.8956 | PCC: 0.2856 ['0.2856'] | RMSE: 0.5192 ['0.5192']
==================================================
Delete model "./model/x.pth".
"""


def test_parse_authors_output_reads_epoch_marks_and_cccs() -> None:
    lines = [(10.0 + i, line) for i, line in enumerate(AUTHORS_LOG.splitlines())]
    parsed = vs_authors.parse_authors_output(lines)
    # separators are lines 2, 8 and 13 of the log (from 0): two epoch starts, then the end of training
    assert parsed["epoch_starts"] == [12.0, 18.0]
    assert parsed["train_end"] == 23.0
    assert parsed["val_ccc"] == [0.08, -0.0141]
    assert parsed["best_val_ccc"] == 0.08


def test_parse_authors_output_names_the_problem_on_a_crash() -> None:
    lines = [(0.0, "Constructing data from scratch ..."), (1.0, "Traceback (most recent call last):")]
    with pytest.raises(RuntimeError, match=r"(?s)could not read epochs.*Traceback"):
        vs_authors.parse_authors_output(lines)


def test_summarise_epoch_times_from_stamps() -> None:
    run = {"start": 100.0, "end": 140.0, "maxrss_mb": 500.0, "cpu_s": 30.0}
    stamps = {
        "epoch_starts": [105.0, 115.0, 127.0],
        "train_end": 137.0,
        "val_ccc": [0.1, 0.3, 0.2],
        "epoch_cpu": [4.0, 9.0, 15.0],
        "train_end_cpu": 20.0,
    }
    row = vs_authors.summarise("x", 1, run, stamps)
    assert row["epoch_s"] == [10.0, 12.0, 10.0]
    assert row["epoch_cpu_s"] == [5.0, 6.0, 5.0]
    assert row["startup_s"] == 5.0 and row["after_s"] == 3.0
    assert row["best_val_ccc"] == 0.3


def test_copy_patches_only_the_verbose_argument(tmp_path: Path) -> None:
    src = tmp_path / "theirs"
    src.mkdir()
    for name in ("main.py", "utils.py", "config.py", "model.py", "dataset.py"):
        (src / name).write_text(f"# {name}\n")
    original = (
        "s = optim.lr_scheduler.ReduceLROnPlateau(optimizer=o, mode='min',\n"
        "        patience=5, factor=0.5,\n        min_lr=0.0, verbose=True)\n"
    )
    (src / "train.py").write_text(original)
    assert vs_authors.authors_checkout(src)[0] == src
    code = vs_authors.copy_authors_code(src, tmp_path / "copy")
    assert (code / "train.py").read_text() == original.replace(", verbose=True)", ")")
    assert (src / "train.py").read_text() == original  # their checkout is left as it was
    assert (code / "run_with_root.py").is_file()
    (src / "train.py").write_text("nothing to patch\n")
    with pytest.raises(RuntimeError, match="train.py.*found 0"):
        vs_authors.copy_authors_code(src, tmp_path / "copy2")


def test_our_side_pins_the_release_windowing(tmp_path: Path) -> None:
    out = vs_authors.our_overrides(tmp_path, tmp_path, tmp_path, epochs=8, seed=1, tiny=False)
    # their utils.segment_sample: 200-frame windows every 100, the last one the shorter rest
    for pinned in ("data.args.win_len=200", "data.args.hop_len=100", "data.args.last_window=remainder"):
        assert pinned in out
    from zoo.config.recipe import load_recipe

    load_recipe(str(vs_authors.RECIPE), [o for o in out if o.startswith("data.args.")])


@pytest.mark.slow
def test_script_skips_with_a_message_without_their_code(tmp_path: Path) -> None:
    out = run_script("vs_authors", str(tmp_path / "absent"))
    assert "vs_authors: skipped:" in out.stdout and "missing main.py" in out.stdout


@pytest.mark.slow
def test_vs_authors_tiny_end_to_end(tmp_path: Path) -> None:
    folder = authors_checkout("AFFECT_ZOO_SUN2020_AUTHORS", "main.py", "youcaiSUN/MuSe-Wild_2020")
    env = {**os.environ, "AFFECT_ZOO_CACHE": str(tmp_path / "cache"), "PYTHONWARNINGS": "ignore"}
    out = run_script("vs_authors", folder, "--tiny", env=env, timeout=1200)
    assert "| authors' main.py | 1 |" in out.stdout and "| zoo fit | 1 |" in out.stdout
    assert "our epoch time / theirs:" in out.stdout


@pytest.mark.slow
def test_our_side_runs_without_their_code(tmp_path: Path) -> None:
    """Our side alone (the child ``zoo fit`` with its epoch stamps), which CI can always run: one
    stamp per epoch, and the stamped validation CCCs are those of the run's own CSV log."""
    import pandas as pd
    from _perf_common import synthetic_corpus

    corpus = synthetic_corpus(
        tmp_path / "muse", 0.25, vs_authors.FEATURES, seed=0, base={"train": 24, "devel": 8, "test": 8}
    )
    row = vs_authors.run_ours(corpus, tmp_path / "cache", tmp_path, epochs=2, seed=1, rnd=1, tiny=True)
    assert row["epochs"] == 2 and len(row["epoch_s"]) == 2 and all(s > 0 for s in row["epoch_s"])
    logged = pd.read_csv(tmp_path / "runs" / "ours-1" / "logs" / "metrics.csv").dropna(subset=["val/ccc_mean"])
    stamped = row["val_ccc"]
    np_logged = logged["val/ccc_mean"].to_numpy()[: len(stamped)]
    assert stamped == pytest.approx(list(np_logged), abs=1e-6)
