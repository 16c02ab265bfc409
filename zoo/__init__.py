"""affect-zoo: published continuous emotion recognition architectures, one registry.

Public API::

    import zoo
    zoo.list_models("sun2020*")
    net = zoo.create_model("sun2020_lstm_selfattn", feature_dims={"egemaps": 88}, num_targets=2)
    model = zoo.load_pretrained("runs/.../checkpoints/best.ckpt")
    preds = model.predict({"egemaps": array_T_by_88})

``import zoo`` is light (no torch): the registry and the paper modules are imported on first use
of these names, so ``zoo list`` and ``zoo --help`` answer at once.
"""

from typing import Any

from zoo._version import __version__

__all__ = ["create_model", "list_models", "model_entrypoint", "register_model", "load_pretrained", "__version__"]

_REGISTRY_NAMES = ("list_models", "model_entrypoint", "register_model")


def __getattr__(name: str) -> Any:
    """The registry's functions, imported on first access (PEP 562). ``create_model`` reads the
    files a model's arguments name first (models read none; :func:`zoo.hub.checkpoint_io.build_model`)."""
    if name == "create_model":
        from zoo.hub.checkpoint_io import build_model

        return build_model
    if name in _REGISTRY_NAMES:
        from zoo.models import registry as _registry

        return getattr(_registry, name)
    raise AttributeError(f"module 'zoo' has no attribute {name!r}")


def load_pretrained(path: Any, **kwargs: Any) -> Any:
    """Load a trained model from a checkpoint, a bundle or a Hugging Face id ``org/name``; see
    :func:`zoo.hub.pretrained.load_pretrained`."""
    from zoo.hub.pretrained import load_pretrained as _load

    return _load(path, **kwargs)
