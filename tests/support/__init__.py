"""Helpers shared by the tests of several levels (plain functions and data; fixtures live in conftest.py)."""
