package container

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	"golang.org/x/sys/unix"
)

// ErrUnsafeLayer is wrapped by errors for layer entries that would write
// outside the root: ".." in a path, a relative symlink or a hard link that
// climbs above the root.
var ErrUnsafeLayer = errors.New("unsafe layer entry")

const (
	whiteoutPrefix = ".wh."
	whiteoutOpaque = ".wh..wh..opq"
)

// UnpackLayer applies one uncompressed layer tar to root, honouring OCI
// whiteouts (".wh.NAME" removes NAME, ".wh..wh..opq" empties the directory
// of what lower layers put there). Parent directories are resolved inside
// root, following symlinks as the container would see them, so nothing is
// ever written outside root; entries that try are refused.
func UnpackLayer(root string, r io.Reader) error {
	tr := tar.NewReader(r)
	created := map[string]bool{} // entries of this layer, for opaque dirs
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read layer: %w", err)
		}
		if hdr.Typeflag == tar.TypeXGlobalHeader {
			continue
		}
		name, err := cleanEntry(hdr.Name)
		if err != nil {
			return err
		}
		if name == "." {
			continue
		}
		dir, base := path.Split(name)
		dir = path.Clean("/" + dir)[1:]
		if dir == "" {
			dir = "."
		}
		for d := dir; d != "." && !created[d]; d = path.Dir(d) {
			created[d] = true
		}
		parent, err := securejoin.SecureJoin(root, dir)
		if err != nil {
			return fmt.Errorf("layer entry %q: %w", hdr.Name, err)
		}
		if base == whiteoutOpaque {
			if err := emptyOpaque(parent, dir, created); err != nil {
				return err
			}
			continue
		}
		if strings.HasPrefix(base, whiteoutPrefix) {
			// ".wh.." would name the parent itself: path.Clean has not
			// seen it, since ".." only appears after the prefix goes.
			victim := base[len(whiteoutPrefix):]
			if victim == "" || victim == "." || victim == ".." {
				return fmt.Errorf("%w: whiteout %q names no entry", ErrUnsafeLayer, hdr.Name)
			}
			if err := os.RemoveAll(filepath.Join(parent, victim)); err != nil {
				return fmt.Errorf("whiteout %q: %w", hdr.Name, err)
			}
			continue
		}
		created[name] = true
		if err := os.MkdirAll(parent, 0o755); err != nil {
			return fmt.Errorf("layer entry %q: %w", hdr.Name, err)
		}
		if err := writeEntry(root, parent, name, hdr, tr); err != nil {
			return fmt.Errorf("layer entry %q: %w", hdr.Name, err)
		}
	}
}

// cleanEntry makes a tar name relative and refuses any ".." component.
func cleanEntry(n string) (string, error) {
	for _, part := range strings.Split(n, "/") {
		if part == ".." {
			return "", fmt.Errorf("%w: %q leaves the root", ErrUnsafeLayer, n)
		}
	}
	c := path.Clean("/" + n)
	if c == "/" {
		return ".", nil
	}
	return c[1:], nil
}

// emptyOpaque removes what lower layers put in dir.
func emptyOpaque(abs, dir string, created map[string]bool) error {
	ents, err := os.ReadDir(abs)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("opaque dir %q: %w", dir, err)
	}
	for _, e := range ents {
		if created[path.Join(dir, e.Name())] {
			continue
		}
		if err := os.RemoveAll(filepath.Join(abs, e.Name())); err != nil {
			return fmt.Errorf("opaque dir %q: %w", dir, err)
		}
	}
	return nil
}

func writeEntry(root, parent, name string, hdr *tar.Header, r io.Reader) error {
	target := filepath.Join(parent, path.Base(name))
	mode := os.FileMode(hdr.Mode & 0o7777)
	st, statErr := os.Lstat(target)
	exists := statErr == nil
	// Replace whatever is there, except a directory by a directory.
	if exists && !(hdr.Typeflag == tar.TypeDir && st.IsDir()) {
		if err := os.RemoveAll(target); err != nil {
			return err
		}
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		if !exists || !st.IsDir() {
			if err := os.Mkdir(target, 0o700); err != nil {
				return err
			}
		}
	case tar.TypeReg, tar.TypeRegA:
		f, err := os.OpenFile(target, os.O_CREATE|os.O_EXCL|os.O_WRONLY|unix.O_NOFOLLOW, 0o600)
		if err != nil {
			return err
		}
		_, err = io.Copy(f, r)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	case tar.TypeSymlink:
		if !path.IsAbs(hdr.Linkname) {
			if j := path.Join(path.Dir(name), hdr.Linkname); j == ".." || strings.HasPrefix(j, "../") {
				return fmt.Errorf("%w: symlink to %q escapes the root", ErrUnsafeLayer, hdr.Linkname)
			}
		}
		if err := os.Symlink(hdr.Linkname, target); err != nil {
			return err
		}
	case tar.TypeLink:
		src, err := cleanEntry(hdr.Linkname)
		if err != nil {
			return fmt.Errorf("%w: hard link to %q leaves the root", ErrUnsafeLayer, hdr.Linkname)
		}
		sdir, err := securejoin.SecureJoin(root, path.Dir(src))
		if err != nil {
			return err
		}
		if err := os.Link(filepath.Join(sdir, path.Base(src)), target); err != nil {
			return err
		}
		return nil // a hard link shares its source's owner, mode and times
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		if hdr.Typeflag == tar.TypeChar && hdr.Devmajor == 0 && hdr.Devminor == 0 {
			return nil // an overlayfs whiteout: the RemoveAll above did it
		}
		m := uint32(mode)
		switch hdr.Typeflag {
		case tar.TypeChar:
			m |= unix.S_IFCHR
		case tar.TypeBlock:
			m |= unix.S_IFBLK
		default:
			m |= unix.S_IFIFO
		}
		if err := unix.Mknod(target, m, int(unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor)))); err != nil {
			return err
		}
	default:
		return nil // unknown types are skipped, as containerd does
	}
	if err := os.Lchown(target, hdr.Uid, hdr.Gid); err != nil && !errors.Is(err, unix.EPERM) {
		return err
	}
	if hdr.Typeflag != tar.TypeSymlink {
		// Chmod after chown: chown clears setuid bits.
		if err := os.Chmod(target, fileMode(hdr)); err != nil {
			return err
		}
	}
	ts := []unix.Timespec{unix.NsecToTimespec(hdr.AccessTime.UnixNano()), unix.NsecToTimespec(hdr.ModTime.UnixNano())}
	if hdr.AccessTime.IsZero() {
		ts[0] = ts[1]
	}
	_ = unix.UtimesNanoAt(unix.AT_FDCWD, target, ts, unix.AT_SYMLINK_NOFOLLOW)
	return nil
}

// fileMode keeps permission and setuid/setgid/sticky bits.
func fileMode(hdr *tar.Header) os.FileMode {
	m := os.FileMode(hdr.Mode & 0o777)
	if hdr.Mode&0o4000 != 0 {
		m |= os.ModeSetuid
	}
	if hdr.Mode&0o2000 != 0 {
		m |= os.ModeSetgid
	}
	if hdr.Mode&0o1000 != 0 {
		m |= os.ModeSticky
	}
	return m
}
