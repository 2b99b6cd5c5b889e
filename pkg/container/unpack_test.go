package container

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	ct "github.com/birdflock/runner/pkg/containertest"
)

// unpackTo makes root inside a scratch dir, so a test can see whether
// anything landed beside it.
func unpackTo(t *testing.T, layers ...[]byte) (root string, err error) {
	t.Helper()
	root = filepath.Join(t.TempDir(), "rootfs")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, l := range layers {
		if err = UnpackLayer(root, bytes.NewReader(l)); err != nil {
			return root, err
		}
	}
	return root, nil
}

func assertNothingBeside(t *testing.T, root string) {
	t.Helper()
	ents, err := os.ReadDir(filepath.Dir(root))
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 1 {
		t.Fatalf("layer wrote outside the root: %v", ents)
	}
}

func TestUnpackRefusesDotDot(t *testing.T) {
	for _, name := range []string{"../evil", "a/../../evil", "./../evil"} {
		root, err := unpackTo(t, ct.Tar(t, ct.Entry{Name: "a/"}, ct.Entry{Name: name, Body: "x"}))
		if !errors.Is(err, ErrUnsafeLayer) {
			t.Errorf("%s: err = %v, want ErrUnsafeLayer", name, err)
		}
		assertNothingBeside(t, root)
	}
}

func TestUnpackRefusesEscapingSymlink(t *testing.T) {
	for _, target := range []string{"../../../../tmp", "../x", "a/../../.."} {
		_, err := unpackTo(t, ct.Tar(t, ct.Entry{Name: "link", Linkname: target}))
		if !errors.Is(err, ErrUnsafeLayer) {
			t.Errorf("symlink to %s: err = %v, want ErrUnsafeLayer", target, err)
		}
	}
	// A relative link that stays inside is fine.
	root, err := unpackTo(t, ct.Tar(t, ct.Entry{Name: "usr/lib/x/", Mode: 0o755},
		ct.Entry{Name: "usr/lib/x/l", Linkname: "../../../bin/sh"}))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.Readlink(filepath.Join(root, "usr/lib/x/l")); got != "../../../bin/sh" {
		t.Errorf("link = %q", got)
	}
}

func TestUnpackRefusesEscapingHardLink(t *testing.T) {
	_, err := unpackTo(t, ct.Tar(t, ct.Entry{Name: "h", Linkname: "../../etc/passwd", Hard: true}))
	if !errors.Is(err, ErrUnsafeLayer) {
		t.Fatalf("err = %v, want ErrUnsafeLayer", err)
	}
}

// An absolute symlink means the same path inside the root, as the container
// sees it: writing through it must not touch the host.
func TestUnpackWritesThroughSymlinkInsideRoot(t *testing.T) {
	host := t.TempDir()
	root, err := unpackTo(t,
		ct.Tar(t, ct.Entry{Name: "etc", Linkname: host}),
		ct.Tar(t, ct.Entry{Name: "etc/passwd", Body: "inside"}))
	if err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(host); len(ents) != 0 {
		t.Fatalf("wrote into the host dir %s: %v", host, ents)
	}
	b, err := os.ReadFile(filepath.Join(root, host, "passwd"))
	if err != nil || string(b) != "inside" {
		t.Fatalf("file through link: %q, %v", b, err)
	}
	// A relative link climbing out is clamped at the root too.
	root, err = unpackTo(t,
		ct.Tar(t, ct.Entry{Name: "d", Linkname: "/../../.."}),
		ct.Tar(t, ct.Entry{Name: "d/f", Body: "x"}))
	if err != nil {
		t.Fatal(err)
	}
	assertNothingBeside(t, root)
	if _, err := os.Stat(filepath.Join(root, "f")); err != nil {
		t.Fatalf("clamped write: %v", err)
	}
}

func TestUnpackWhiteouts(t *testing.T) {
	root, err := unpackTo(t,
		ct.Tar(t, ct.Entry{Name: "a/"}, ct.Entry{Name: "a/x", Body: "1"}, ct.Entry{Name: "a/sub/"},
			ct.Entry{Name: "a/sub/y", Body: "2"}, ct.Entry{Name: "b/"}, ct.Entry{Name: "b/z", Body: "3"},
			ct.Entry{Name: "keep", Body: "4"}),
		ct.Tar(t, ct.Entry{Name: "a/new", Body: "5"}, ct.Entry{Name: "a/.wh..wh..opq"},
			ct.Entry{Name: ".wh.b"}, ct.Entry{Name: "c/.wh.missing"}))
	if err != nil {
		t.Fatal(err)
	}
	for _, gone := range []string{"a/x", "a/sub", "b", "a/.wh..wh..opq", ".wh.b"} {
		if _, err := os.Lstat(filepath.Join(root, gone)); !os.IsNotExist(err) {
			t.Errorf("%s should be gone: %v", gone, err)
		}
	}
	for _, kept := range []string{"a/new", "keep"} {
		if _, err := os.Lstat(filepath.Join(root, kept)); err != nil {
			t.Errorf("%s should exist: %v", kept, err)
		}
	}
}

func TestUnpackModesAndReplace(t *testing.T) {
	root, err := unpackTo(t,
		ct.Tar(t, ct.Entry{Name: "bin/"}, ct.Entry{Name: "bin/tool", Body: "v1", Mode: 0o4755},
			ct.Entry{Name: "x", Body: "file"}),
		ct.Tar(t, ct.Entry{Name: "bin/tool", Body: "v2", Mode: 0o755}, ct.Entry{Name: "x/"},
			ct.Entry{Name: "x/y", Body: "now a dir"}))
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(root, "bin/tool"))
	if err != nil || st.Mode().Perm() != 0o755 || st.Mode()&os.ModeSetuid != 0 {
		t.Fatalf("bin/tool: %v %v", st.Mode(), err)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "x/y")); string(b) != "now a dir" {
		t.Fatalf("x/y = %q", b)
	}
}

func FuzzUnpackLayer(f *testing.F) {
	f.Add(ct.Tar(f, ct.Entry{Name: "a/"}, ct.Entry{Name: "a/b", Body: "x"}, ct.Entry{Name: "l", Linkname: "/a"}))
	f.Add(ct.Tar(f, ct.Entry{Name: "l", Linkname: "../.."}, ct.Entry{Name: "l/x", Body: "x"}))
	f.Fuzz(func(t *testing.T, layer []byte) {
		root := filepath.Join(t.TempDir(), "rootfs")
		if err := os.Mkdir(root, 0o755); err != nil {
			t.Fatal(err)
		}
		_ = UnpackLayer(root, bytes.NewReader(layer))
		assertNothingBeside(t, root)
	})
}

// A whiteout of "..", "." or "" would remove the parent directory (or,
// at the top, the root and what sits beside it).
func TestUnpackRefusesWhiteoutOfParent(t *testing.T) {
	for _, name := range []string{".wh..", ".wh...", ".wh.", "etc/.wh...", "etc/.wh.."} {
		root := filepath.Join(t.TempDir(), "rootfs")
		beside := filepath.Join(filepath.Dir(root), "config.json")
		if err := os.WriteFile(beside, []byte("{}"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Mkdir(root, 0o755); err != nil {
			t.Fatal(err)
		}
		lower := ct.Tar(t, ct.Entry{Name: "etc/"}, ct.Entry{Name: "etc/keep", Body: "k"}, ct.Entry{Name: "keep", Body: "k"})
		if err := UnpackLayer(root, bytes.NewReader(lower)); err != nil {
			t.Fatal(err)
		}
		err := UnpackLayer(root, bytes.NewReader(ct.Tar(t, ct.Entry{Name: name})))
		if !errors.Is(err, ErrUnsafeLayer) {
			t.Errorf("%s: err = %v, want ErrUnsafeLayer", name, err)
		}
		for _, p := range []string{beside, filepath.Join(root, "keep"), filepath.Join(root, "etc", "keep")} {
			if _, err := os.Stat(p); err != nil {
				t.Errorf("%s removed %s: %v", name, p, err)
			}
		}
	}
}
