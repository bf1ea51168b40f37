"""Drift statistics and the drift report of a batch against a model's training data."""
