"""nnlint: a linter for neural-network training code.

The package is the engine; the pitfalls live in :mod:`nnlint.checks`, one module each.
"""

__version__ = "0.2.0"
