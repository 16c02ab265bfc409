"""Reading PyTorch files without running code from them: :func:`safe_torch_load`.

Every ``torch.load`` of a file a user gives (checkpoints, pretrained backbone weights) goes through
here, with ``weights_only=True``: only tensors and plain containers are unpickled. PyTorch's own
message for a refused file suggests re-running with ``weights_only=False`` — which would run any
code the file carries — so its refusal is turned into one line naming the file, without that
advice.
"""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

__all__ = ["safe_torch_load"]


def safe_torch_load(
    path: str | Path, what: str = "PyTorch file", error: type[Exception] = ValueError, mmap: bool = False
) -> Any:
    """``torch.load(path, map_location="cpu", weights_only=True)``, refusals as ``error``.

    Args:
        path: the file.
        what: what the file should be, for the message (``"PyTorch checkpoint"``, ...).
        error: the exception class raised (a ``ValueError`` subclass: ``zoo`` reports it as one
            line and exits with status 2).
        mmap: memory-map the tensors instead of reading them.

    Raises:
        error: a file holding objects other than tensors and plain containers (nothing of it was
            run), or a file that is not a readable PyTorch file.
    """
    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except pickle.UnpicklingError as err:
        reason = next((line.strip() for line in str(err).splitlines() if "Unsupported" in line), "")
        raise error(
            f"{path}: refused to load this {what} — it holds objects other than tensors and plain "
            f"containers, and loading them could run code (only weights_only loading is done). {reason}"
        ) from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as err:
        raise error(f"{path}: not a readable {what} ({' '.join(str(err).split())[:300]})") from None
