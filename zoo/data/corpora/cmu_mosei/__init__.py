"""CMU-MOSEI (CMU-MultimodalSDK ``.csd`` files and the aligned ``.pkl``): reader, alignment, synthetic corpus."""
