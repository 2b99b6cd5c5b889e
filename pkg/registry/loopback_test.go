package registry

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// Issue 12 #13: a host name starting with "127." is not loopback; only a
// loopback IP or "localhost" is (names are never resolved to decide).
func TestIsLoopbackHostByAddress(t *testing.T) {
	for host, want := range map[string]bool{
		"127.0.0.1:5000": true, "127.1.2.3": true, "[::1]:5000": true, "::1": true, "localhost:5000": true, "localhost": true,
		"127.evil.test:5000": false, "127.evil.test": false, "127.0.0.1.nip.io:5000": false, "localhost.evil.test": false,
		"10.0.0.1:5000": false, "[::ffff:10.0.0.1]:5000": false, "0.0.0.0:5000": false, ":5000": false, "": false,
	} {
		if got := IsLoopbackHost(host); got != want {
			t.Errorf("IsLoopbackHost(%q) = %v, want %v", host, got, want)
		}
	}
}

// The embedded registry has no authentication: it is only ever served on a
// loopback address, whatever address it is asked for.
func TestEmbeddedListensOnlyOnLoopback(t *testing.T) {
	for _, addr := range []string{"127.evil.test:5000", "0.0.0.0:0", ":0"} {
		state := t.TempDir()
		if err := os.MkdirAll(EmbeddedDir(state), 0o755); err != nil {
			t.Fatal(err)
		}
		got, release, err := EmbeddedAt(context.Background(), state, addr)
		if err == nil {
			release()
			t.Errorf("EmbeddedAt %s: served on %s", addr, got)
			continue
		}
		if !errors.Is(err, ErrNotLoopback) {
			t.Errorf("EmbeddedAt %s: %v", addr, err)
		}
		// Nor as the address recorded for the directory.
		got, release, err = Embedded(context.Background(), writeHome(t, state, addr))
		if err == nil {
			release()
			t.Errorf("Embedded on %s: served on %s", addr, got)
			continue
		}
		if !errors.Is(err, ErrNotLoopback) {
			t.Errorf("Embedded on %s: %v", addr, err)
		}
	}
}

// writeHome records addr as state's registry address and returns state.
func writeHome(t *testing.T, state, addr string) string {
	t.Helper()
	if err := os.WriteFile(filepath.Join(EmbeddedDir(state), homeFile), []byte(addr+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return state
}
