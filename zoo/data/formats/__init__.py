"""File layouts and table formats of the corpora, stated once.

Each module holds one format family's folder names, path helpers and table writers; the corpus
readers (:mod:`zoo.data.muse_car`, :mod:`zoo.data.sewa`, :mod:`zoo.data.recola`), the synthetic
corpora (:mod:`zoo.data.synthetic`) and ``zoo extract`` (:mod:`zoo.features.writers`) all use
them, so that what is written is what is read:

* :mod:`zoo.data.formats.muse` — MuSe 2020 (MuSe-CaR): partition table, label and
  label-aligned feature CSVs;
* :mod:`zoo.data.formats.sewa` — SEWA (AVEC 2017 / 2019): folders and ``;``-separated tables;
* :mod:`zoo.data.formats.recola` — RECOLA (AVEC 2016): folders and paths (ARFF itself is in
  :mod:`zoo.data.arff`).

These modules import nothing from the rest of affect-zoo.
"""
