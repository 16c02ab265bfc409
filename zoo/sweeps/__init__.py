"""Hyper-parameter sweeps: W&B sweep files, run by a W&B agent or locally with Optuna."""
