"""Feature building (shared with serving), tuning, training and evaluation."""
