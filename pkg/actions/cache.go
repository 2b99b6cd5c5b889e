package actions

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// The cache of one repository, StateDir/actions/<owner>/<repo> (lower
// case, as GitHub compares names):
//
//	.lock        flock(2): one resolver at a time, across processes
//	mirror.git   bare repository fetched into (no remote URL stored)
//	refs.json    version → commit, per source: the offline resolution
//	<commit>/    a commit's tree, read-only, appears at once (rename)
//	dir-<sha256> a plain folder's copy, named by its content
//	.tmp-*       a tree being written; a leftover is removed under the lock
//	.refs-*      refs.json being written; likewise

// lockDir takes the repository's lock, waiting for another holder as long
// as ctx allows.
func lockDir(ctx context.Context, dir string) (unlock func(), err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", dir, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	// Trees half-written by a resolver that died: nobody else writes now.
	for _, pattern := range []string{".tmp-*", ".refs-*"} {
		tmps, _ := filepath.Glob(filepath.Join(dir, pattern))
		for _, t := range tmps {
			removeTree(t)
		}
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// removeTree removes a read-only tree (write permission is needed to
// remove entries when not root).
func removeTree(dir string) {
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(p, 0o755)
		}
		return nil
	})
	_ = os.RemoveAll(dir)
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// treeWriter writes a tree into a fresh temporary folder, then makes it
// read-only and renames it into place.
type treeWriter struct {
	tmp  string
	dirs []string
}

func newTreeWriter(base string) (*treeWriter, error) {
	tmp, err := os.MkdirTemp(base, ".tmp-")
	if err != nil {
		return nil, err
	}
	return &treeWriter{tmp: tmp}, nil
}

// abort removes what was written.
func (w *treeWriter) abort() { removeTree(w.tmp) }

func (w *treeWriter) path(name string) (string, error) {
	if !filepath.IsLocal(name) || slices.Contains(strings.Split(name, "/"), ".") {
		return "", fmt.Errorf("path %q is not inside the repository", name)
	}
	return filepath.Join(w.tmp, filepath.FromSlash(name)), nil
}

func (w *treeWriter) mkdir(name string) error {
	p, err := w.path(name)
	if err != nil {
		return err
	}
	w.dirs = append(w.dirs, p)
	return os.Mkdir(p, 0o755)
}

func (w *treeWriter) file(name string, exec bool, r io.Reader) error {
	p, err := w.path(name)
	if err != nil {
		return err
	}
	mode := os.FileMode(0o444)
	if exec {
		mode = 0o555
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, mode)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// symlink writes a link whose target stays inside the tree (checked
// lexically here, and by resolution in finish).
func (w *treeWriter) symlink(name, target string) error {
	p, err := w.path(name)
	if err != nil {
		return err
	}
	if filepath.IsAbs(target) || !filepath.IsLocal(filepath.Join(filepath.Dir(filepath.FromSlash(name)), target)) {
		return fmt.Errorf("symbolic link %s points outside the repository (%s)", name, target)
	}
	return os.Symlink(target, p)
}

// finish checks that every link resolves inside the tree, makes the tree
// read-only and renames it to dst (kept when another resolver put it
// there first).
func (w *treeWriter) finish(dst string) error {
	root, err := filepath.EvalSymlinks(w.tmp)
	if err != nil {
		return err
	}
	err = filepath.WalkDir(w.tmp, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.Type()&fs.ModeSymlink == 0 {
			return err
		}
		// A chain of links (d -> ., g -> d/..) can leave the tree though
		// each one looks inside; dangling links were checked lexically.
		real, err := filepath.EvalSymlinks(p)
		if err != nil {
			return nil
		}
		if real != root && !strings.HasPrefix(real, root+string(filepath.Separator)) {
			rel, _ := filepath.Rel(w.tmp, p)
			return fmt.Errorf("symbolic link %s points outside the repository", filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		return err
	}
	for i := len(w.dirs) - 1; i >= 0; i-- {
		if err := os.Chmod(w.dirs[i], 0o555); err != nil {
			return err
		}
	}
	if err := os.Chmod(w.tmp, 0o555); err != nil {
		return err
	}
	if exists(dst) {
		w.abort()
		return nil
	}
	return os.Rename(w.tmp, dst)
}

// materialize writes commit's tree to base/<commit> unless it is there.
// Submodules become empty folders, as in GitHub's archives.
func materialize(repo *git.Repository, commit plumbing.Hash, base string) (dst string, err error) {
	dst = filepath.Join(base, commit.String())
	if exists(dst) {
		return dst, nil
	}
	c, err := repo.CommitObject(commit)
	if err != nil {
		return "", err
	}
	tree, err := c.Tree()
	if err != nil {
		return "", err
	}
	w, err := newTreeWriter(base)
	if err != nil {
		return "", err
	}
	defer func() {
		if err != nil {
			w.abort()
		}
	}()
	walker := object.NewTreeWalker(tree, true, nil)
	defer walker.Close()
	for {
		name, e, err := walker.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "", err
		}
		switch e.Mode {
		case filemode.Dir, filemode.Submodule:
			err = w.mkdir(name)
		case filemode.Symlink:
			var target []byte
			if target, err = blobBytes(repo, e.Hash); err == nil {
				err = w.symlink(name, string(target))
			}
		default:
			var b *object.Blob
			if b, err = repo.BlobObject(e.Hash); err != nil {
				break
			}
			var rd io.ReadCloser
			if rd, err = b.Reader(); err != nil {
				break
			}
			err = w.file(name, e.Mode == filemode.Executable, rd)
			rd.Close()
		}
		if err != nil {
			return "", err
		}
	}
	return dst, w.finish(dst)
}

func blobBytes(repo *git.Repository, h plumbing.Hash) ([]byte, error) {
	b, err := repo.BlobObject(h)
	if err != nil {
		return nil, err
	}
	rd, err := b.Reader()
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	return io.ReadAll(rd)
}

// copyFolder copies a plain folder to base/dir-<sha256 of its content>
// unless that copy exists, and returns the copy and its digest. The digest
// covers every path, its kind, its executable bit, and its content or
// link target.
func copyFolder(src, base string) (dst, digest string, err error) {
	w, err := newTreeWriter(base)
	if err != nil {
		return "", "", err
	}
	defer func() {
		if err != nil {
			w.abort()
		}
	}()
	h := sha256.New()
	err = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == src {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		name := filepath.ToSlash(rel)
		switch t := d.Type(); {
		case t.IsDir():
			fmt.Fprintf(h, "d %s\x00", name)
			return w.mkdir(name)
		case t&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			fmt.Fprintf(h, "l %s\x00%s\x00", name, target)
			return w.symlink(name, target)
		case t.IsRegular():
			info, err := d.Info()
			if err != nil {
				return err
			}
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			defer f.Close()
			exec := info.Mode()&0o111 != 0
			fmt.Fprintf(h, "f %s %t %d\x00", name, exec, info.Size())
			return w.file(name, exec, io.TeeReader(io.LimitReader(f, info.Size()), h))
		}
		return nil // sockets, devices: not part of an action
	})
	if err != nil {
		return "", "", err
	}
	sum := hex.EncodeToString(h.Sum(nil))
	dst = filepath.Join(base, "dir-"+sum)
	return dst, "sha256:" + sum, w.finish(dst)
}

// refIndex is refs.json: per source (URL, credentials redacted), the
// commit each version resolved to when it was last asked.
type refIndex map[string]map[string]indexEntry

type indexEntry struct {
	Commit   string    `json:"commit"`
	Resolved time.Time `json:"resolved"`
}

func readIndex(base string) refIndex {
	idx := refIndex{}
	data, err := os.ReadFile(filepath.Join(base, "refs.json"))
	if err == nil {
		_ = json.Unmarshal(data, &idx) // a damaged index is an empty one
	}
	return idx
}

// record stores version → commit for source, atomically.
func record(base, source, version, commit string) error {
	idx := readIndex(base)
	if idx[source] == nil {
		idx[source] = map[string]indexEntry{}
	}
	idx[source][version] = indexEntry{Commit: commit, Resolved: time.Now().UTC()}
	data, err := json.MarshalIndent(idx, "", "  ")
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(base, ".refs-")
	if err != nil {
		return err
	}
	if _, err := f.Write(append(data, '\n')); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return err
	}
	if err := os.Rename(f.Name(), filepath.Join(base, "refs.json")); err != nil {
		os.Remove(f.Name())
		return err
	}
	return nil
}
