"""tasador: a continuously trained, served and explained house-price model."""

__version__ = "0.1.0"
