"""Non-neural estimators (SVR banks) and the runner that fits them from a recipe."""
