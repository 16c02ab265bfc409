"""``python -m zoo.cli``: the ``zoo`` command (how launchers such as ``torchrun -m`` start it)."""

import sys

from zoo.cli import main

if __name__ == "__main__":
    sys.exit(main())
