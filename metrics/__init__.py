"""Evaluation metrics: FID, IS, PPL, precision/recall, linear separability and KID (see metric_defaults.py)."""
