"""overopt: the package behind the DAA over-optimisation study workflow."""

__version__ = "0.1.0"
