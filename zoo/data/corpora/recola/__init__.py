"""RECOLA (AVEC 2016 release, 40 ms labels): reader, layout and synthetic corpus."""
