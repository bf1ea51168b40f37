"""The inference API's routers, one per concern."""
