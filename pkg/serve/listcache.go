package serve

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/klauspost/compress/gzip"
	"golang.org/x/sync/singleflight"

	"github.com/birdflock/runner/pkg/serve/store"
)

// pageCacheBytes bounds the rendered pages of runs kept: a page of 100
// runs in GitHub's shape is about a megabyte.
const pageCacheBytes = 32 << 20

// pageCache keeps pages of runs as a list call rendered them, keyed by
// what the page depends on: the caller's read scope, the URLs' bases and
// the filter with the page's bounds. A page is served again only while
// the store's write generation is the one read before its query, so a
// write (a run created, changed, deleted) shows in the next list call.
// Concurrent calls for the same page and generation share one query.
type pageCache struct {
	mu   sync.Mutex
	m    map[string]*runsPage
	size int
	tick uint64 // last use, for evicting the least recently used page
	fill singleflight.Group
}

// runsPage is a page of runs: the runs and their total as the store
// gave them, each completed run's JSON, and the whole body and its ETag
// when every run on it is completed. A run in progress is encoded again
// per call (its duration_ms grows): the page then keeps what follows the
// last such run, its tail, written as it is.
type runsPage struct {
	gen    uint64
	filter store.Filter
	total  int
	runs   []*store.Run
	frags  [][]byte // nil for a run not completed
	body   []byte
	etag   string
	used   uint64
	// split is the index past the last run in progress, tail the page
	// from there on and tailSum its hash (pages with runs in progress).
	split   int
	tail    []byte
	tailSum uint64
	// calls counts the calls served; gz is body gzipped, made once the
	// page served gzipAfter calls.
	calls  atomic.Int64
	gzOnce sync.Once
	gz     []byte
}

// gzipAfter is how many calls a page serves before it is gzipped: a page
// replaced by a write sooner (runs changing state every few tens of
// milliseconds) would cost more to compress than it saves.
const gzipAfter = 4

// gzipFor gives the page's body gzipped, once the page has been asked for
// gzipAfter times; nil before, and for a page with runs in progress.
//
// A page of 100 runs, ≈ 1 MB, is ≈ 17 KB gzipped (the repository and
// users repeat in each run), made in ≈ 2 ms, inflated by a client in ≈ 0.3
// ms, against ≈ 0.6 ms of CPU to move the megabyte even through loopback.
func (p *runsPage) gzipFor() func() []byte {
	if p.body == nil || p.calls.Add(1) <= gzipAfter {
		return nil
	}
	return func() []byte {
		p.gzOnce.Do(func() {
			var buf bytes.Buffer
			w, _ := gzip.NewWriterLevel(&buf, gzip.DefaultCompression)
			w.Write(p.body)
			w.Close()
			p.gz = buf.Bytes()
		})
		return p.gz
	}
}

func (p *runsPage) bytes() int {
	// What gzipFor adds later is ≈ 2 % of body.
	n := len(p.body) + len(p.body)/50 + len(p.tail)
	for _, f := range p.frags {
		n += len(f)
	}
	return n
}

// get returns the page under key at generation gen: the kept one while
// no write came since it was made, or while keep finds that none of the
// writes since changed it (and to which generation it is current then),
// else one from load.
func (c *pageCache) get(key string, gen uint64, keep func(p *runsPage, since uint64) (uint64, bool), load func() (*runsPage, error)) (*runsPage, error) {
	c.mu.Lock()
	p := c.m[key]
	var at uint64
	if p != nil {
		at = p.gen
		if at == gen {
			c.tick++
			p.used = c.tick
			c.mu.Unlock()
			return p, nil
		}
	}
	c.mu.Unlock()
	if p != nil && at < gen {
		if to, ok := keep(p, at); ok && to >= gen {
			c.mu.Lock()
			if c.m[key] == p && p.gen == at {
				p.gen = to
			}
			c.tick++
			p.used = c.tick
			c.mu.Unlock()
			return p, nil
		}
	}
	v, err, _ := c.fill.Do(key+"\x00"+strconv.FormatUint(gen, 10), func() (any, error) {
		p, err := load()
		if err != nil {
			return nil, err
		}
		p.gen = gen
		c.put(key, p)
		return p, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*runsPage), nil
}

func (c *pageCache) put(key string, p *runsPage) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]*runsPage{}
	}
	if old := c.m[key]; old != nil {
		if old.gen > p.gen {
			return
		}
		c.size -= old.bytes()
		delete(c.m, key)
	}
	n := p.bytes()
	if n > pageCacheBytes {
		return
	}
	for c.size+n > pageCacheBytes {
		var lru string
		for k, q := range c.m {
			if lru == "" || q.used < c.m[lru].used {
				lru = k
			}
		}
		c.size -= c.m[lru].bytes()
		delete(c.m, lru)
	}
	c.tick++
	p.used = c.tick
	c.m[key] = p
	c.size += n
}

// readScope is what the caller may read, which a cached answer is keyed
// by: the API token's holder, or anyone (public-read, no token). The
// read wrapper has refused every other caller before.
func (s *Server) readScope(r *http.Request) string {
	if s.authorized(r) {
		return "token"
	}
	return "public"
}

// runsPageOf is the page of runs filter f selects, rendered for u.
func (s *Server) runsPageOf(r *http.Request, u urls, f store.Filter) (*runsPage, error) {
	// %#v quotes each of the filter's strings: with %+v, actor "a SHA:b"
	// and actor "a" with head_sha "b SHA:" printed the same.
	key := fmt.Sprintf("%s\x00%s\x00%s\x00%#v", s.readScope(r), u.api, u.html, f)
	// The generation is read before the query: a write committed after
	// this point makes the page stale, one committed before is in it.
	return s.shapes.pages.get(key, s.store.Gen(), s.keepPage, func() (*runsPage, error) {
		// The completed attempts whose JSON is kept are not read again.
		kept := map[int64][]byte{}
		runs, total, err := s.store.RunsKnown(f, func(id int64, status string, updated time.Time) bool {
			if status != store.Completed {
				return false
			}
			b, ok := s.shapes.runs.get(runKey(u, id, updated))
			if ok {
				kept[id] = b
			}
			return ok
		})
		if err != nil {
			return nil, err
		}
		p := &runsPage{filter: f, total: total, runs: runs, frags: make([][]byte, len(runs))}
		live := false
		for i, run := range runs {
			if b, ok := kept[run.ID]; ok {
				p.frags[i] = b
				continue
			}
			if run.Status != store.Completed {
				live = true
				continue
			}
			if p.frags[i], err = s.runBytes(u, run); err != nil {
				return nil, err
			}
		}
		if !live {
			p.body = p.join(nil, nil, len(p.frags), "]}\n")
			p.etag = etagOf(p.body)
			return p, nil
		}
		for i, f := range p.frags {
			if f == nil {
				p.split = i + 1
			}
		}
		p.tail = []byte("]}\n")
		if p.split < len(p.frags) {
			var tail []byte
			for i := p.split; i < len(p.frags); i++ {
				tail = append(append(tail, ','), p.frags[i]...)
			}
			p.tail = append(tail, "]}\n"...)
		}
		p.tailSum = xxhash.Sum64(p.tail)
		return p, nil
	})
}

// keepPage tells whether page p, current at generation since, is still
// current, and up to which generation: when every write since touched a
// run the page's filter does not select whatever its status, or only
// changed the status of a run that is not on the page, in a list not
// filtered by status (the runs it selects, their order and count stay).
func (s *Server) keepPage(p *runsPage, since uint64) (uint64, bool) {
	changes, ok := s.store.ChangesSince(since)
	if !ok {
		return 0, false
	}
	f := p.filter
	for _, c := range changes {
		if c.Kind != store.Added && c.Kind != store.StatusChanged {
			return 0, false
		}
		run, err := s.store.Run(c.Run)
		if err != nil {
			return 0, false
		}
		if !f.MatchesApartFromStatus(run) {
			continue
		}
		if c.Kind == store.Added || f.Status != "" || f.Conclusion != "" {
			return 0, false
		}
		for _, r := range p.runs {
			if r.ID == c.Run {
				return 0, false
			}
		}
	}
	return since + uint64(len(changes)), true
}

func (p *runsPage) head() string {
	return `{"total_count":` + strconv.Itoa(p.total) + `,"workflow_runs":[`
}

// bodies are buffers for the pages made per call, given back once
// written.
var bodies sync.Pool

// join writes the page's head and its first n runs, then end, compact,
// into buf (when large enough); live encodes the runs not completed.
func (p *runsPage) join(buf []byte, live func(*store.Run) []byte, n int, end string) []byte {
	head := p.head()
	size := len(head) + n + len(end)
	for _, f := range p.frags[:n] {
		size += len(f)
		if f == nil {
			size += 8192 // room for a run in progress
		}
	}
	body := buf[:0]
	if cap(body) < size {
		body = make([]byte, 0, size)
	}
	body = append(body, head...)
	for i, f := range p.frags[:n] {
		if i > 0 {
			body = append(body, ',')
		}
		if f == nil {
			f = live(p.runs[i])
		}
		body = append(body, f...)
	}
	return append(body, end...)
}

// prefix is the page up to its tail, the runs in progress encoded by
// live, and the ETag of the page it starts.
func (p *runsPage) prefix(buf []byte, live func(*store.Run) []byte) ([]byte, string) {
	body := p.join(buf, live, p.split, "")
	var sum [8]byte
	binary.LittleEndian.PutUint64(sum[:], p.tailSum)
	d := xxhash.New()
	d.Write(body)
	d.Write(sum[:])
	return body, `W/"` + strconv.FormatUint(d.Sum64(), 16) + `"`
}

// etagOf is a weak entity tag of a JSON body, as GitHub gives its API's
// answers: a 64-bit hash of it (xxHash, 0.1 ms for a page of 100 runs,
// which a page with runs in progress takes per call).
func etagOf(body []byte) string {
	return `W/"` + strconv.FormatUint(xxhash.Sum64(body), 16) + `"`
}

// notModified tells whether the request's If-None-Match names etag (by
// the weak comparison RFC 9110 gives If-None-Match) or is "*".
func notModified(r *http.Request, etag string) bool {
	inm := r.Header.Get("If-None-Match")
	if inm == "" {
		return false
	}
	want := strings.TrimPrefix(etag, "W/")
	for _, t := range strings.Split(inm, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == want {
			return true
		}
	}
	return false
}

// acceptsGzip tells whether the request's Accept-Encoding takes gzip (Go's
// and node's HTTP clients, octokit's and gh's among them, send it).
func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		coding, params, _ := strings.Cut(part, ";")
		if coding = strings.ToLower(strings.TrimSpace(coding)); coding != "gzip" && coding != "x-gzip" {
			continue
		}
		q, ok := strings.CutPrefix(strings.ReplaceAll(params, " ", ""), "q=")
		if !ok {
			return true
		}
		v, err := strconv.ParseFloat(q, 64)
		return err == nil && v > 0
	}
	return false
}

// writeTagged writes a JSON body of status 200, given in parts, with its
// ETag, or 304 Not Modified without it when the caller has it already.
// gz, when not nil, gives the body gzipped, sent to callers that accept
// it.
func writeTagged(w http.ResponseWriter, r *http.Request, etag string, gz func() []byte, parts ...[]byte) {
	h := w.Header()
	h.Set("ETag", etag)
	h.Add("Vary", "Accept-Encoding, Authorization")
	if notModified(r, etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", "application/json")
	if gz != nil && acceptsGzip(r) {
		parts = [][]byte{gz()}
		h.Set("Content-Encoding", "gzip")
	}
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	h.Set("Content-Length", strconv.Itoa(n))
	w.WriteHeader(http.StatusOK)
	for _, p := range parts {
		w.Write(p)
	}
}

// writeJSONTagged is writeJSON for a 200 answer, with its ETag.
func writeJSONTagged(w http.ResponseWriter, r *http.Request, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		errorStatus(w, err)
		return
	}
	writeTagged(w, r, etagOf(buf.Bytes()), nil, buf.Bytes())
}
