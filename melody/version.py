"""The package's version: one place, read by ``melody.__version__``, every ``--version`` and pyproject.toml."""
__version__ = "0.3.0"
