"""comicc: a compiler for comic books."""

__version__ = "0.1.0"
