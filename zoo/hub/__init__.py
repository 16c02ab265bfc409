"""Trained models in and out: checkpoints, bundles, Hugging Face, importers, ``zoo predict``."""
