"""affect-zoo: published continuous emotion recognition architectures, one registry.

Public API::

    import zoo
    zoo.list_models("sun2020*")
    net = zoo.create_model("sun2020_lstm_selfattn", feature_dims={"egemaps": 88}, num_targets=2)
    model = zoo.load_pretrained("runs/.../checkpoints/best.ckpt")
    preds = model.predict({"egemaps": array_T_by_88})

Paper modules are imported on first use of the registry, so ``import zoo.ccc`` stays light.
"""

from typing import Any

from zoo._registry import create_model, list_models, model_entrypoint, register_model
from zoo._version import __version__

__all__ = ["create_model", "list_models", "model_entrypoint", "register_model", "load_pretrained", "__version__"]


def load_pretrained(path: Any, **kwargs: Any) -> Any:
    """Load a trained model from a checkpoint; see :func:`zoo.pretrained.load_pretrained`."""
    from zoo.pretrained import load_pretrained as _load

    return _load(path, **kwargs)
