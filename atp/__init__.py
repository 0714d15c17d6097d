"""ATP: an automated crypto trading platform that can prove its whole chain works."""

__version__ = "0.1.0"
