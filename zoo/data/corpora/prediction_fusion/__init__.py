"""Predictions exported by earlier runs, read as a corpus for late fusion."""
