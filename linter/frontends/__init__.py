"""Frontends turn source code (and, later, graphs) into the model IR of :mod:`nnlint.ir`."""
