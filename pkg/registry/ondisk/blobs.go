package ondisk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	ggcr "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// blobStore implements go-containerregistry's BlobHandler interfaces on
// DIR/blobs/<algorithm>/<hex>. The registry handler verifies size and digest
// while Put reads, so a file that reaches its final name is complete. It has
// no Delete: blobs are shared by every repository.
type blobStore struct{ dir string }

func (b blobStore) path(h v1.Hash) (string, error) {
	if h.Algorithm != "sha256" || len(h.Hex) != 64 {
		return "", fmt.Errorf("unsupported digest %s", h)
	}
	return filepath.Join(b.dir, h.Algorithm, h.Hex), nil
}

// Stat trusts the file size: contents were verified when they were written.
func (b blobStore) Stat(_ context.Context, _ string, h v1.Hash) (int64, error) {
	p, err := b.path(h)
	if err != nil {
		return 0, ggcr.ErrNotFound
	}
	fi, err := os.Stat(p)
	if errors.Is(err, os.ErrNotExist) {
		return 0, ggcr.ErrNotFound
	}
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

func (b blobStore) Get(_ context.Context, _ string, h v1.Hash) (io.ReadCloser, error) {
	p, err := b.path(h)
	if err != nil {
		return nil, ggcr.ErrNotFound
	}
	f, err := os.Open(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, ggcr.ErrNotFound
	}
	return f, err
}

func (b blobStore) Put(_ context.Context, _ string, h v1.Hash, rc io.ReadCloser) error {
	defer rc.Close()
	p, err := b.path(h)
	if err != nil {
		return err
	}
	return writeAtomic(p, func(w io.Writer) error {
		_, err := io.Copy(w, rc)
		return err
	})
}

func (b blobStore) exists(h v1.Hash) bool {
	p, err := b.path(h)
	if err != nil {
		return false
	}
	_, err = os.Stat(p)
	return err == nil
}

// writeAtomic writes a file through a temporary sibling and a rename, so
// readers (also in other processes) never see a partial file.
func writeAtomic(path string, write func(io.Writer) error) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	err = write(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, 0o644)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}
