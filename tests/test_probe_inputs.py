"""``scripts/probe_inputs.py`` on a subset of its catalogue (MuSe-CaR and SEWA AVEC 2017 files, no
checkpoint): every probe is refused with a message naming the file (and the row or field where one
is damaged), except those the reader can only warn about (a shorter well-formed file, a feature
value far outside the others) — so a reader that starts accepting a damaged file, or stops naming
it, fails here. The probes of an unreadable file exist only when the tests do not run as root."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "probe_inputs.py"
#: probes whose damage is only detectable as a warning (the label file is a well-formed shorter file;
#: an absurd feature value may be real data)
WARNED = {
    "sewa2017: label CSV (no header): truncated at a row boundary",
    "sewa2017: feature CSV (no header): value 1e30",
    "muse_car: feature CSV: value 1e30",
}


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("probe_inputs", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look the module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def probes() -> ModuleType:
    return _load_script()


@pytest.fixture(scope="module")
def results(probes: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> list:
    assets = probes.build_assets(
        tmp_path_factory.mktemp("probe-assets"), corpora=["muse_car", "sewa2017"], artifacts=False
    )
    return probes.run_probes(probes.catalogue(assets), assets)


def _tried(probes: ModuleType) -> int:
    """68 probes, and one unreadable file per file-access probe (5) when not running as root."""
    return 68 + (5 if probes.CAN_MAKE_UNREADABLE else 0)


def test_the_subset_covers_every_mutation_of_both_corpora(results: list, probes: ModuleType):
    labels = {r.probe.label for r in results}
    assert len(results) == _tried(probes)
    assert {
        "muse_car: label CSV: NaN cell",
        "muse_car: label CSV: label outside the declared range",
        "muse_car: feature CSV: symbolic link loop",
        "sewa2017: turns CSV: empty file",
        "sewa2017: feature CSV (no header): row names another recording",
        "sewa2017: label CSV (no header): value 1e30",
        "sewa2017: transcription CSV: a non-UTF-8 byte",
    } <= labels


def test_every_probe_is_refused_clearly(results: list, probes: ModuleType):
    outcomes = {r.probe.label: (r.outcome, r.message) for r in results}
    wrong = {
        label: o for label, o in outcomes.items() if o[0] != (probes.WARNED if label in WARNED else probes.REFUSED)
    }
    assert not wrong, "\n".join(f"{label}: {o}" for label, o in wrong.items())


def test_totals_and_table(results: list, probes: ModuleType):
    counts = probes.totals(results)
    tried = _tried(probes)
    expected = {"tried": tried, "refused": tried - 3, "warned": 3, "harmless": 0, "unclear": 0, "crash": 0, "silent": 0}
    assert counts == expected
    assert (
        probes.format_totals(counts)
        == f"tried {tried}: refused {tried - 3}, warned 3, harmless 0, unclear 0, crash 0, silent 0"
    )
    assert probes.format_table(results).count("\n") == 0  # only the header: no problem rows


def test_classification_of_an_unclear_error(probes: ModuleType):
    probe = probes.Probe("x", "kind", "name", "labels/a.csv", lambda p: None, lambda c: None, locate=True)
    assert probes.classify_error(probe, KeyError("timestamp"))[0] == probes.CRASH
    assert probes.classify_error(probe, UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid"))[0] == probes.CRASH
    assert probes.classify_error(probe, probes.ZooExit(1, "Traceback ...\nRuntimeError: x"))[0] == probes.CRASH
    assert probes.classify_error(probe, ValueError("could not convert string to float"))[0] == probes.UNCLEAR
    assert probes.classify_error(probe, ValueError("/c/labels/a.csv: bad file"))[0] == probes.UNCLEAR  # no row
    assert probes.classify_error(probe, ValueError("/c/labels/a.csv: line 3, field 'x'"))[0] == probes.REFUSED
