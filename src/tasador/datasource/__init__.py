"""The data API: a simulator of it, the dataset it serves, and a client for any such API."""
