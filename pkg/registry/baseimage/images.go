package baseimage

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Options say where the Debian binaries are. The zero value uses the
// paths of Debian's busybox-static and nginx packages.
type Options struct {
	Busybox   string    // default /bin/busybox (package busybox-static)
	Nginx     string    // default /usr/sbin/nginx (package nginx)
	MimeTypes string    // default /etc/nginx/mime.types (package nginx-common)
	Created   time.Time // image and file times; default 2000-01-01T00:00:00Z
}

func (o Options) withDefaults() Options {
	if o.Busybox == "" {
		o.Busybox = "/bin/busybox"
	}
	if o.Nginx == "" {
		o.Nginx = "/usr/sbin/nginx"
	}
	if o.MimeTypes == "" {
		o.MimeTypes = "/etc/nginx/mime.types"
	}
	if o.Created.IsZero() {
		o.Created = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	return o
}

// Image is a built base image and the repository and tag it stands in for.
type Image struct {
	Repo  string // e.g. "library/alpine"
	Tag   string // e.g. "latest"
	Image v1.Image
}

// Ref is REPO:TAG.
func (i Image) Ref() string { return i.Repo + ":" + i.Tag }

const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Build builds every stand-in: library/alpine:latest and
// library/nginx:stable-alpine.
func Build(ctx context.Context, o Options) ([]Image, error) {
	alpine, err := Alpine(ctx, o)
	if err != nil {
		return nil, err
	}
	nginx, err := Nginx(ctx, o)
	if err != nil {
		return nil, err
	}
	return []Image{
		{Repo: "library/alpine", Tag: "latest", Image: alpine},
		{Repo: "library/nginx", Tag: "stable-alpine", Image: nginx},
	}, nil
}

// Alpine builds the alpine stand-in: one layer with Debian's static
// busybox, a symlink per applet, /etc/passwd, /etc/group and /tmp (1777).
func Alpine(ctx context.Context, o Options) (v1.Image, error) {
	o = o.withDefaults()
	l, err := alpineLayer(ctx, o)
	if err != nil {
		return nil, err
	}
	return assemble(o, []v1.Layer{l}, []string{"busybox-static: " + o.Busybox + " and applet links"}, v1.Config{
		Env: []string{"PATH=" + defaultPath},
		Cmd: []string{"/bin/sh"},
	})
}

func alpineLayer(ctx context.Context, o Options) (v1.Layer, error) {
	bb, err := os.ReadFile(o.Busybox)
	if err != nil {
		return nil, fmt.Errorf("alpine stand-in needs busybox-static: %w", err)
	}
	out, err := exec.CommandContext(ctx, o.Busybox, "--list-full").Output()
	if err != nil {
		return nil, fmt.Errorf("%s --list-full: %w", o.Busybox, err)
	}
	t := fsTree{}
	t.file("bin/busybox", 0o755, bb)
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		p := clean(sc.Text())
		if p == "" || p == "bin/busybox" || strings.HasPrefix(p, "..") {
			continue
		}
		t.symlink(p, "/bin/busybox")
	}
	for _, d := range []string{"bin", "sbin", "usr/bin", "usr/sbin", "usr/local/bin", "usr/local/sbin",
		"etc", "home", "dev", "proc", "sys", "run", "var", "var/log", "var/cache", "lib", "usr/lib", "mnt", "srv", "opt"} {
		t.dir(d, 0o755)
	}
	t.dir("root", 0o700)
	t.dir("tmp", 0o1777)
	t.dir("var/tmp", 0o1777)
	t.symlink("var/run", "/run")
	t.file("etc/passwd", 0o644, []byte(passwd))
	t.file("etc/group", 0o644, []byte(group))
	t.file("etc/shadow", 0o640, []byte("root:*::0:::::\nnobody:!::0:::::\n"))
	t.file("etc/nsswitch.conf", 0o644, []byte("passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n"))
	t.file("etc/os-release", 0o644, []byte(`NAME="runner stand-in for Alpine Linux (Debian busybox-static)"
ID=alpine
PRETTY_NAME="runner stand-in for alpine:latest"
`))
	return t.layer(o.Created)
}

const passwd = `root:x:0:0:root:/root:/bin/sh
daemon:x:2:2:daemon:/sbin:/sbin/nologin
nobody:x:65534:65534:nobody:/:/sbin/nologin
`

const group = `root:x:0:root
daemon:x:2:root,daemon
nogroup:x:65533:
nobody:x:65534:
`

// Nginx builds the nginx:stable-alpine stand-in: the alpine layer plus
// Debian's nginx with the shared libraries ldd lists, mime.types, the
// directories nginx was built to use, a default server on port 80 serving
// /usr/share/nginx/html, and user and group nginx.
func Nginx(ctx context.Context, o Options) (v1.Image, error) {
	o = o.withDefaults()
	base, err := alpineLayer(ctx, o)
	if err != nil {
		return nil, err
	}
	l, version, err := nginxLayer(ctx, o)
	if err != nil {
		return nil, err
	}
	return assemble(o, []v1.Layer{base, l}, []string{
		"busybox-static: " + o.Busybox + " and applet links",
		"nginx " + version + ": " + o.Nginx + ", its libraries and configuration",
	}, v1.Config{
		Env:          []string{"PATH=" + defaultPath, "NGINX_VERSION=" + version},
		Cmd:          []string{"nginx", "-g", "daemon off;"},
		ExposedPorts: map[string]struct{}{"80/tcp": {}},
		StopSignal:   "SIGQUIT",
	})
}

var (
	lddLine     = regexp.MustCompile(`^\s*(?:\S+\s+=>\s+)?(/\S+)\s+\(0x[0-9a-f]+\)$`)
	nginxPathRE = regexp.MustCompile(`--(?:[a-z-]+-temp-path|pid-path|lock-path|http-log-path|error-log-path)=(/\S+)`)
	nginxVerRE  = regexp.MustCompile(`nginx/(\S+)`)
)

func nginxLayer(ctx context.Context, o Options) (v1.Layer, string, error) {
	if _, err := os.Stat(o.Nginx); err != nil {
		return nil, "", fmt.Errorf("nginx stand-in needs Debian's nginx: %w", err)
	}
	mime, err := os.ReadFile(o.MimeTypes)
	if err != nil {
		return nil, "", fmt.Errorf("nginx stand-in needs mime.types: %w", err)
	}
	t := fsTree{}
	if err := t.binaries(ctx, map[string]string{"usr/sbin/nginx": o.Nginx}); err != nil {
		return nil, "", fmt.Errorf("nginx stand-in: %w", err)
	}
	// nginx -V names the paths compiled in (temp dirs, pid, lock, logs).
	var vout bytes.Buffer
	cmd := exec.CommandContext(ctx, o.Nginx, "-V")
	cmd.Stdout, cmd.Stderr = &vout, &vout
	if err := cmd.Run(); err != nil {
		return nil, "", fmt.Errorf("%s -V: %w: %s", o.Nginx, err, vout.String())
	}
	version := "unknown"
	if m := nginxVerRE.FindStringSubmatch(vout.String()); m != nil {
		version = m[1]
	}
	for _, m := range nginxPathRE.FindAllStringSubmatch(vout.String(), -1) {
		p := m[1]
		if strings.HasSuffix(m[0][:strings.Index(m[0], "=")], "temp-path") {
			t.dir(p, 0o755)
		} else {
			t.dir(filepath.Dir(p), 0o755)
		}
	}
	t.dir("var/cache/nginx", 0o755)
	t.dir("var/log/nginx", 0o755)
	t.symlink("var/log/nginx/access.log", "/dev/stdout")
	t.symlink("var/log/nginx/error.log", "/dev/stderr")
	t.file("etc/nginx/nginx.conf", 0o644, []byte(nginxConf))
	t.file("etc/nginx/mime.types", 0o644, mime)
	t.file("etc/nginx/conf.d/default.conf", 0o644, []byte(defaultConf))
	t.file("usr/share/nginx/html/index.html", 0o644, []byte(indexHTML))
	t.file("usr/share/nginx/html/50x.html", 0o644, []byte(errorHTML))
	t.file("etc/passwd", 0o644, []byte(passwd+"nginx:x:101:101:nginx:/var/cache/nginx:/sbin/nologin\n"))
	t.file("etc/group", 0o644, []byte(group+"nginx:x:101:nginx\n"))
	l, err := t.layer(o.Created)
	return l, version, err
}

// sharedLibraries lists the files ldd says bin loads, the dynamic loader
// included (vdso has no file and is skipped).
func sharedLibraries(ctx context.Context, bin string) ([]string, error) {
	out, err := exec.CommandContext(ctx, "ldd", bin).Output()
	if err != nil {
		return nil, fmt.Errorf("ldd %s: %w", bin, err)
	}
	var libs []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if strings.Contains(line, "not found") {
			return nil, fmt.Errorf("ldd %s: %s", bin, strings.TrimSpace(line))
		}
		if m := lddLine.FindStringSubmatch(line); m != nil {
			libs = append(libs, m[1])
		}
	}
	if len(libs) == 0 {
		return nil, fmt.Errorf("ldd %s: no libraries listed", bin)
	}
	return libs, nil
}

// assemble makes an OCI image of layers with a fixed creation time.
func assemble(o Options, layers []v1.Layer, history []string, cfg v1.Config) (v1.Image, error) {
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	for i, l := range layers {
		var err error
		img, err = mutate.Append(img, mutate.Addendum{
			Layer:     l,
			MediaType: types.OCILayer,
			History:   v1.History{Created: v1.Time{Time: o.Created}, CreatedBy: "runner base-images: " + history[i]},
		})
		if err != nil {
			return nil, err
		}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.Architecture = runtime.GOARCH
	cf.OS = "linux"
	cf.Created = v1.Time{Time: o.Created}
	cf.Config = cfg
	return mutate.ConfigFile(img, cf)
}

const nginxConf = `user  nginx;
worker_processes  auto;

error_log  /var/log/nginx/error.log notice;
pid        /var/run/nginx.pid;

events {
    worker_connections  1024;
}

http {
    include       /etc/nginx/mime.types;
    default_type  application/octet-stream;

    log_format  main  '$remote_addr - $remote_user [$time_local] "$request" '
                      '$status $body_bytes_sent "$http_referer" '
                      '"$http_user_agent" "$http_x_forwarded_for"';

    access_log  /var/log/nginx/access.log  main;

    sendfile        on;
    keepalive_timeout  65;

    include /etc/nginx/conf.d/*.conf;
}
`

const defaultConf = `server {
    listen       80;
    server_name  localhost;

    location / {
        root   /usr/share/nginx/html;
        index  index.html index.htm;
    }

    error_page   500 502 503 504  /50x.html;
    location = /50x.html {
        root   /usr/share/nginx/html;
    }
}
`

const indexHTML = `<!DOCTYPE html>
<html>
<head>
<title>Welcome to nginx!</title>
</head>
<body>
<h1>Welcome to nginx!</h1>
<p>runner's offline stand-in for nginx:stable-alpine (Debian's nginx).</p>
</body>
</html>
`

const errorHTML = `<!DOCTYPE html>
<html>
<head>
<title>Error</title>
</head>
<body>
<h1>An error occurred.</h1>
</body>
</html>
`
