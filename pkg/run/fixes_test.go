package run_test

import (
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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

// cancelWhen cancels the returned context once file exists.
func cancelWhen(t *testing.T, file string) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() {
		for i := 0; i < 1000; i++ {
			if _, err := os.Stat(file); err == nil {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
	}()
	return ctx
}

// After a cancellation job.status is cancelled: failure() is false and
// cancelled() true, for Ctrl-C and for fail-fast alike. A job that starts
// after the cancellation with if: always() runs its ordinary steps.
func TestStatusAfterCancellation(t *testing.T) {
	dir := t.TempDir()
	res, out := runWF(t, cancelWhen(t, dir+"/started"), `
on: push
jobs:
  a:
    runs-on: x
    steps:
      - run: touch `+dir+`/started; sleep 42.5
      - if: failure()
        run: echo failure-ran
      - if: cancelled()
        run: echo "cancelled-ran ${{ job.status }}"
  cleanup:
    needs: a
    if: always()
    runs-on: x
    steps:
      - run: echo "cleanup-plain ${{ job.status }} ${{ needs.a.result }}"
      - if: always()
        run: echo cleanup-always
`, run.Options{})
	for _, want := range []string{"cancelled-ran cancelled", "cleanup-plain success cancelled", "cleanup-always"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q\n%s", want, out)
		}
	}
	if strings.Contains(out, "failure-ran") {
		t.Errorf("failure() true after a cancellation\n%s", out)
	}
	if job(t, res, "a").Result != "cancelled" || job(t, res, "cleanup").Result != "success" || res.Conclusion != "cancelled" {
		t.Errorf("results: a %s, cleanup %s, run %s", job(t, res, "a").Result, job(t, res, "cleanup").Result, res.Conclusion)
	}

	_, out = runWF(t, context.Background(), `
on: push
jobs:
  m:
    runs-on: x
    strategy:
      matrix:
        n: [bad, good]
    steps:
      - run: |
          if [ ${{ matrix.n }} = bad ]; then sleep 0.3; exit 1; fi
          sleep 20
      - if: failure()
        run: echo "failure-ran ${{ matrix.n }}"
      - if: cancelled()
        run: echo "cancelled-ran ${{ matrix.n }} ${{ job.status }}"
`, run.Options{Parallel: 2})
	for _, want := range []string{"failure-ran bad", "cancelled-ran good cancelled"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q\n%s", want, out)
		}
	}
	for _, no := range []string{"failure-ran good", "cancelled-ran bad"} {
		if strings.Contains(out, no) {
			t.Errorf("output has %q\n%s", no, out)
		}
	}
}

// Legs whose names clean to the same file name still get a workspace and
// log of their own; object values show flattened in leg names.
func TestMatrixLegsSeparate(t *testing.T) {
	res, out := runWF(t, context.Background(), `
on: push
jobs:
  o:
    runs-on: x
    strategy:
      matrix:
        v: ["a/b", "a_b", "a b"]
    steps:
      - run: |
          echo "${{ matrix.v }}" > mine
          sleep 0.3
          echo "leg [${{ matrix.v }}] reads [$(cat mine)] in $(basename $(dirname "$GITHUB_WORKSPACE"))"
  p:
    runs-on: x
    strategy:
      matrix:
        cfg: [{a: 1, b: 2}, {a: 3}]
    steps:
      - run: echo "cfg ${{ matrix.cfg.a }}"
`, run.Options{Parallel: 3})
	for _, v := range []string{"a/b", "a_b", "a b"} {
		if !strings.Contains(out, "leg ["+v+"] reads ["+v+"]") {
			t.Errorf("leg %q did not keep its workspace\n%s", v, out)
		}
	}
	logs, _ := filepath.Glob(filepath.Join(res.Dir, "*.log"))
	if len(logs) != 5 {
		t.Errorf("want 5 job logs, got %q", logs)
	}
	if job(t, res, "p (1, 2)").Result != "success" || job(t, res, "p (3)").Result != "success" {
		t.Errorf("object legs: %+v", res.Jobs)
	}
}

// Legs start in matrix order and ready jobs in declaration order.
func TestStartOrder(t *testing.T) {
	for attempt := 0; attempt < 3; attempt++ {
		_, out := runWF(t, context.Background(), `
on: push
jobs:
  first:
    runs-on: x
    strategy:
      max-parallel: 1
      matrix:
        n: [1, 2, 3, 4]
    steps:
      - run: echo "leg ${{ matrix.n }}"
  second:
    runs-on: x
    steps:
      - run: echo "job second"
  third:
    runs-on: x
    strategy:
      matrix:
        n: [1, 2, 3]
    steps:
      - run: echo "leg3 ${{ matrix.n }}"
`, run.Options{Parallel: 1})
		var got []string
		for _, line := range strings.Split(out, "\n") {
			if i := strings.Index(line, "| "); i >= 0 {
				got = append(got, line[i+2:])
			}
		}
		want := "leg 1,leg 2,leg 3,leg 4,job second,leg3 1,leg3 2,leg3 3"
		if strings.Join(got, ",") != want {
			t.Fatalf("order %q, want %q", got, want)
		}
	}
}
