package run

import (
	"archive/tar"
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"

	"github.com/birdflock/runner/pkg/steps"
	"github.com/birdflock/runner/pkg/workflow"
)

// The tar the controller sends after the spec holds two trees: the
// repository's git directory under repo/.git/ (the checkout built-in then
// clones from it as from the original)
// and the run's artifacts so far under artifacts/ (for download-artifact).
const (
	tarRepo      = "repo/"
	tarArtifacts = "artifacts/"
)

// gitDirOf is the git directory of the repository at repo: repo/.git, the
// common directory of a linked worktree (.git is a "gitdir: …" file), or
// repo itself when it is bare.
func gitDirOf(repo string) string {
	dotgit := filepath.Join(repo, ".git")
	st, err := os.Stat(dotgit)
	switch {
	case err == nil && st.IsDir():
		return dotgit
	case err == nil:
		data, err := os.ReadFile(dotgit)
		if err != nil {
			return dotgit
		}
		dir, ok := strings.CutPrefix(strings.TrimSpace(string(data)), "gitdir:")
		if !ok {
			return dotgit
		}
		dir = strings.TrimSpace(dir)
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(repo, dir)
		}
		if common, err := os.ReadFile(filepath.Join(dir, "commondir")); err == nil {
			c := strings.TrimSpace(string(common))
			if !filepath.IsAbs(c) {
				c = filepath.Join(dir, c)
			}
			return filepath.Clean(c)
		}
		return dir
	}
	return repo // bare
}

// writeSource writes the tar of the git directory gitDir ("" for none)
// and of the artifacts directory (missing: none) to w.
func writeSource(w io.Writer, gitDir, artifacts string) error {
	tw := tar.NewWriter(w)
	if gitDir != "" {
		// A bare repository too becomes repo/.git: the leg makes it a
		// working clone whose origin is the original's upstream.
		if err := addTree(tw, gitDir, tarRepo+".git/", nil); err != nil {
			return fmt.Errorf("the repository's git directory %s: %w", gitDir, err)
		}
	}
	if _, err := os.Stat(artifacts); err == nil {
		// Artifacts being built (.upload-*, .remote-*) are not artifacts.
		skip := func(rel string) bool { return strings.HasPrefix(rel, ".") && !strings.Contains(rel, "/") }
		if err := addTree(tw, artifacts, tarArtifacts, skip); err != nil {
			return fmt.Errorf("the run's artifacts: %w", err)
		}
	}
	return tw.Close()
}

// addTree adds the directories and regular files under root to tw, named
// prefix + their path under root; skip (nil: none) leaves out top-level
// names. Symbolic links and special files are left out: a git directory
// and upload-artifact's copies have none that matter.
func addTree(tw *tar.Writer, root, prefix string, skip func(rel string) bool) error {
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && p != root {
				return nil // a lock file gone meanwhile
			}
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil || rel == "." {
			return err
		}
		rel = filepath.ToSlash(rel)
		if skip != nil && skip(rel) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		info, err := d.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		switch {
		case d.IsDir():
			return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: prefix + rel + "/", Mode: int64(info.Mode().Perm()), ModTime: info.ModTime()})
		case info.Mode().IsRegular():
			f, err := os.Open(p)
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return nil
				}
				return err
			}
			defer f.Close()
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: prefix + rel, Mode: int64(info.Mode().Perm()), Size: info.Size(), ModTime: info.ModTime()}); err != nil {
				return err
			}
			_, err = io.CopyN(tw, f, info.Size())
			return err
		}
		return nil
	})
}

// sourceReader unpacks the tar that follows the spec: repo/ into repoDir,
// artifacts/ into artifactsDir, in two parts (repo, then rest), so that a
// leg's steps may start while its artifacts still arrive. Every name is
// resolved inside its root; anything but directories and regular files is
// refused. It reads the tar up to its end marker and no further: control
// frames follow.
type sourceReader struct {
	tr                    *tar.Reader
	repoDir, artifactsDir string
	next                  *tar.Header // read by repo, not yet unpacked
	gotRepo               bool
}

func newSourceReader(br *bufio.Reader, repoDir, artifactsDir string) *sourceReader {
	return &sourceReader{tr: tar.NewReader(br), repoDir: repoDir, artifactsDir: artifactsDir}
}

// repo unpacks the entries up to the first artifact (the repository's,
// which the controller sends first), and says whether there was any.
func (s *sourceReader) repo() (gotRepo bool, err error) {
	err = s.unpack(func(h *tar.Header) bool { return strings.HasPrefix(h.Name, tarArtifacts) })
	return s.gotRepo, err
}

// rest unpacks the remaining entries, up to the tar's end.
func (s *sourceReader) rest() error {
	return s.unpack(func(*tar.Header) bool { return false })
}

// unpack unpacks entries until the tar's end, or until stop holds for an
// entry's header (kept for the next call).
func (s *sourceReader) unpack(stop func(*tar.Header) bool) error {
	for {
		h := s.next
		s.next = nil
		if h == nil {
			var err error
			h, err = s.tr.Next()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return fmt.Errorf("the source: %w", err)
			}
		}
		if stop(h) {
			s.next = h
			return nil
		}
		if err := s.entry(h); err != nil {
			return err
		}
	}
}

// entry unpacks one entry.
func (s *sourceReader) entry(h *tar.Header) error {
	root, rel := "", ""
	switch {
	case strings.HasPrefix(h.Name, tarRepo):
		root, rel, s.gotRepo = s.repoDir, strings.TrimPrefix(h.Name, tarRepo), true
	case strings.HasPrefix(h.Name, tarArtifacts):
		root, rel = s.artifactsDir, strings.TrimPrefix(h.Name, tarArtifacts)
	default:
		return fmt.Errorf("the source: unexpected entry %q", h.Name)
	}
	if rel = path.Clean("/" + rel); rel == "/" {
		return nil
	}
	dst, err := securejoin.SecureJoin(root, rel)
	if err != nil {
		return fmt.Errorf("the source: %q: %w", h.Name, err)
	}
	switch h.Typeflag {
	case tar.TypeDir:
		return os.MkdirAll(dst, 0o755)
	case tar.TypeReg:
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, os.FileMode(h.Mode)&0o777|0o600)
		if err != nil {
			return err
		}
		_, err = io.Copy(f, s.tr)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("the source: %q: %w", h.Name, err)
		}
		return nil
	default:
		return fmt.Errorf("the source: %q: not a file or directory", h.Name)
	}
}

// artifactGate is a remote leg's artifacts arriving after its steps
// started (sourceReader.rest): the steps that may read them wait for done.
type artifactGate struct {
	done chan struct{}
	err  error    // set before done closes
	sent []string // the artifacts that came, once done
}

// sendArtifact sends the artifact dir (named name) as frames: artifact,
// a file frame and its bytes for each regular file, artifact-end.
func sendArtifact(w *frameWriter, name, dir string) error {
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("artifact %q: %w", name, err)
	}
	sort.Strings(files)
	if err := w.send(wireFrame{Type: frameArtifact, Name: name}); err != nil {
		return err
	}
	for _, p := range files {
		rel, _ := filepath.Rel(dir, p)
		f, err := os.Open(p)
		if err != nil {
			return fmt.Errorf("artifact %q: %w", name, err)
		}
		st, err := f.Stat()
		if err == nil {
			err = w.sendFile(wireFrame{Type: frameFile, Path: filepath.ToSlash(rel), Mode: uint32(st.Mode().Perm()), Size: st.Size()}, f)
		}
		f.Close()
		if err != nil {
			return fmt.Errorf("artifact %q: %w", name, err)
		}
	}
	return w.send(wireFrame{Type: frameEnd, Name: name})
}

// awaitArtifacts waits, in a remote leg, until the run's artifacts have
// arrived, before a step that may read them: any but the checkout
// built-in, which the leg's first step usually is and which reads the
// repository only.
func (jr *legRun) awaitArtifacts(ctx context.Context, s *workflow.Step) error {
	g := jr.r.artifactsIn
	if g == nil {
		return nil
	}
	if s.Uses.Set {
		if b, ok := jr.r.opts.Builtins.Lookup(s.Uses.Raw); ok {
			if _, checkout := b.(steps.Checkout); checkout {
				return nil
			}
		}
	}
	select {
	case <-g.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	if g.err != nil {
		return fmt.Errorf("the run's artifacts did not arrive: %w", g.err)
	}
	return nil
}
