#!/usr/bin/env bash
# Installs nnlint for the action from the action's own copy (the commit the workflow pinned),
# never from the pull request's checkout, whose code is not to be run.
# NNLINT_TRACE=true: with torch for --trace, a CPU build (torch's default wheels pull several
# GB of CUDA libraries that a hosted runner cannot use).
set -euo pipefail
if [ "${NNLINT_TRACE:-false}" = "true" ]; then
  python -m pip install --quiet torch --index-url https://download.pytorch.org/whl/cpu
  python -m pip install --quiet "${GITHUB_ACTION_PATH}[trace]"
else
  python -m pip install --quiet "${GITHUB_ACTION_PATH}[onnx]"
fi
