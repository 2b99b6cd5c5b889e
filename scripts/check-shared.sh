#!/usr/bin/env bash
# make test's guard: a clone must work with nothing beside it. Only .ci/ and
# the one test of GitHub's expression conformance corpus (which skips when
# the corpus is absent) may refer to the shared folder beside the clone.
set -euo pipefail
cd "$(dirname "$0")/.."
allowed='pkg/workflow/expr/expr_conformance_test.go'
pattern='\.\./shared|"\.\.", *"shared"'
bad=$( (git grep -lE "$pattern" -- . ':!.ci' ":!$allowed" ':!scripts/check-shared.sh'
        git grep -l 'RUNNER_SHARED' -- '*.go' ":!$allowed") | sort -u || true)
if [ -n "$bad" ]; then
  echo "these files refer to the shared folder beside the clone, which a user's clone does not have:" >&2
  echo "$bad" | sed 's/^/  /' >&2
  exit 1
fi
