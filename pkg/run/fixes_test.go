package run_test

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/birdflock/runner/pkg/run"
)

// Every name in the run record is masked, the encoded forms of secrets are
// masked, and job outputs that hold a secret are dropped.
func TestSecretsMaskedEverywhere(t *testing.T) {
	secret := "pa\"ss\\word-long\nline-two"
	res, out := runWF(t, context.Background(), `
on: push
jobs:
  a:
    runs-on: x
    outputs:
      leak: ${{ steps.m.outputs.v }}
      fine: ${{ steps.m.outputs.ok }}
    steps:
      - name: deploy ${{ secrets.TOK }}
        id: m
        run: |
          echo "::add-mask::masked-at-runtime"
          echo "v=x-masked-at-runtime" >> "$GITHUB_OUTPUT"
          echo "ok=plain" >> "$GITHUB_OUTPUT"
          echo '${{ toJSON(secrets) }}'
          printf '%s' "$MULTI" | base64 -w0; echo
          printf 'user:%s' "$MULTI" | base64 -w0; echo
        env:
          MULTI: ${{ secrets.MULTI }}
      - name: then ${{ steps.m.outputs.v }}
        run: "true"
  b:
    needs: a
    runs-on: x
    steps:
      - run: echo "got [${{ needs.a.outputs.leak }}] [${{ needs.a.outputs.fine }}]"
`, run.Options{Secrets: map[string]string{"TOK": "s3cr3tval", "MULTI": secret}})
	all := out
	for _, j := range res.Jobs {
		all += j.Name + "\n"
		for _, s := range j.Steps {
			all += s.Name + "\n"
		}
	}
	b64 := base64.StdEncoding.EncodeToString([]byte(secret))
	for _, leak := range []string{"s3cr3tval", "masked-at-runtime", `word-long`, b64[:12], base64.StdEncoding.EncodeToString([]byte(secret[1:]))[:12]} {
		if strings.Contains(all, leak) {
			t.Errorf("%q leaked:\n%s", leak, all)
		}
	}
	if a := job(t, res, "a"); a.Steps[0].Name != "deploy ***" || a.Steps[1].Name != "then x-***" {
		t.Errorf("step names %q, %q", a.Steps[0].Name, a.Steps[1].Name)
	}
	if !strings.Contains(out, "Skip output 'leak' since it may contain secret.") || !strings.Contains(out, "got [] [plain]") {
		t.Errorf("job output with a secret not dropped:\n%s", out)
	}
}

// GITHUB_EVENT_PATH holds the payload; pull_request payloads set ref,
// head_ref and base_ref; unnamed steps get GitHub's GITHUB_ACTION names;
// custom shells keep quoted arguments; run-name is the run's title.
func TestEventRefsActionNamesShellsTitle(t *testing.T) {
	res, out := runWF(t, context.Background(), `
run-name: Deploy by ${{ github.actor }} of ${{ github.event.number }}
on: pull_request
jobs:
  a:
    runs-on: x
    steps:
      - run: cat "$GITHUB_EVENT_PATH" | tr -d ' \n'; echo
      - run: echo "refs $GITHUB_REF ${{ github.ref_name }} $GITHUB_HEAD_REF ${{ github.base_ref }} action $GITHUB_ACTION"
      - id: named
        run: echo "action $GITHUB_ACTION"
      - run: echo "action $GITHUB_ACTION"
        shell: bash -c "echo custom-arg {0}; cat {0}"
      - uses: actions/upload-artifact@v4
        with: {name: x, path: nothing-here, if-no-files-found: ignore}
      - uses: actions/upload-artifact@v4
        with: {name: y, path: nothing-here, if-no-files-found: ignore}
      - run: echo "uses-steps $GITHUB_ACTION"
      - run: sleep 5
        timeout-minutes: ${{ 0.005 }}
`, run.Options{Event: "pull_request", Repo: run.Repo{Actor: "ana", Ref: "refs/heads/feature"},
		EventPayload: map[string]any{"number": 7.0, "pull_request": map[string]any{
			"head": map[string]any{"ref": "feature"}, "base": map[string]any{"ref": "main"}}}})
	for _, want := range []string{
		`{"number":7,"pull_request":{"base":{"ref":"main"},"head":{"ref":"feature"}}}`,
		"refs refs/pull/7/merge 7/merge feature main action __run_2",
		"action named",
		"custom-arg /",
		`| echo "action $GITHUB_ACTION"`,
		"uses-steps __run_4",
		"▶ Deploy by ana of 7 (run ",
		"exceeded its timeout of 0.005 minutes",
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
`, run.Options{Repo: run.Repo{Actor: "ana", Ref: "refs/heads/main", Repository: "o/r"}})
	if !strings.Contains(out, "| 1\n") || !strings.Contains(out, "event ana __run\n") {
		t.Errorf("event file or context missing:\n%s", out)
	}
}
