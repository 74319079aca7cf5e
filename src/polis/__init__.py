"""Polis: an open-source insurance core for South-East Asia."""

__version__ = "0.1.0"
