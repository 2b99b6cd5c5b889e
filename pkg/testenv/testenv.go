// Package testenv holds what the tests share about their environment: a
// part they need that is missing (a failure under CI=true, where make test
// installs everything, a skip elsewhere) and waiting for a condition
// instead of sleeping. It is for tests only.
package testenv

import (
	"bytes"
	"fmt"
	"os"
	"sync"
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

// Buffer is a bytes.Buffer that goroutines may write and read at once (a
// log a process or server writes while the test reads it).
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String is everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
