package containertest

import (
	"archive/tar"
	"bytes"
	"io"
	"testing"
	"time"

	"github.com/birdflock/runner/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Entry is one tar entry of a test layer. A Linkname makes a symlink
// (Hard: a hard link); a Name ending in "/" makes a directory.
type Entry struct {
	Name     string
	Body     string
	Mode     int64
	Linkname string
	Hard     bool
}

// Tar writes entries as an uncompressed tar.
func Tar(t testing.TB, entries ...Entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.Name, Mode: e.Mode, ModTime: time.Unix(946684800, 0)}
		switch {
		case e.Linkname != "" && e.Hard:
			h.Typeflag, h.Linkname = tar.TypeLink, e.Linkname
		case e.Linkname != "":
			h.Typeflag, h.Linkname = tar.TypeSymlink, e.Linkname
		case len(e.Name) > 0 && e.Name[len(e.Name)-1] == '/':
			h.Typeflag = tar.TypeDir
		default:
			h.Typeflag, h.Size = tar.TypeReg, int64(len(e.Body))
		}
		if h.Mode == 0 {
			h.Mode = 0o644
			if h.Typeflag == tar.TypeDir {
				h.Mode = 0o755
			}
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(tw, e.Body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// Layer makes an image layer of entries.
func Layer(t testing.TB, entries ...Entry) v1.Layer {
	t.Helper()
	b := Tar(t, entries...)
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(b)), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// Image adds layers to base and sets its config (Cmd, Entrypoint, Env,
// WorkingDir, User, ExposedPorts as given in cfg).
func Image(t testing.TB, base v1.Image, cfg v1.Config, layers ...v1.Layer) v1.Image {
	t.Helper()
	img, err := mutate.AppendLayers(base, layers...)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cf.Config
	c.Cmd, c.Entrypoint, c.User, c.ExposedPorts = cfg.Cmd, cfg.Entrypoint, cfg.User, cfg.ExposedPorts
	if cfg.WorkingDir != "" {
		c.WorkingDir = cfg.WorkingDir
	}
	c.Env = append(c.Env, cfg.Env...)
	if img, err = mutate.Config(img, c); err != nil {
		t.Fatal(err)
	}
	return img
}

// Archive writes img as an OCI archive to file.
func Archive(t testing.TB, img v1.Image, file string) string {
	t.Helper()
	if err := registry.WriteArchive(file, registry.FromImage(img), "test:latest"); err != nil {
		t.Fatal(err)
	}
	return file
}

// HTTPDImage is the alpine stand-in serving files with busybox httpd on
// port, with /www/index.html = body.
func HTTPDImage(t testing.TB, port, body string) v1.Image {
	t.Helper()
	return Image(t, Alpine(t), v1.Config{
		Cmd:          []string{"httpd", "-f", "-v", "-p", port, "-h", "/www"},
		ExposedPorts: map[string]struct{}{port + "/tcp": {}},
	}, Layer(t, Entry{Name: "www/"}, Entry{Name: "www/index.html", Body: body}))
}
