package run_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/birdflock/runner/pkg/run"
)

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
`, run.Trigger{}, run.Options{})
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
`, run.Trigger{}, run.Options{Parallel: 2})
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
