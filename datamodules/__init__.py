"""Moved: the corpus datamodules of affect-zoo are now ``zoo.data``.

``datamodules`` was a generic top-level name that collides with other projects' modules, so the
package lives under the project's namespace since 0.1.0: replace ``import datamodules.muse_car``
with ``import zoo.data.corpora.muse_car.reader`` (each corpus's reader is in ``zoo/data/corpora/<name>/``)
and ``from datamodules import …`` with ``from zoo.data import …``.
This folder is not part of the installed wheel; it only answers old imports run from a checkout.
"""

raise ImportError(
    "affect-zoo's corpus package moved: `datamodules` is now `zoo.data` "
    "(e.g. `from zoo.data import create_datamodule`; each corpus's reader is in zoo/data/corpora/<name>/reader.py)"
)
