package registry

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/birdflock/runner/pkg/testenv"
	"github.com/google/go-containerregistry/pkg/v1/validate"
	"github.com/sirupsen/logrus"
)

func TestPushTwoTagsSameDigestAndNoReupload(t *testing.T) {
	host, cnt := diskRegistry(t, t.TempDir())
	ctx := context.Background()
	a := randomArtifact(t)
	c := fastClient(Options{})

	p, err := c.Push(ctx, a, host+"/owner/app", []string{"latest", "abc123"})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := a.Digest()
	if p.Digest != want.String() {
		t.Fatalf("digest %s, want %s", p.Digest, want)
	}
	if len(p.Refs) != 2 || p.Refs[0] != host+"/owner/app:latest" || p.Refs[1] != host+"/owner/app:abc123" {
		t.Fatalf("refs %v", p.Refs)
	}
	for _, ref := range p.Refs {
		d, err := c.Digest(ctx, ref)
		if err != nil {
			t.Fatal(err)
		}
		if d != p.Digest {
			t.Errorf("%s -> %s, want %s", ref, d, p.Digest)
		}
	}
	up, _ := cnt.reset()
	if up == 0 {
		t.Fatal("first push uploaded no blob: the counter sees nothing")
	}

	// A fresh client (no shared cache) pushing the same image again, and a
	// new tag of it: the registry has every blob, nothing is uploaded.
	c2 := fastClient(Options{})
	if _, err := c2.Push(ctx, a, host+"/owner/app", []string{"latest", "abc123", "v2"}); err != nil {
		t.Fatal(err)
	}
	if up, total := cnt.reset(); up != 0 {
		t.Fatalf("second push made %d upload requests (of %d)", up, total)
	}
	if d, _ := c.Digest(ctx, host+"/owner/app:v2"); d != p.Digest {
		t.Fatalf("v2 -> %s, want %s", d, p.Digest)
	}
}

func TestRegistryKeepsImagesAcrossRestart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "registry") // created by Serve
	ctx := context.Background()
	s, err := Serve(ctx, "127.0.0.1:0", dir)
	if err != nil {
		t.Fatal(err)
	}
	a := randomArtifact(t)
	c := fastClient(Options{})
	p, err := c.Push(ctx, a, s.Addr()+"/owner/app", []string{"latest", "sha1"})
	if err != nil {
		t.Fatal(err)
	}
	if addr, id, ok := servedBy(dir); !ok || addr != s.Addr() || !ping(ctx, addr, id, 2*time.Second) {
		t.Errorf("address file names %q (id %q), want %s answering with that id", addr, id, s.Addr())
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, addrFile)); !os.IsNotExist(err) {
		t.Errorf("address file left after Close: %v", err)
	}

	s2, err := Serve(ctx, "127.0.0.1:0", dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	for _, tag := range []string{"latest", "sha1"} {
		got, err := c.Pull(ctx, s2.Addr()+"/owner/app:"+tag)
		if err != nil {
			t.Fatal(err)
		}
		d, _ := got.Digest()
		if d.String() != p.Digest {
			t.Fatalf("after restart %s -> %s, want %s", tag, d, p.Digest)
		}
		img, err := got.Image(nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := validate.Image(img); err != nil { // reads and checks every blob
			t.Fatal(err)
		}
	}

	var tags struct{ Tags []string }
	getJSON(t, "http://"+s2.Addr()+"/v2/owner/app/tags/list", &tags)
	if strings.Join(tags.Tags, ",") != "latest,sha1" {
		t.Errorf("tags %v", tags.Tags)
	}
	var cat struct{ Repositories []string }
	getJSON(t, "http://"+s2.Addr()+"/v2/_catalog", &cat)
	if strings.Join(cat.Repositories, ",") != "owner/app" {
		t.Errorf("catalog %v", cat.Repositories)
	}
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}

func TestRegistryRefusesBadInput(t *testing.T) {
	host, _ := diskRegistry(t, t.TempDir())
	put := func(path, ct, body string) int {
		req, _ := http.NewRequest(http.MethodPut, "http://"+host+path, strings.NewReader(body))
		req.Header.Set("Content-Type", ct)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	const oci = "application/vnd.oci.image.manifest.v1+json"
	missing := `{"schemaVersion":2,"mediaType":"` + oci + `","config":{"mediaType":"application/vnd.oci.image.config.v1+json","size":2,"digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"},"layers":[]}`
	cases := []struct{ name, path, body string }{
		{"blob missing", "/v2/owner/app/manifests/latest", missing},
		{"upper-case name", "/v2/Owner/app/manifests/latest", missing},
		{"dot-dot name", "/v2/../../etc/manifests/latest", missing},
		{"bad tag", "/v2/owner/app/manifests/-x", missing},
		{"digest mismatch", "/v2/owner/app/manifests/sha256:0000000000000000000000000000000000000000000000000000000000000000", missing},
		{"not json", "/v2/owner/app/manifests/latest", "{"},
	}
	for _, tc := range cases {
		if code := put(tc.path, oci, tc.body); code < 400 || code >= 500 {
			t.Errorf("%s: status %d, want 4xx", tc.name, code)
		}
	}
	resp, err := http.Get("http://" + host + "/v2/owner/app/manifests/latest")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("refused manifest is served: %d", resp.StatusCode)
	}
}

func TestRegistryDeletes(t *testing.T) {
	host, _ := diskRegistry(t, t.TempDir())
	ctx := context.Background()
	c := fastClient(Options{})
	p, err := c.Push(ctx, randomArtifact(t), host+"/o/app", []string{"a", "b", "c"})
	if err != nil {
		t.Fatal(err)
	}
	del := func(ref string) int {
		req, _ := http.NewRequest(http.MethodDelete, "http://"+host+"/v2/o/app/manifests/"+ref, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := del("a"); code != http.StatusAccepted {
		t.Fatalf("delete tag: %d", code)
	}
	var tags struct{ Tags []string }
	getJSON(t, "http://"+host+"/v2/o/app/tags/list", &tags)
	if strings.Join(tags.Tags, ",") != "b,c" {
		t.Fatalf("tags after deleting a: %v", tags.Tags)
	}
	if _, err := c.Digest(ctx, host+"/o/app:b"); err != nil {
		t.Fatalf("b gone with a: %v", err)
	}
	if code := del(p.Digest); code != http.StatusAccepted {
		t.Fatalf("delete digest: %d", code)
	}
	getJSON(t, "http://"+host+"/v2/o/app/tags/list", &tags)
	if len(tags.Tags) != 0 {
		t.Fatalf("tags of a deleted manifest remain: %v", tags.Tags)
	}
	if _, err := c.Digest(ctx, host+"/o/app@"+p.Digest); err == nil {
		t.Fatal("deleted manifest still served")
	}
	if code := del("zzz"); code != http.StatusNotFound {
		t.Fatalf("delete of an unknown tag: %d", code)
	}
}

// distribution logs through the process-wide logrus logger; its lines are
// dropped, other libraries' lines are kept, and WithRequestLog gets one
// line per request.
func TestDistributionLogsAreSilenced(t *testing.T) {
	var global, reqs testenv.Buffer
	l := logrus.StandardLogger()
	out := l.Out
	l.SetOutput(&global)
	defer l.SetOutput(out)
	dir := t.TempDir()
	s, err := Serve(context.Background(), "127.0.0.1:0", dir, WithRequestLog(&reqs), withUploadPurge(time.Hour, 10*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fastClient(Options{}).Push(context.Background(), randomArtifact(t), s.Addr()+"/o/app", []string{"v1"}); err != nil {
		t.Fatal(err)
	}
	http.Get("http://" + s.Addr() + "/v2/o/app/manifests/missing")
	time.Sleep(50 * time.Millisecond) // a few purger rounds
	s.Close()
	logrus.Info("another library's line")
	if g := global.String(); strings.Contains(g, "response completed") || strings.Contains(g, "PurgeUploads") || !strings.Contains(g, "another library's line") {
		t.Errorf("process-wide logrus output:\n%s", g)
	}
	r := reqs.String()
	for _, want := range []string{"PUT /v2/o/app/manifests/v1 201", "GET /v2/o/app/manifests/missing 404"} {
		if !strings.Contains(r, want) {
			t.Errorf("request log lacks %q:\n%s", want, r)
		}
	}
}
