package registry

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// flaky answers 503 to the first n requests, then passes them through.
type flaky struct {
	mu     sync.Mutex
	n      int
	failed int
	inner  http.Handler
}

func (f *flaky) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	fail := f.failed < f.n
	if fail {
		f.failed++
	}
	f.mu.Unlock()
	if fail {
		http.Error(w, "try again", http.StatusServiceUnavailable)
		return
	}
	f.inner.ServeHTTP(w, r)
}

func TestPushRetriesThrough503(t *testing.T) {
	h, err := Handler(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	f := &flaky{n: 3, inner: h}
	srv := httptest.NewServer(f)
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	a := randomArtifact(t)
	p, err := fastClient(Options{}).Push(context.Background(), a, host+"/owner/app", []string{"latest"})
	if err != nil {
		t.Fatalf("push through 3×503: %v", err)
	}
	if f.failed != 3 {
		t.Fatalf("proxy failed %d requests, want 3", f.failed)
	}
	if d, err := fastClient(Options{}).Digest(context.Background(), host+"/owner/app:latest"); err != nil || d != p.Digest {
		t.Fatalf("digest %s %v, want %s", d, err, p.Digest)
	}
}

// uploadFlaky answers 503 to the first n blob upload requests only.
func TestPushRetriesFailedUploads(t *testing.T) {
	h, err := Handler(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	failed := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		fail := strings.Contains(r.URL.Path, "/blobs/uploads/") && r.Method != http.MethodPost && failed < 2
		if fail {
			failed++
		}
		mu.Unlock()
		if fail {
			http.Error(w, "busy", http.StatusBadGateway)
			return
		}
		h.ServeHTTP(w, r)
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	if _, err := fastClient(Options{}).Push(context.Background(), randomArtifact(t), host+"/o/a", []string{"t"}); err != nil {
		t.Fatalf("push: %v", err)
	}
	if failed != 2 {
		t.Fatalf("failed %d uploads, want 2", failed)
	}
}

func TestPushRetriesDroppedConnections(t *testing.T) {
	h, err := Handler(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	dropped := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		drop := dropped < 2
		if drop {
			dropped++
		}
		mu.Unlock()
		if drop {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close() // the client sees EOF / reset
			}
			return
		}
		h.ServeHTTP(w, r)
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	if _, err := fastClient(Options{}).Push(context.Background(), randomArtifact(t), host+"/o/a", []string{"t"}); err != nil {
		t.Fatalf("push through dropped connections: %v", err)
	}
	if dropped != 2 {
		t.Fatalf("dropped %d, want 2", dropped)
	}
}

// basicAuth wraps h, asking for user:pass.
func basicAuth(h http.Handler, user, pass string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if !ok || u != user || p != pass {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func TestCredentialsAndDockerConfig(t *testing.T) {
	const secret = "s3cr3t-Pa55word"
	h, err := Handler(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(basicAuth(h, "bot", secret))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	t.Setenv("DOCKER_CONFIG", t.TempDir()) // empty: no stored credentials
	ctx := context.Background()
	a := randomArtifact(t)

	var log bytes.Buffer
	_, err = fastClient(Options{Log: &log, Credentials: []Credential{{Registry: host, Username: "bot", Password: "wrong-" + secret}}}).
		Push(ctx, a, host+"/o/a", []string{"latest"})
	if err == nil {
		t.Fatal("push with a wrong password succeeded")
	}
	if strings.Contains(err.Error(), secret) || strings.Contains(log.String(), secret) {
		t.Fatalf("password leaked: %v / %s", err, log.String())
	}
	if !strings.Contains(err.Error(), "UNAUTHORIZED") && !strings.Contains(err.Error(), "401") {
		t.Errorf("error does not say unauthorized: %v", err)
	}

	if _, err := fastClient(Options{Log: &log, Credentials: []Credential{{Registry: host, Username: "bot", Password: secret}}}).
		Push(ctx, a, host+"/o/a", []string{"latest"}); err != nil {
		t.Fatalf("push with credentials: %v", err)
	}
	if strings.Contains(log.String(), secret) {
		t.Fatalf("password in log: %s", log.String())
	}

	// The docker config (authn.DefaultKeychain) is used when no credential is given.
	cfgDir := t.TempDir()
	auth := base64.StdEncoding.EncodeToString([]byte("bot:" + secret))
	cfg := `{"auths":{"` + host + `":{"auth":"` + auth + `"}}}`
	if err := os.WriteFile(filepath.Join(cfgDir, "config.json"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DOCKER_CONFIG", cfgDir)
	if _, err := fastClient(Options{}).Push(ctx, a, host+"/o/b", []string{"latest"}); err != nil {
		t.Fatalf("push with docker config: %v", err)
	}
}

type recordRT struct{ hosts []string }

func (r *recordRT) RoundTrip(req *http.Request) (*http.Response, error) {
	r.hosts = append(r.hosts, req.URL.Scheme+"://"+req.URL.Host)
	return nil, errors.New("not dialing in tests")
}

func TestPlainHTTPOnlyForLoopbackOrInsecure(t *testing.T) {
	for _, tc := range []struct {
		url      string
		insecure bool
		allowed  bool
	}{
		{"http://127.0.0.1:5000/v2/", false, true},
		{"http://localhost:5000/v2/", false, true},
		{"http://[::1]:5000/v2/", false, true},
		{"http://10.1.2.3:5000/v2/", false, false},
		{"http://192.168.1.2/v2/", false, false},
		{"http://registry.example/v2/", false, false},
		{"http://registry.example/v2/", true, true},
		{"https://registry.example/v2/", false, true},
		{"http://10.0.0.5:5000/v2/", false, true}, // an http:// mirror
		{"http://10.0.0.5:5001/v2/", false, false},
	} {
		rec := &recordRT{}
		req, _ := http.NewRequest(http.MethodGet, tc.url, nil)
		m, _ := ParseMirrors("docker.io=http://10.0.0.5:5000")
		_, err := newTransport(rec, tc.insecure, m.httpHosts()...).RoundTrip(req)
		if tc.allowed != (len(rec.hosts) == 1) {
			t.Errorf("%s insecure=%v: passed on %v, want %v", tc.url, tc.insecure, rec.hosts, tc.allowed)
		}
		if !tc.allowed && !errors.Is(err, ErrPlainHTTP) {
			t.Errorf("%s: error %v, want ErrPlainHTTP", tc.url, err)
		}
	}
}

// loopbackOnly is a transport that never leaves 127.0.0.1, so tests that
// fall back to Docker Hub stay offline.
func loopbackOnly() http.RoundTripper {
	d := &net.Dialer{}
	return &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, _, _ := net.SplitHostPort(addr)
			if !isLoopback(host) {
				return nil, errors.New("test transport: no network beyond loopback for " + addr)
			}
			return d.DialContext(ctx, network, addr)
		},
	}
}

func TestIsLoopbackHost(t *testing.T) {
	for host, want := range map[string]bool{
		"localhost": true, "localhost:5000": true, "127.0.0.1": true, "127.0.0.1:5000": true,
		"127.1.2.3:80": true, "[::1]:5000": true, "::1": true,
		"127.example.com": false, "127.evil.example:5000": false, "ghcr.io": false, "10.0.0.1:5000": false,
	} {
		if got := IsLoopbackHost(host); got != want {
			t.Errorf("IsLoopbackHost(%q) = %v, want %v", host, got, want)
		}
	}
}
