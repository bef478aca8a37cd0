"""``python -m nnlint`` runs the command line."""

from nnlint.cli import run

run()
