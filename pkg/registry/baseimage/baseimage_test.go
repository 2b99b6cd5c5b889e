package baseimage

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/birdflock/runner/pkg/registry"
	"github.com/birdflock/runner/pkg/testenv"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// requireDebianParts fails under CI (make test installs busybox-static and
// nginx) and skips elsewhere when they are missing.
func requireDebianParts(t *testing.T) {
	t.Helper()
	for _, p := range []string{"/bin/busybox", "/usr/sbin/nginx", "/etc/nginx/mime.types"} {
		if _, err := os.Stat(p); err != nil {
			testenv.Missing(t, "%s missing (apt-get install busybox-static nginx)", p)
		}
	}
	if _, err := exec.LookPath("ldd"); err != nil {
		t.Fatalf("ldd missing: %v", err)
	}
}

// built builds the stand-ins once per test binary: compressing nginx's
// libraries is the slow part.
var built = sync.OnceValues(func() ([]Image, error) { return Build(context.Background(), Options{}) })

func images(t *testing.T) []Image {
	t.Helper()
	imgs, err := built()
	if err != nil {
		t.Fatal(err)
	}
	return imgs
}

type file struct {
	hdr  *tar.Header
	data []byte
}

// flatten reads the image's merged file system.
func flatten(t *testing.T, img v1.Image) map[string]file {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	files := map[string]file{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		files[strings.TrimSuffix(strings.TrimPrefix(h.Name, "/"), "/")] = file{h, b}
	}
	return files
}

func mustHave(t *testing.T, fs map[string]file, name string, typ byte) file {
	t.Helper()
	f, ok := fs[name]
	if !ok {
		t.Fatalf("%s missing", name)
	}
	if f.hdr.Typeflag != typ {
		t.Fatalf("%s: type %c, want %c", name, f.hdr.Typeflag, typ)
	}
	return f
}

func TestAlpineContents(t *testing.T) {
	requireDebianParts(t)
	img := images(t)[0].Image
	fs := flatten(t, img)
	bb := mustHave(t, fs, "bin/busybox", tar.TypeReg)
	if bb.hdr.Mode&0o111 == 0 {
		t.Error("busybox is not executable")
	}
	host, _ := os.ReadFile("/bin/busybox")
	if !bytes.Equal(bb.data, host) {
		t.Error("busybox differs from Debian's")
	}
	list, err := exec.Command("/bin/busybox", "--list-full").Output()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, p := range strings.Fields(string(list)) {
		if p == "bin/busybox" {
			continue
		}
		l := mustHave(t, fs, p, tar.TypeSymlink)
		if l.hdr.Linkname != "/bin/busybox" {
			t.Errorf("%s -> %s", p, l.hdr.Linkname)
		}
		n++
	}
	if n < 100 {
		t.Errorf("only %d applet links", n)
	}
	for _, p := range []string{"bin/sh", "bin/ls", "bin/cat", "usr/bin/wget", "bin/mkdir"} {
		mustHave(t, fs, p, tar.TypeSymlink)
	}
	if !strings.HasPrefix(string(mustHave(t, fs, "etc/passwd", tar.TypeReg).data), "root:x:0:0:") {
		t.Error("/etc/passwd has no root")
	}
	if !strings.HasPrefix(string(mustHave(t, fs, "etc/group", tar.TypeReg).data), "root:x:0:") {
		t.Error("/etc/group has no root")
	}
	if m := mustHave(t, fs, "tmp", tar.TypeDir).hdr.Mode & 0o7777; m != 0o1777 {
		t.Errorf("/tmp mode %o", m)
	}
	cf, _ := img.ConfigFile()
	if cf.OS != "linux" || cf.Architecture != runtime.GOARCH || strings.Join(cf.Config.Cmd, " ") != "/bin/sh" {
		t.Errorf("config %s/%s cmd %v", cf.OS, cf.Architecture, cf.Config.Cmd)
	}
	if ls, _ := img.Layers(); len(ls) != 1 {
		t.Errorf("%d layers, want 1", len(ls))
	}
}

func TestNginxContents(t *testing.T) {
	requireDebianParts(t)
	ctx := context.Background()
	img := images(t)[1].Image
	fs := flatten(t, img)
	mustHave(t, fs, "usr/sbin/nginx", tar.TypeReg)
	mustHave(t, fs, "bin/sh", tar.TypeSymlink) // the alpine layer below
	libs, err := sharedLibraries(ctx, "/usr/sbin/nginx")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, lib := range libs {
		f := mustHave(t, fs, strings.TrimPrefix(lib, "/"), tar.TypeReg)
		host, _ := os.ReadFile(lib)
		if !bytes.Equal(f.data, host) {
			t.Errorf("%s differs from the host's", lib)
		}
		names = append(names, filepath.Base(lib))
	}
	for _, want := range []string{"libc.so.6", "libpcre2-8.so.0", "ld-linux"} {
		if !strings.Contains(strings.Join(names, " "), want) {
			t.Errorf("no %s among %v", want, names)
		}
	}
	conf := string(mustHave(t, fs, "etc/nginx/nginx.conf", tar.TypeReg).data)
	for _, want := range []string{"user  nginx;", "include /etc/nginx/conf.d/*.conf;", "include       /etc/nginx/mime.types;"} {
		if !strings.Contains(conf, want) {
			t.Errorf("nginx.conf lacks %q", want)
		}
	}
	def := string(mustHave(t, fs, "etc/nginx/conf.d/default.conf", tar.TypeReg).data)
	for _, want := range []string{"listen       80;", "root   /usr/share/nginx/html;"} {
		if !strings.Contains(def, want) {
			t.Errorf("default.conf lacks %q", want)
		}
	}
	if !strings.Contains(string(mustHave(t, fs, "etc/nginx/mime.types", tar.TypeReg).data), "text/html") {
		t.Error("mime.types lacks text/html")
	}
	mustHave(t, fs, "usr/share/nginx/html/index.html", tar.TypeReg)
	for _, d := range []string{"var/lib/nginx/body", "var/lib/nginx/proxy", "var/cache/nginx", "var/log/nginx", "run"} {
		mustHave(t, fs, d, tar.TypeDir)
	}
	if !strings.Contains(string(fs["etc/passwd"].data), "\nnginx:x:101:101:") || !strings.Contains(string(fs["etc/group"].data), "\nnginx:x:101:") {
		t.Error("no nginx user or group")
	}
	cf, _ := img.ConfigFile()
	if strings.Join(cf.Config.Cmd, "|") != "nginx|-g|daemon off;" {
		t.Errorf("cmd %q", cf.Config.Cmd)
	}
	if _, ok := cf.Config.ExposedPorts["80/tcp"]; !ok {
		t.Errorf("exposed %v", cf.Config.ExposedPorts)
	}
	// The alpine layer is shared, so the registry stores it once.
	al, _ := images(t)[0].Image.Layers()
	nl, _ := img.Layers()
	ad, _ := al[0].Digest()
	nd, _ := nl[0].Digest()
	if len(nl) != 2 || ad != nd {
		t.Errorf("nginx layers %d, base %s vs alpine %s", len(nl), nd, ad)
	}
}

func TestBuildIsDeterministic(t *testing.T) {
	requireDebianParts(t)
	a := images(t)
	b, err := Build(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range a {
		da, _ := a[i].Image.Digest()
		db, _ := b[i].Image.Digest()
		if da != db {
			t.Errorf("%s: %s then %s", a[i].Ref(), da, db)
		}
	}
	if a[0].Ref() != "library/alpine:latest" || a[1].Ref() != "library/nginx:stable-alpine" {
		t.Errorf("refs %s %s", a[0].Ref(), a[1].Ref())
	}
}

// unpack writes the image's file system under dir (our own image: no
// hostile paths to guard against beyond a prefix check).
func unpack(t *testing.T, img v1.Image, dir string) {
	t.Helper()
	for name, f := range flatten(t, img) {
		p := filepath.Join(dir, name)
		if !strings.HasPrefix(p, dir+string(filepath.Separator)) {
			t.Fatalf("bad path %s", name)
		}
		os.MkdirAll(filepath.Dir(p), 0o755)
		switch f.hdr.Typeflag {
		case tar.TypeDir:
			os.MkdirAll(p, 0o755)
			os.Chmod(p, os.FileMode(f.hdr.Mode&0o777)|modeBits(f.hdr.Mode))
		case tar.TypeReg:
			if err := os.WriteFile(p, f.data, os.FileMode(f.hdr.Mode&0o777)); err != nil {
				t.Fatal(err)
			}
		case tar.TypeSymlink:
			if err := os.Symlink(f.hdr.Linkname, p); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func modeBits(m int64) os.FileMode {
	if m&0o1000 != 0 {
		return os.ModeSticky
	}
	return 0
}

// requireRoot: chroot needs root; CI runs as root.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		testenv.Missing(t, "needs root for chroot")
	}
}

func TestImagesRunInChroot(t *testing.T) {
	requireDebianParts(t)
	requireRoot(t)
	imgs := images(t)

	t.Run("alpine", func(t *testing.T) {
		root := t.TempDir()
		unpack(t, imgs[0].Image, root)
		cmd := exec.Command("/bin/sh", "-c", "echo hello > /tmp/x && cat /tmp/x && id -un && ls /bin/ls && wc -l < /etc/passwd")
		cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: root}
		cmd.Dir = "/"
		cmd.Env = []string{"PATH=" + defaultPath}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		if got := strings.Fields(string(out)); strings.Join(got, " ") != "hello root /bin/ls 3" {
			t.Fatalf("output %q", out)
		}
	})

	t.Run("nginx", func(t *testing.T) {
		root := t.TempDir()
		unpack(t, imgs[1].Image, root)
		// No /dev in a bare chroot: give the log symlinks plain files to hit.
		os.WriteFile(filepath.Join(root, "dev/stdout"), nil, 0o644)
		os.WriteFile(filepath.Join(root, "dev/stderr"), nil, 0o644)
		run := func(args ...string) *exec.Cmd {
			cmd := exec.Command("/usr/sbin/nginx", args...)
			cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: root, Setpgid: true}
			cmd.Dir = "/"
			cmd.Env = []string{"PATH=" + defaultPath}
			return cmd
		}
		if out, err := run("-t").CombinedOutput(); err != nil {
			t.Fatalf("nginx -t: %v: %s", err, out)
		}

		// Serve for real: the default server, moved to a free loopback port.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		defPath := filepath.Join(root, "etc/nginx/conf.d/default.conf")
		def, _ := os.ReadFile(defPath)
		os.WriteFile(defPath, bytes.Replace(def, []byte("listen       80;"), []byte("listen "+addr+";"), 1), 0o644)
		var out bytes.Buffer
		cmd := run("-g", "daemon off;")
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() {
			// SIGTERM lets the master stop and reap its workers; SIGKILL of
			// the process group (ours alone) is the fallback.
			cmd.Process.Signal(syscall.SIGTERM)
			done := make(chan struct{})
			go func() { cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
				<-done
			}
		}()
		var body string
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			resp, err := http.Get("http://" + addr + "/")
			if err != nil {
				continue
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				body = string(b)
				if ct := resp.Header.Get("Content-Type"); ct != "text/html" {
					t.Errorf("content type %q (mime.types not used?)", ct)
				}
				break
			}
		}
		if !strings.Contains(body, "Welcome to nginx!") {
			t.Fatalf("no index page from nginx (%q); nginx said: %s", body, out.String())
		}
	})
}

func TestSeedThenPullThroughMirror(t *testing.T) {
	requireDebianParts(t)
	ctx := context.Background()
	s, err := registry.Serve(ctx, "127.0.0.1:0", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := registry.New(registry.Options{})
	pushed, err := Seed(ctx, c, s.Addr(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	again := images(t) // built separately: same digests
	m, err := registry.ParseMirrors("docker.io=http://" + s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	pc := registry.New(registry.Options{Mirrors: m})
	for i, ref := range []string{"alpine:latest", "nginx:stable-alpine"} {
		if d, _ := again[i].Image.Digest(); d.String() != pushed[i].Digest {
			t.Errorf("another build of %s: %s, seeded %s", ref, d, pushed[i].Digest)
		}
		a, err := pc.Pull(ctx, ref)
		if err != nil {
			t.Fatal(err)
		}
		if d, _ := a.Digest(); d.String() != pushed[i].Digest {
			t.Errorf("%s through the mirror: %s, want %s", ref, d, pushed[i].Digest)
		}
	}
}
