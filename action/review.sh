#!/usr/bin/env bash
# Runs `nnlint review` with the action's inputs, which arrive as NNLINT_* environment
# variables (see action.yml). Import-mode tracing, which executes the pull request's code, is
# on only when the workflow set trace-import to true.
set -euo pipefail
args=(review --no-cache --max-comments "${NNLINT_MAX_COMMENTS:-20}" --fail-on "${NNLINT_FAIL_ON:-warning}")
if [ -n "${NNLINT_FORMAT:-}" ]; then
  if [ -z "${NNLINT_OUTPUT_FILE:-}" ]; then
    echo "::error title=nnlint::the format input needs an output-file"
    exit 2
  fi
  args+=(--format "$NNLINT_FORMAT" --output-file "$NNLINT_OUTPUT_FILE")
fi
if [ "${NNLINT_EXIT_ZERO:-false}" = "true" ]; then
  args+=(--exit-zero)
fi
if [ "${NNLINT_TRACE_IMPORT:-false}" = "true" ]; then
  args+=(--trace-import)
elif [ "${NNLINT_TRACE:-false}" = "true" ]; then
  args+=(--trace)
fi
read -r -a paths <<< "${NNLINT_PATHS:-}"  # space-separated; none: the files the pull request changes
exec nnlint "${args[@]}" -- "${paths[@]}"
