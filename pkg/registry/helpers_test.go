package registry

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/random"
)

// counter counts requests by kind in front of a handler.
type counter struct {
	mu      sync.Mutex
	uploads int // requests under /blobs/uploads/ (POST, PATCH, PUT)
	total   int
	inner   http.Handler
}

func (c *counter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	c.total++
	if strings.Contains(r.URL.Path, "/blobs/uploads/") {
		c.uploads++
	}
	c.mu.Unlock()
	c.inner.ServeHTTP(w, r)
}

func (c *counter) reset() (uploads, total int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	uploads, total = c.uploads, c.total
	c.uploads, c.total = 0, 0
	return uploads, total
}

// diskRegistry serves an on-disk registry in dir on a 127.0.0.1 port,
// behind a request counter.
func diskRegistry(t *testing.T, dir string) (host string, c *counter) {
	t.Helper()
	h, err := Handler(dir)
	if err != nil {
		t.Fatal(err)
	}
	c = &counter{inner: h}
	srv := httptest.NewServer(c)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://"), c
}

func randomArtifact(t *testing.T) *Artifact {
	t.Helper()
	img, err := random.Image(2048, 3)
	if err != nil {
		t.Fatal(err)
	}
	return FromImage(img)
}

// fastClient retries quickly so failure tests stay fast.
func fastClient(o Options) *Client {
	o.Backoff.Duration = 5e6
	o.Backoff.Factor = 2
	o.Backoff.Steps = 5
	return New(o)
}
