"""The package version (its own module, so that modules needing it do not import the package top level)."""

__all__ = ["__version__"]

__version__ = "0.1.0"
