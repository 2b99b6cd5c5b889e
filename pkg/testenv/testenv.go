// Package testenv holds what the tests share about their environment: a
// part they need that is missing (a failure under CI=true, where make test
// installs everything, a skip elsewhere) and waiting for a condition
// instead of sleeping. It is for tests only.
package testenv

import (
	"fmt"
	"os"
	"testing"
	"time"
)

// CI reports whether the tests run under CI=true, where every part they
// need must be present.
func CI() bool { return os.Getenv("CI") == "true" }

// Missing stops tb because a part it needs is missing: a failure under
// CI=true, a skip elsewhere. The message says what is missing and how to
// get it.
func Missing(tb testing.TB, format string, args ...any) {
	tb.Helper()
	msg := fmt.Sprintf(format, args...)
	if CI() {
		tb.Fatalf("%s (required under CI=true)", msg)
		return
	}
	tb.Skipf("%s (under CI=true this fails)", msg)
}

// Eventually polls cond every 10 ms until it holds, and fails tb with the
// message when it does not within timeout.
func Eventually(tb testing.TB, timeout time.Duration, cond func() bool, format string, args ...any) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("after %s: "+format, append([]any{timeout}, args...)...)
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}
