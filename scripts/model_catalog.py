"""Write ``zoo/models/catalog.json``: every registered model's paper, corpora and parameter count.

``zoo list models`` reads this file instead of importing the models (which takes seconds). Run it
after adding or changing a model or a recipe's model settings; ``tests/zoo/test_catalog.py`` fails
while the file is stale::

    python scripts/model_catalog.py            # builds each model on its recipe's synthetic corpus
"""

from __future__ import annotations

import json
import sys

from zoo.cli.catalog import MODEL_CATALOG, build_model_catalog


def main() -> int:
    catalog = build_model_catalog()
    MODEL_CATALOG.write_text(json.dumps(catalog, indent=1, sort_keys=True) + "\n")
    print(f"{len(catalog['models'])} models written to {MODEL_CATALOG}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
