package registry

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/distribution/distribution/v3/registry/storage"
	"github.com/distribution/distribution/v3/registry/storage/driver/filesystem"
)

// serveLockFile, inside a registry directory, is held shared by every
// server of the directory (Serve) and exclusively by the garbage
// collector, so that the two never run at once: a blob pushed while the
// collector marks would be swept.
const serveLockFile = ".serve.lock"

// ErrServed is returned by GarbageCollect while a server serves the
// directory, and by Serve while a collection runs.
var ErrServed = errors.New("registry directory in use")

// holdServeLock takes dir's serve lock, shared (a server) or exclusive
// (the collector), without waiting. release drops it.
func holdServeLock(dir string, exclusive bool) (release func(), err error) {
	f, err := os.OpenFile(filepath.Join(dir, serveLockFile), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("registry: %w", err)
	}
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	if err := syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			if exclusive {
				what := "a registry server"
				if a, _, ok := servedBy(dir); ok {
					what += " (last on " + a + ")"
				}
				return nil, fmt.Errorf("%w: %s serves %s; stop it before collecting garbage", ErrServed, what, dir)
			}
			return nil, fmt.Errorf("%w: garbage collection is running on %s; start the registry when it ends", ErrServed, dir)
		}
		return nil, fmt.Errorf("registry: lock %s: %w", f.Name(), err)
	}
	return func() { f.Close() }, nil
}

// GCOptions configures GarbageCollect.
type GCOptions struct {
	// DryRun reports what would be deleted and deletes nothing.
	DryRun bool
	// DeleteUntagged also deletes manifests no tag points at (and then
	// their blobs). Default: only blobs no manifest references.
	DeleteUntagged bool
	// Verbose lets distribution's collector list what it marks and what
	// it deletes, on standard output.
	Verbose bool
}

// GCReport counts the blobs on disk before and after a collection.
type GCReport struct {
	BlobsBefore, BlobsAfter int
	BytesBefore, BytesAfter int64
}

// GarbageCollect runs distribution's garbage collector (mark and sweep)
// on dir: blobs no manifest references are deleted, and with
// DeleteUntagged, manifests no tag points at. It refuses with ErrServed
// while a server serves dir, and keeps servers from starting until it
// ends. Content of the earlier store is imported first.
func GarbageCollect(ctx context.Context, dir string, o GCOptions) (*GCReport, error) {
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("registry: %w", err)
	}
	release, err := holdServeLock(dir, true)
	if err != nil {
		return nil, err
	}
	defer release()
	if _, err := Migrate(ctx, dir); err != nil {
		return nil, err
	}
	root, err := storageRoot(dir)
	if err != nil {
		return nil, err
	}
	rep := &GCReport{}
	if rep.BlobsBefore, rep.BytesBefore, err = countBlobs(root); err != nil {
		return nil, err
	}
	d := filesystem.New(filesystem.DriverParameters{RootDirectory: root, MaxThreads: 25})
	ns, err := storage.NewRegistry(ctx, d)
	if err != nil {
		return nil, fmt.Errorf("registry gc: %w", err)
	}
	if rep.BlobsBefore > 0 {
		err = storage.MarkAndSweep(ctx, d, ns, storage.GCOpts{DryRun: o.DryRun, RemoveUntagged: o.DeleteUntagged, Quiet: !o.Verbose})
		if err != nil {
			return nil, fmt.Errorf("registry gc: %w", err)
		}
	}
	if rep.BlobsAfter, rep.BytesAfter, err = countBlobs(root); err != nil {
		return nil, err
	}
	return rep, nil
}

// countBlobs counts the blob data files under distribution's storage.
func countBlobs(root string) (n int, size int64, err error) {
	blobs := filepath.Join(root, "docker", "registry", "v2", "blobs")
	err = filepath.WalkDir(blobs, func(p string, e fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if !e.IsDir() && e.Name() == "data" {
			fi, err := e.Info()
			if err != nil {
				return err
			}
			n++
			size += fi.Size()
		}
		return nil
	})
	if err != nil {
		return 0, 0, fmt.Errorf("registry gc: %w", err)
	}
	return n, size, nil
}
