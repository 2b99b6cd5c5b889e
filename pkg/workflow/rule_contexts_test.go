package workflow

import "testing"

// Every key exprValues hands out is in the availability table, so that no
// value escapes the rule through a misspelt key.
func TestAvailabilityKeys(t *testing.T) {
	data := []byte(`on: push
name: n
run-name: r
env: {A: a}
defaults: {run: {working-directory: w}}
concurrency: {group: g, cancel-in-progress: "false"}
jobs:
  a:
    name: n
    if: "true"
    runs-on: x
    env: {A: a}
    defaults: {run: {working-directory: w}}
    outputs: {o: o}
    timeout-minutes: 1
    continue-on-error: "false"
    concurrency: {group: g, cancel-in-progress: "false"}
    strategy: {matrix: {v: [a]}, fail-fast: "true", max-parallel: 1}
    container: {image: i, credentials: {username: u, password: p}, env: {A: a}, ports: [1], volumes: ["v:/v"], options: -u 1}
    services: {s: {image: i, credentials: {username: u, password: p}, env: {A: a}}}
    steps:
      - {name: n, if: "true", run: r, shell: bash, working-directory: w, timeout-minutes: 1, continue-on-error: "false", env: {A: a}}
      - {uses: x, with: {a: a}}
  c:
    uses: ./.github/workflows/c.yml
    with: {a: a}
    secrets: {s: s}
`)
	w, errs := Parse("k.yaml", data)
	if errs != nil {
		t.Fatal(errs)
	}
	seen := map[string]bool{}
	for _, e := range exprValues(w) {
		seen[e.key] = true
		if _, ok := availabilityTable[e.key]; !ok && e.key != "" {
			t.Errorf("%s: key %q is not in the availability table", e.where, e.key)
		}
	}
	a, errs := ParseAction("action.yml", []byte(`name: n
description: d
inputs: {i: {default: d}}
outputs: {o: {value: v}}
runs:
  using: composite
  steps:
    - {name: n, if: "true", run: r, shell: bash, working-directory: w, continue-on-error: "false", env: {A: a}}
    - {uses: x, with: {a: a}}
`))
	if errs != nil {
		t.Fatal(errs)
	}
	vals := actionExprs(a)
	for _, s := range a.Runs.Steps {
		vals = append(vals, actionStepExprs(nil, s)...)
	}
	for _, e := range vals {
		seen[e.key] = true
		if _, ok := availabilityTable[e.key]; !ok {
			t.Errorf("%s: key %q is not in the availability table", e.where, e.key)
		}
	}
	for k := range availabilityTable {
		if !seen[k] {
			t.Errorf("table key %q is never used", k)
		}
	}
}
