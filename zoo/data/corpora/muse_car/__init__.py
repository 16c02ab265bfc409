"""MuSe-CaR (MuSe 2020 release, 250 ms labels): reader, layout and synthetic corpus."""
