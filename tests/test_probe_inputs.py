"""``scripts/probe_inputs.py`` on a subset of its catalogue (MuSe-CaR and SEWA AVEC 2017 files, no
checkpoint): every probe is refused with a message naming the file (and the row or field where one
is damaged), except the one the reader can only warn about — so a reader that starts accepting a
damaged file, or stops naming it, fails here."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "probe_inputs.py"
#: probes whose damage is only detectable as a warning (the label file is a well-formed shorter file)
WARNED = {"sewa2017: label CSV (no header): truncated at a row boundary"}


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


def test_the_subset_covers_every_mutation_of_both_corpora(results: list):
    labels = {r.probe.label for r in results}
    assert len(results) == 55
    assert {
        "muse_car: label CSV: NaN cell",
        "sewa2017: turns CSV: empty file",
        "sewa2017: feature CSV (no header): row names another recording",
    } <= labels


def test_every_probe_is_refused_clearly(results: list, probes: ModuleType):
    outcomes = {r.probe.label: (r.outcome, r.message) for r in results}
    wrong = {
        label: o for label, o in outcomes.items() if o[0] != (probes.WARNED if label in WARNED else probes.REFUSED)
    }
    assert not wrong, "\n".join(f"{label}: {o}" for label, o in wrong.items())


def test_totals_and_table(results: list, probes: ModuleType):
    counts = probes.totals(results)
    assert counts == {"tried": 55, "refused": 54, "warned": 1, "harmless": 0, "unclear": 0, "silent": 0}
    assert probes.format_totals(counts) == "tried 55: refused 54, warned 1, harmless 0, unclear 0, silent 0"
    assert probes.format_table(results).count("\n") == 0  # only the header: no problem rows


def test_classification_of_an_unclear_error(probes: ModuleType):
    probe = probes.Probe("x", "kind", "name", "labels/a.csv", lambda p: None, lambda c: None, locate=True)
    assert probes.classify_error(probe, KeyError("timestamp"))[0] == probes.UNCLEAR
    assert probes.classify_error(probe, ValueError("could not convert string to float"))[0] == probes.UNCLEAR
    assert probes.classify_error(probe, ValueError("/c/labels/a.csv: bad file"))[0] == probes.UNCLEAR  # no row
    assert probes.classify_error(probe, ValueError("/c/labels/a.csv: line 3, field 'x'"))[0] == probes.REFUSED
