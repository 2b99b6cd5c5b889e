#!/usr/bin/env bash
# make conformance: the OCI distribution-spec conformance suite (a `tool` of
# go.mod, built into .cache/conformance) against `bin/runner registry serve`
# on a scratch directory, with pull, push, content discovery and content
# management. Reports (report.html, junit.xml, results.yaml) are left in
# .cache/conformance/results. `go test ./pkg/registry -run OCIConformance`
# runs the same and checks the failures against the known list.
set -euo pipefail
cd "$(dirname "$0")/.."
cache=$PWD/.cache/conformance
go build -o "$cache/conformance" github.com/opencontainers/distribution-spec/conformance
scratch=$(mktemp -d)
bin/runner registry serve --addr 127.0.0.1:0 --dir "$scratch/registry" >"$scratch/serve.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$scratch"' EXIT
for _ in $(seq 50); do [ -s "$scratch/registry/serving.addr" ] && break; sleep 0.1; done
addr=$(head -1 "$scratch/registry/serving.addr")
rm -rf "$cache/results"
cd "$scratch"
env -i PATH=/usr/bin:/bin HOME="$scratch" OCI_RESULTS_DIR="$cache/results" \
  OCI_REGISTRY="$addr" OCI_TLS=disabled OCI_REPO1=conformance/repo1 OCI_REPO2=conformance/repo2 \
  OCI_TEST_PULL=1 OCI_TEST_PUSH=1 OCI_TEST_CONTENT_DISCOVERY=1 OCI_TEST_CONTENT_MANAGEMENT=1 \
  "$cache/conformance" | sed -n '/^API conformance:/,$p' || true
echo "reports: $cache/results (report.html, junit.xml)"
