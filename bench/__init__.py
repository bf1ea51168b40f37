"""Benchmarks of tasador against its peers (`make bench`)."""
