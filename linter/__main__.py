"""``python -m nnlint`` runs the command line."""

import sys

from nnlint.cli import main

sys.exit(main())
