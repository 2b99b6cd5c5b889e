package registry

import (
	"context"
	"strings"
	"testing"
)

func TestMirrorRewrite(t *testing.T) {
	m, err := ParseMirrors("docker.io=http://127.0.0.1:5000", "ghcr.io=https://mirror.example/ghcr,quay.io=127.0.0.1:6000")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ in, want string }{
		{"alpine:latest", "127.0.0.1:5000/library/alpine:latest, index.docker.io/library/alpine:latest"},
		{"nginx:stable-alpine", "127.0.0.1:5000/library/nginx:stable-alpine, index.docker.io/library/nginx:stable-alpine"},
		{"docker.io/owner/app", "127.0.0.1:5000/owner/app:latest, index.docker.io/owner/app:latest"},
		{"index.docker.io/library/alpine@sha256:0a02e815d0f7f93d6f004169de44953033dc581d954f9e98c38903d23225797e",
			"127.0.0.1:5000/library/alpine@sha256:0a02e815d0f7f93d6f004169de44953033dc581d954f9e98c38903d23225797e, index.docker.io/library/alpine@sha256:0a02e815d0f7f93d6f004169de44953033dc581d954f9e98c38903d23225797e"},
		{"ghcr.io/o/a:v1", "mirror.example/ghcr/o/a:v1, ghcr.io/o/a:v1"},
		{"quay.io/o/a:v1", "127.0.0.1:6000/o/a:v1, quay.io/o/a:v1"},
		{"registry.example/o/a:v1", "registry.example/o/a:v1"},
	} {
		refs, err := m.Rewrite(tc.in)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range refs {
			got = append(got, r.Name())
		}
		if strings.Join(got, ", ") != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.in, strings.Join(got, ", "), tc.want)
		}
	}
	refs, _ := m.Rewrite("alpine")
	if refs[0].Context().Registry.Scheme() != "http" {
		t.Error("http:// mirror is not plain HTTP")
	}
	if got := m.String(); got != "docker.io=http://127.0.0.1:5000,ghcr.io=https://mirror.example/ghcr,quay.io=http://127.0.0.1:6000" {
		t.Errorf("String() = %s", got)
	}
}

func TestMirrorFlagErrors(t *testing.T) {
	for _, bad := range []string{"docker.io", "=http://x", "docker.io=", "docker.io=http://user:pw@h", "docker.io=ftp://x y"} {
		var m Mirrors
		if err := m.Set(bad); err == nil {
			t.Errorf("Set(%q) accepted", bad)
		} else if strings.Contains(err.Error(), "pw@") && !strings.Contains(bad, "pw@") {
			t.Errorf("odd error %v", err)
		}
	}
}

func TestBuildkitTOML(t *testing.T) {
	m, err := ParseMirrors("index.docker.io=http://127.0.0.1:5000", "ghcr.io=https://mirror.example")
	if err != nil {
		t.Fatal(err)
	}
	want := `[registry."docker.io"]
  mirrors = ["127.0.0.1:5000"]
[registry."ghcr.io"]
  mirrors = ["mirror.example"]
[registry."127.0.0.1:5000"]
  http = true
  insecure = true
`
	if got := m.BuildkitTOML(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if (Mirrors{}).BuildkitTOML() != "" {
		t.Error("no mirrors should render nothing")
	}
}

func TestPullThroughMirror(t *testing.T) {
	host, cnt := diskRegistry(t, t.TempDir())
	ctx := context.Background()
	a := randomArtifact(t)
	p, err := fastClient(Options{}).Push(ctx, a, host+"/library/alpine", []string{"latest"})
	if err != nil {
		t.Fatal(err)
	}
	cnt.reset()
	m, err := ParseMirrors("docker.io=http://" + host)
	if err != nil {
		t.Fatal(err)
	}
	c := fastClient(Options{Mirrors: m, Transport: loopbackOnly()})
	got, err := c.Pull(ctx, "alpine:latest")
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := got.Digest(); d.String() != p.Digest {
		t.Fatalf("pulled %s, want %s", d, p.Digest)
	}
	if got.Source != host+"/library/alpine:latest" {
		t.Errorf("source %s", got.Source)
	}
	if _, total := cnt.reset(); total == 0 {
		t.Error("mirror saw no request")
	}

	// Not on the mirror: falls back to Docker Hub, which the test transport
	// refuses; the error names both attempts.
	_, err = c.Pull(ctx, "busybox:1")
	if err == nil {
		t.Fatal("pull of a missing image succeeded")
	}
	for _, want := range []string{host + "/library/busybox:1", "index.docker.io/library/busybox:1"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %s: %v", want, err)
		}
	}
}

func TestMirrorsFromEnv(t *testing.T) {
	env := map[string]string{EnvMirrors: "docker.io=http://127.0.0.1:5000, ghcr.io=https://m.example"}
	m, err := MirrorsFromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if len(m.For("index.docker.io")) != 1 || len(m.For("ghcr.io")) != 1 {
		t.Fatalf("mirrors %s", m.String())
	}
	env[EnvMirrors] = "nonsense"
	if _, err := MirrorsFromEnv(func(k string) string { return env[k] }); err == nil || !strings.Contains(err.Error(), EnvMirrors) {
		t.Fatalf("error %v", err)
	}
	if m, err := MirrorsFromEnv(func(string) string { return "" }); err != nil || !m.Empty() {
		t.Fatalf("empty env: %v %v", m, err)
	}
}
