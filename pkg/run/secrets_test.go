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
`, run.Trigger{}, run.Options{Secrets: map[string]string{"TOK": "s3cr3tval", "MULTI": secret}})
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
