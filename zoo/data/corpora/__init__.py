"""One room per corpus: its reader (``reader.py``), file layout (``format.py``) and synthetic writer."""
