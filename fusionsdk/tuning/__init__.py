"""Offline fitting from evaluation data: fusion weights and panels, router training, semantic
route thresholds. The room's contract is in :mod:`fusionsdk.tuning.base`."""
