#!/usr/bin/env python
"""SHA-256 of every synthetic corpus variant, to check that a refactoring changes no byte.

Calls the writers of :mod:`zoo.data.synthetic` directly into temporary folders (no cache) and
prints one digest per variant: the hash of each file's relative path and bytes, in sorted path
order. Run it before and after a change; the lines must be identical.

Two kinds of file are hashed by content instead of bytes, because their bytes differ from run to
run for reasons that are not the data: ``.csd`` (HDF5 stores object creation times) and ``.pkl``
(pickle memoisation depends on string identity, which varies between processes). Their groups,
datasets, attributes and values are hashed in a canonical order.

The synthetic MuSe-CaR's face network (``models/*.pth``, ``torch.save``) and the features computed
with it are written with one torch thread, so that its float32 sums do not depend on the thread
count; openSMILE and the MP4 encoder are deterministic. A digest is still only comparable between
runs with the same versions of torch, openSMILE and PyAV on the same kind of CPU.

Every digest must also be the same from one process to the next (different string hash seeds):
the synthetic CMU-MOSEI writer used to shuffle its video ids in the iteration order of a ``set``
of strings, so its corpus changed between processes (fixed in synthetic version 2).

Usage::

    PYTHONPATH=$PWD python scripts/synthetic_digest.py [--only NAME ...]
"""

from __future__ import annotations

import argparse
import hashlib
import pickle
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from zoo.data.corpora.cmu_mosei.synthetic import write_aligned_pickle, write_synthetic_cmu_mosei
from zoo.data.corpora.muse_car.synthetic import write_synthetic_muse_car
from zoo.data.corpora.recola.synthetic import write_synthetic_recola
from zoo.data.corpora.sewa.synthetic import write_synthetic_sewa


def _canonical(value: Any, digest: hashlib._Hash) -> None:
    """Feed a canonical encoding of a loaded pickle / HDF5 value into ``digest``."""
    if isinstance(value, dict):
        digest.update(b"{")
        for key in sorted(value, key=repr):
            digest.update(repr(key).encode() + b":")
            _canonical(value[key], digest)
        digest.update(b"}")
    elif isinstance(value, (list, tuple)):
        digest.update(b"[")
        for item in value:
            _canonical(item, digest)
        digest.update(b"]")
    elif isinstance(value, np.ndarray):
        digest.update(f"array{value.dtype.str}{value.shape}".encode())
        if value.dtype.kind == "O":
            _canonical(value.tolist(), digest)
        else:
            digest.update(np.ascontiguousarray(value).tobytes())
    else:
        digest.update(repr(value).encode() + b";")


def _h5_content(path: Path) -> dict:
    """Every group, dataset and attribute of an HDF5 file as nested dicts."""
    import h5py

    def walk(node: Any) -> Any:
        attrs = {k: node.attrs[k] for k in node.attrs}
        if isinstance(node, h5py.Dataset):
            return {"attrs": attrs, "data": node[()]}
        return {"attrs": attrs, "children": {k: walk(node[k]) for k in node}}

    with h5py.File(path, "r") as handle:
        return walk(handle)


def file_digest(path: Path, digest: hashlib._Hash) -> None:
    """Feed one file into ``digest``: its bytes, or its content for ``.csd``/``.pkl``."""
    if path.suffix == ".csd":
        _canonical(_h5_content(path), digest)
    elif path.suffix == ".pkl":
        _canonical(pickle.loads(path.read_bytes()), digest)
    else:
        digest.update(path.read_bytes())


def tree_digest(folder: Path) -> str:
    """SHA-256 over ``<relative path>\\0<content>`` of every file under ``folder``, sorted by path."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        file_digest(path, digest)
        digest.update(b"\0")
    return digest.hexdigest()


def _mosei_pickle(out: Path) -> None:
    csd = out.parent / "csd"
    write_synthetic_cmu_mosei(csd, seed=0)
    out.mkdir()
    write_aligned_pickle(csd, out / "aligned_50.pkl", seed=0)


VARIANTS: dict[str, Callable[[Path], object]] = {
    # with its media (WAV, MP4, boxes, face network) and the features computed from them
    "muse_car-seed0": lambda out: write_synthetic_muse_car(out, seed=0),
    "recola-test_labels": lambda out: write_synthetic_recola(out, seed=0, with_test_labels=True),
    "recola-no_test_labels": lambda out: write_synthetic_recola(out, seed=0, with_test_labels=False),
    "sewa-avec2017": lambda out: write_synthetic_sewa(out, seed=0, release="avec2017"),
    "sewa-avec2019": lambda out: write_synthetic_sewa(out, seed=0, release="avec2019"),
    "cmu_mosei-csd": lambda out: write_synthetic_cmu_mosei(out, seed=0),
    "cmu_mosei-pkl": _mosei_pickle,
    # the variants with 16 kHz audio (raw `audio` / `waveform` feature sets of zoo/models/ssl.py)
    "sewa-avec2017-audio": lambda out: write_synthetic_sewa(out, seed=0, release="avec2017", with_audio=True),
    "cmu_mosei-audio": lambda out: write_synthetic_cmu_mosei(out, seed=0, with_audio=True),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", choices=sorted(VARIANTS), help="variants to hash")
    args = parser.parse_args()
    for name in args.only or VARIANTS:
        with tempfile.TemporaryDirectory(prefix=f"digest-{name}-") as tmp:
            out = Path(tmp) / "corpus"
            VARIANTS[name](out)
            print(f"{tree_digest(out)}  {name}", flush=True)


if __name__ == "__main__":
    main()
