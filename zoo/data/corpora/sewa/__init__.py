"""SEWA (AVEC 2017 and AVEC 2019 releases, 100 ms labels): reader, layout and synthetic corpus."""
