package testenv

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// WritableTempDir is t.TempDir for a test that leaves read-only folders in
// it (the cache of remote actions): before the removal, every folder is
// made writable again, which a user who is not root needs to remove it.
func WritableTempDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	// runs before TempDir's own cleanup: cleanups run last-in first-out
	t.Cleanup(func() {
		_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				_ = os.Chmod(p, 0o755)
			}
			return nil
		})
	})
	return dir
}
