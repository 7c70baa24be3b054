"""vaxreg: the data pipelines of a municipal vaccination registry (予防接種台帳)."""

__version__ = "0.1.0"
