package testenv

import (
	"fmt"
	"testing"
	"time"
)

func TestEventually(t *testing.T) {
	n := 0
	Eventually(t, time.Second, func() bool { n++; return n == 3 }, "never")
	if n != 3 {
		t.Fatalf("cond called %d times, want 3", n)
	}
	ft := &fakeTB{TB: t}
	start := time.Now()
	Eventually(ft, 50*time.Millisecond, func() bool { return false }, "cond %s", "x")
	if !ft.failed || ft.msg != "after 50ms: cond x" || time.Since(start) < 50*time.Millisecond {
		t.Fatalf("failed=%v msg=%q after %s", ft.failed, ft.msg, time.Since(start))
	}
}

func TestMissing(t *testing.T) {
	for _, ci := range []string{"true", ""} {
		t.Setenv("CI", ci)
		ft := &fakeTB{TB: t}
		Missing(ft, "tool %s", "x")
		if ft.failed != (ci == "true") || ft.skipped != (ci != "true") {
			t.Errorf("CI=%q: failed=%v skipped=%v (%q)", ci, ft.failed, ft.skipped, ft.msg)
		}
	}
}

// fakeTB records Fatalf and Skipf instead of stopping the goroutine.
type fakeTB struct {
	testing.TB
	failed, skipped bool
	msg             string
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.failed, f.msg = true, sprintf(format, args...)
}
func (f *fakeTB) Skipf(format string, args ...any) {
	f.skipped, f.msg = true, sprintf(format, args...)
}

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }
