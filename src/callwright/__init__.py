"""Callwright: a self-hostable platform for AI phone calls."""

__version__ = "0.1.0"
