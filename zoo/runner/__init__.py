"""One ``zoo fit|validate|test|predict|baseline`` run: its folder, datamodule, trainer and figures."""
