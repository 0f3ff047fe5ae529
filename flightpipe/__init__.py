"""Shared code of the projet_spark flight-delay pipeline (bronze / silver / gold)."""

__version__ = "0.1.0"
