"""Recipes: loading and merging YAML with overrides, option checks, what a checkpoint fixes, ``zoo show``."""
