"""The paper architectures: one module per paper (plus the self-supervised family), and the registry.

Each module holds a paper's networks as plain ``nn.Module`` classes and registers thin variant
functions with :func:`zoo.models.registry.register_model`. Model modules are leaves: they import
:mod:`zoo.layers`, :mod:`zoo.ccc`, :mod:`zoo.estimators` (the SVR estimators) and the registry,
nothing that reads files, runs training or knows a corpus (``scripts/check_imports.py``).
"""
