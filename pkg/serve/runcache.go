package serve

import (
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/birdflock/runner/pkg/serve/store"
)

// runCacheSize bounds the run attempts whose JSON is kept (a few KB each).
const runCacheSize = 2000

// runCache keeps the encoded JSON of completed run attempts for the list
// calls: a completed attempt does not change (its key has its last update
// and the URLs' bases), and encoding a page of 100 runs, GitHub's shape
// with its repository and users, cost more than the rest of the call.
// The oldest entry goes first.
type runCache struct {
	mu   sync.Mutex
	m    map[string][]byte
	keys [runCacheSize]string
	next int
}

func (c *runCache) get(k string) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[k]
	return v, ok
}

func (c *runCache) put(k string, v []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string][]byte{}
	}
	if _, ok := c.m[k]; ok {
		return
	}
	delete(c.m, c.keys[c.next])
	c.keys[c.next] = k
	c.next = (c.next + 1) % runCacheSize
	c.m[k] = v
}

// runKey is a completed attempt's key in the cache: its id, its last
// update and the URLs' bases.
func runKey(u urls, id int64, updated time.Time) string {
	return fmt.Sprintf("%d\x00%d\x00%s\x00%s", id, updated.UnixMilli(), u.api, u.html)
}

// runBytes is runJSON encoded, from the cache for a completed attempt.
func (s *Server) runBytes(u urls, r *store.Run) ([]byte, error) {
	if r.Status != store.Completed {
		return json.Marshal(s.runJSON(u, r))
	}
	key := runKey(u, r.ID, r.Updated)
	if b, ok := s.shapes.runs.get(key); ok {
		return b, nil
	}
	b, err := json.Marshal(s.runJSON(u, r))
	if err == nil {
		s.shapes.runs.put(key, b)
	}
	return b, err
}
