"""The local profile: starts and stops the embedded services."""
