package steps

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// resolve makes p absolute against the workspace.
func (s *Context) resolve(p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(s.Workspace, p)
}

// lines splits a multi-line input into trimmed, non-empty lines.
func lines(v string) []string {
	var out []string
	for _, l := range strings.Split(v, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// copyFile copies the content of one regular file, following a symbolic
// link, keeping its permission bits. Artifacts hold files, never links,
// as GitHub's upload-artifact stores them.
func copyFile(src, dst string) error {
	_, err := copyFileTo(src, dst, io.Discard)
	return err
}

// copyFileTo copies src to dst as copyFile does and writes the content to
// h on the way (a hash: one read of src gives the copy and its digest). It
// returns the size; errors name the file.
func copyFileTo(src, dst string, h io.Writer) (int64, error) {
	st, err := os.Stat(src) // before opening: a FIFO would block Open
	if err != nil {
		return 0, err
	}
	if !st.Mode().IsRegular() {
		return 0, fmt.Errorf("%s is not a regular file", src)
	}
	in, err := os.Open(src)
	if err != nil {
		return 0, err
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return 0, err
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, st.Mode().Perm())
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(io.MultiWriter(out, h), in)
	if err != nil {
		out.Close()
		return n, fmt.Errorf("copy %s: %w", src, err)
	}
	return n, out.Close()
}

// copyTree copies an artifact's directory into dst, never through a
// symbolic link: it first checks that the artifact holds only directories
// and regular files and that nothing on the way to each file in dst is a
// link (the workspace may hold links from a repository), then writes
// through an os.Root, which cannot leave dst.
func copyTree(src, dst string) error {
	var rels []string
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		switch {
		case d.Type()&os.ModeSymlink != 0:
			return fmt.Errorf("artifact holds a symbolic link %s; refusing to download it", filepath.ToSlash(rel))
		case !d.IsDir() && !d.Type().IsRegular():
			return fmt.Errorf("artifact holds %s, which is not a regular file", filepath.ToSlash(rel))
		}
		if rel != "." {
			if err := noSymlinkOnWay(dst, rel); err != nil {
				return err
			}
		}
		rels = append(rels, rel)
		return nil
	})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	root, err := os.OpenRoot(dst)
	if err != nil {
		return err
	}
	defer root.Close()
	for _, rel := range rels {
		if err := copyInto(root, filepath.Join(src, rel), rel); err != nil {
			return err
		}
	}
	return nil
}

// noSymlinkOnWay fails when dst/rel, or a directory between dst and it,
// is a symbolic link.
func noSymlinkOnWay(dst, rel string) error {
	cur := dst
	for _, part := range strings.Split(rel, string(filepath.Separator)) {
		cur = filepath.Join(cur, part)
		fi, err := os.Lstat(cur)
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			return fmt.Errorf("refusing to write %s through the symbolic link %s", filepath.Join(dst, rel), cur)
		}
	}
	return nil
}

// copyInto copies the directory or regular file src to rel inside root.
func copyInto(root *os.Root, src, rel string) error {
	st, err := os.Lstat(src)
	if err != nil {
		return err
	}
	if st.IsDir() {
		return root.MkdirAll(rel, 0o755)
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := root.OpenFile(rel, os.O_CREATE|os.O_WRONLY|os.O_TRUNC|syscall.O_NOFOLLOW, st.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
