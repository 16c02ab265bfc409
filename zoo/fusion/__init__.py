"""Fusion models that combine the outputs of other trained models (late fusion).

Importing this package registers its variants (e.g. ``sun2020_late_fusion``).
"""

from zoo.fusion.late import LateFusionBiLSTM, sun2020_late_fusion

__all__ = ["LateFusionBiLSTM", "sun2020_late_fusion"]
