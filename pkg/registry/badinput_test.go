package registry

import (
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// regResponse is a status and the error codes of its body.
type regResponse struct {
	status int
	codes  []string
	header http.Header
}

func doRaw(t *testing.T, method, url, ct string, body io.Reader) regResponse {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var e struct{ Errors []struct{ Code string } }
	_ = json.Unmarshal(b, &e)
	r := regResponse{status: resp.StatusCode, header: resp.Header}
	for _, c := range e.Errors {
		r.codes = append(r.codes, c.Code)
	}
	return r
}

// listFiles lists every path under root, relative to it.
func listFiles(t *testing.T, root string) map[string]bool {
	t.Helper()
	files := map[string]bool{}
	err := filepath.WalkDir(root, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		files[rel] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// rawRequest sends a request as written, with a body of sent bytes that
// claims length, and returns the status line.
func rawRequest(t *testing.T, addr, method, path string, length, sent int) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	req := method + " " + path + " HTTP/1.1\r\nHost: " + addr + "\r\nContent-Type: application/octet-stream\r\n" +
		"Content-Length: " + strconv.Itoa(length) + "\r\n\r\n" + strings.Repeat("x", sent)
	if _, err := c.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	c.(*net.TCPConn).CloseWrite()
	b, _ := io.ReadAll(c)
	line, _, _ := strings.Cut(string(b), "\r\n")
	return line
}

func TestRegistryBadInputCodes(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "reg")
	s, err := Serve(context.Background(), "127.0.0.1:0", dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	base := "http://" + s.Addr()
	ctx := context.Background()
	_, err = fastClient(Options{}).Push(ctx, randomArtifact(t), s.Addr()+"/owner/app", []string{"latest"})
	if err != nil {
		t.Fatal(err)
	}
	a, err := fastClient(Options{}).Pull(ctx, s.Addr()+"/owner/app:latest")
	if err != nil {
		t.Fatal(err)
	}
	img, err := a.Image(nil)
	if err != nil {
		t.Fatal(err)
	}
	layers, _ := img.Layers()
	layer, _ := layers[0].Digest()
	parentBefore := listFiles(t, parent)
	blobsDir := filepath.Join(dir, "docker", "registry", "v2", "blobs")
	blobsBefore := listFiles(t, blobsDir)

	const oci = "application/vnd.oci.image.manifest.v1+json"
	missingBlob := `{"schemaVersion":2,"mediaType":"` + oci + `","config":{"mediaType":"application/vnd.oci.image.config.v1+json","size":2,"digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"},"layers":[]}`
	zero := "sha256:" + strings.Repeat("0", 64)
	cases := []struct {
		name, method, path, ct, body string
		status                       int
		code                         string
	}{
		{"upload under a dot-dot name", "POST", "/v2/../../etc/blobs/uploads/", "", "", 400, "NAME_INVALID"},
		{"upload under a name with an empty component", "POST", "/v2/owner//app/blobs/uploads/", "", "", 404, ""},
		{"upload under a name with a bad character", "POST", "/v2/owner/a%25pp/blobs/uploads/", "", "", 404, ""},
		{"blob through another repository", "GET", "/v2/other/app/blobs/" + layer.String(), "", "", 404, "BLOB_UNKNOWN"},
		{"PUT to an upload id never given out", "PUT", "/v2/owner/app/blobs/uploads/0b2c2d7a-3a59-4a3c-8d2b-4a3b8c2c6f1e?digest=" + zero, "application/octet-stream", "x", 404, "BLOB_UPLOAD_INVALID"},
		{"manifest that is not JSON", "PUT", "/v2/owner/app/manifests/bad", oci, "{", 400, "MANIFEST_INVALID"},
		{"manifest of an unknown media type", "PUT", "/v2/owner/app/manifests/bad", "application/x-whatever", `{"schemaVersion":2}`, 400, "MANIFEST_INVALID"},
		{"manifest naming a missing blob", "PUT", "/v2/owner/app/manifests/bad", oci, missingBlob, 400, "MANIFEST_BLOB_UNKNOWN"},
		{"manifest under a wrong digest", "PUT", "/v2/owner/app/manifests/" + zero, oci, missingBlob, 400, "DIGEST_INVALID"},
		{"blob of a malformed digest", "GET", "/v2/owner/app/blobs/sha256:xyz", "", "", 400, "DIGEST_INVALID"},
		{"unknown tag", "GET", "/v2/owner/app/manifests/nope", "", "", 404, "MANIFEST_UNKNOWN"},
		{"unknown repository", "GET", "/v2/nobody/app/tags/list", "", "", 404, "NAME_UNKNOWN"},
	}
	for _, tc := range cases {
		r := doRaw(t, tc.method, base+tc.path, tc.ct, strings.NewReader(tc.body))
		if r.status != tc.status || (tc.code != "" && !contains(r.codes, tc.code)) {
			t.Errorf("%s: %s %s: %d %v, want %d %s", tc.name, tc.method, tc.path, r.status, r.codes, tc.status, tc.code)
		}
	}

	// The dot-dot path as sent on the wire (clients may clean it).
	if line := rawRequest(t, s.Addr(), "POST", "/v2/../../etc/blobs/uploads/", 0, 0); !strings.Contains(line, " 400") {
		t.Errorf("raw dot-dot upload: %q, want 400", line)
	}

	// An upload that was cancelled: its session is gone, and a PUT with
	// its (signed) location stores nothing.
	loc := doRaw(t, "POST", base+"/v2/owner/app/blobs/uploads/", "", nil).header.Get("Location")
	if r := doRaw(t, "DELETE", loc, "", nil); r.status != http.StatusNoContent {
		t.Errorf("DELETE of an upload session: %d %v", r.status, r.codes)
	}
	const abc = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
	sep := "?"
	if strings.Contains(loc, "?") {
		sep = "&"
	}
	if r := doRaw(t, "PUT", loc+sep+"digest="+abc, "application/octet-stream", strings.NewReader("abc")); r.status != 404 || !contains(r.codes, "BLOB_UPLOAD_UNKNOWN") {
		t.Errorf("PUT to a cancelled upload: %d %v, want 404 BLOB_UPLOAD_UNKNOWN", r.status, r.codes)
	}
	if r := doRaw(t, "HEAD", base+"/v2/owner/app/blobs/"+abc, "", nil); r.status != 404 {
		t.Errorf("blob of a cancelled upload: %d, want 404", r.status)
	}

	// A body shorter than its Content-Length: a client error, not a 500,
	// and the upload stores nothing.
	loc = doRaw(t, "POST", base+"/v2/owner/app/blobs/uploads/", "", nil).header.Get("Location")
	if loc == "" {
		t.Fatal("no Location for a new upload")
	}
	if u, err := locationPath(loc); err == nil {
		if line := rawRequest(t, s.Addr(), "PATCH", u, 100, 10); strings.Contains(line, " 5") || !strings.Contains(line, " 4") {
			t.Errorf("short PATCH body: %q, want a 4xx", line)
		}
	}
	if line := rawRequest(t, s.Addr(), "PUT", "/v2/owner/app/manifests/short", 100, 10); !strings.Contains(line, " 4") {
		t.Errorf("short manifest body: %q, want a 4xx", line)
	}

	// No refused manifest or upload left a blob behind.
	for p := range listFiles(t, blobsDir) {
		if !blobsBefore[p] {
			t.Errorf("blobs/%s written by a refused request", p)
		}
	}

	// Nothing was written beside the registry's directory, and nothing
	// under it answers the refused names.
	for p := range listFiles(t, parent) {
		if !parentBefore[p] && !strings.HasPrefix(p, "reg") {
			t.Errorf("%s written outside the registry directory", p)
		}
	}
	for _, p := range []string{"etc", filepath.Join("docker", "registry", "v2", "repositories", "other")} {
		if _, err := os.Stat(filepath.Join(dir, p)); err == nil {
			t.Errorf("%s created by a refused request", p)
		}
	}
	if d, err := fastClient(Options{}).Digest(ctx, s.Addr()+"/owner/app:bad"); err == nil {
		t.Errorf("a refused manifest is served as %s", d)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// locationPath is the path and query of a Location header.
func locationPath(loc string) (string, error) {
	if i := strings.Index(loc, "/v2/"); i >= 0 {
		return loc[i:], nil
	}
	return "", os.ErrNotExist
}

// An abandoned chunked upload lives on disk, not in memory, and is
// deleted once it is older than the purge age.
func TestAbandonedUploadsArePurged(t *testing.T) {
	dir := t.TempDir()
	s, err := Serve(context.Background(), "127.0.0.1:0", dir, withUploadPurge(time.Second, 100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	base := "http://" + s.Addr()
	loc := doRaw(t, "POST", base+"/v2/owner/app/blobs/uploads/", "", nil).header.Get("Location")
	chunk := strings.Repeat("x", 1<<20)
	req, _ := http.NewRequest("PATCH", loc, strings.NewReader(chunk))
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("Content-Range", "0-"+strconv.Itoa(len(chunk)-1))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("PATCH: %d", resp.StatusCode)
	}
	uploads := filepath.Join(dir, "docker", "registry", "v2", "repositories", "owner", "app", "_uploads")
	sessions := func() int {
		ents, _ := os.ReadDir(uploads)
		return len(ents)
	}
	if sessions() != 1 {
		t.Fatalf("%d upload sessions on disk, want the 1 in progress", sessions())
	}
	deadline := time.Now().Add(10 * time.Second)
	for sessions() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("abandoned upload session not purged")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if r := doRaw(t, "GET", loc, "", nil); r.status != http.StatusNotFound || !contains(r.codes, "BLOB_UPLOAD_UNKNOWN") {
		t.Errorf("GET of a purged session: %d %v", r.status, r.codes)
	}
}
