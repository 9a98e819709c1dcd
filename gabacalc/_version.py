"""The gabacalc version (one place, read by the build and by every output)."""

__version__ = "0.1.0"
