package run_test

import (
	"context"
	"strings"
	"testing"

	"github.com/birdflock/runner/pkg/run"
)

// A pull_request run: GITHUB_EVENT_PATH holds the payload, the payload
// sets ref (refs/pull/N/merge), head_ref and base_ref, and run-name is the
// run's title.
func TestPullRequestEventContext(t *testing.T) {
	res, out := runWF(t, context.Background(), `
run-name: Deploy by ${{ github.actor }} of ${{ github.event.number }}
on: pull_request
jobs:
  a:
    runs-on: x
    steps:
      - run: cat "$GITHUB_EVENT_PATH" | tr -d ' \n'; echo
      - run: echo "refs $GITHUB_REF ${{ github.ref_name }} $GITHUB_HEAD_REF ${{ github.base_ref }}"
`, run.Trigger{Event: "pull_request", Repo: run.Repo{Actor: "ana", Ref: "refs/heads/feature"}, Payload: map[string]any{"number": 7.0, "pull_request": map[string]any{
		"head": map[string]any{"ref": "feature"}, "base": map[string]any{"ref": "main"}}}}, run.Options{})
	for _, want := range []string{
		`{"number":7,"pull_request":{"base":{"ref":"main"},"head":{"ref":"feature"}}}`,
		"refs refs/pull/7/merge 7/merge feature main",
		"▶ Deploy by ana of 7 (run ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q\n%s", want, out)
		}
	}
	if res.Title != "Deploy by ana of 7" {
		t.Errorf("title %q", res.Title)
	}
}

// Without a payload, a push run still has a GitHub-like event file.
func TestDefaultPushPayload(t *testing.T) {
	_, out := runWF(t, context.Background(), `
on: push
jobs:
  a:
    runs-on: x
    steps:
      - run: |
          grep -c '"ref": "refs/heads/main"' "$GITHUB_EVENT_PATH"
          echo "event ${{ github.event.sender.login }} $GITHUB_ACTION"
`, run.Trigger{Repo: run.Repo{Actor: "ana", Ref: "refs/heads/main", Repository: "o/r"}}, run.Options{})
	if !strings.Contains(out, "| 1\n") || !strings.Contains(out, "event ana __run\n") {
		t.Errorf("event file or context missing:\n%s", out)
	}
}
