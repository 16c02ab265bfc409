"""Results pages: the papers' scores beside ours (``zoo report``) and cross-corpus scoring (``zoo evaluate``)."""
