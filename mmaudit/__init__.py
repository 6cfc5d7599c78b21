"""mmaudit: find the products in a catalog whose photo does not match their text."""

__version__ = "0.1.0"
