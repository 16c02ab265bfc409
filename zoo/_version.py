"""The affect-zoo version (its own module, so checkpoint and bundle writers need not import ``zoo``)."""

__version__ = "0.1.0"
