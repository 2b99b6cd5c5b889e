package serve

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
)

// signature decodes GitHub's X-Hub-Signature-256 ("sha256=<hex>"); not
// ok without a webhook secret or a well-formed header: then the body is
// not worth reading.
func (s *Server) signature(header string) ([]byte, bool) {
	if s.cfg.WebhookSecret == "" {
		return nil, false
	}
	sig, ok := strings.CutPrefix(header, "sha256=")
	if !ok {
		return nil, false
	}
	got, err := hex.DecodeString(sig)
	if err != nil || len(got) != sha256.Size {
		return nil, false
	}
	return got, true
}

// readSigned reads a webhook body of at most maxWebhookBody bytes, hashing
// it as it comes, and checks its HMAC in constant time: one copy of the
// body, sized up front when Content-Length is given.
func (s *Server) readSigned(w http.ResponseWriter, r *http.Request, sig []byte) ([]byte, bool, error) {
	mac := hmac.New(sha256.New, []byte(s.cfg.WebhookSecret))
	var buf bytes.Buffer
	if r.ContentLength > 0 {
		buf.Grow(int(r.ContentLength) + bytes.MinRead) // ReadFrom wants MinRead spare bytes to see EOF
	}
	if _, err := buf.ReadFrom(io.TeeReader(http.MaxBytesReader(w, r.Body, maxWebhookBody), mac)); err != nil {
		return nil, false, err
	}
	return buf.Bytes(), hmac.Equal(sig, mac.Sum(nil)), nil
}

// handleWebhook takes GitHub push events: a wrong or missing signature
// gets 401 and starts nothing; a push queues the workflows whose on.push
// filters match (202 with the new runs, possibly none).
//
// Until its signature is checked a body is anyone's: it is refused unread
// without a secret or a signature header, over 25 MB (GitHub's cap) it
// gets 413, and at most maxUnverified are read at once (others: 503).
func (s *Server) handleWebhook(w http.ResponseWriter, r *http.Request) {
	sig, ok := s.signature(r.Header.Get("X-Hub-Signature-256"))
	if !ok {
		apiError(w, http.StatusUnauthorized, "bad signature")
		return
	}
	if r.ContentLength > maxWebhookBody {
		apiError(w, http.StatusRequestEntityTooLarge, "payload too large")
		return
	}
	release, ok := s.unverified.take(r.Context(), time.Second)
	if !ok {
		w.Header().Set("Retry-After", "5")
		apiError(w, http.StatusServiceUnavailable, "too many webhook deliveries being received: retry later")
		return
	}
	body, valid, err := s.readSigned(w, r, sig)
	release()
	if cap(body) > 4<<20 {
		// Hand a large body's memory back to the system once handled,
		// rather than at the runtime's leisure.
		defer debug.FreeOSMemory()
	}
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			apiError(w, http.StatusRequestEntityTooLarge, "payload too large")
			return
		}
		apiError(w, http.StatusBadRequest, "read body: "+err.Error())
		return
	}
	if !valid {
		apiError(w, http.StatusUnauthorized, "bad signature")
		return
	}
	// A redelivered event (same X-GitHub-Delivery) starts nothing again;
	// the id is recorded only once the event was handled, so that GitHub's
	// redelivery of a failed one is handled afresh.
	id := r.Header.Get("X-GitHub-Delivery")
	if id == "" {
		s.handleEvent(w, r, body)
		return
	}
	unlock := s.deliveries.lock(id)
	defer unlock()
	seen, err := s.store.Delivered(id)
	if err != nil {
		errorStatus(w, err)
		return
	}
	if seen {
		writeJSON(w, http.StatusOK, map[string]any{"message": "delivery " + id + " was handled before", "runs": []any{}})
		return
	}
	rec := &statusRecorder{ResponseWriter: w}
	s.handleEvent(rec, r, body)
	if rec.code < 300 {
		if err := s.store.RecordDelivery(id); err != nil {
			s.logf("webhook delivery %s: record: %v", id, err)
		}
	}
}

// statusRecorder remembers the status code a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (w *statusRecorder) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

// keyLock serializes work per key (a delivery id), so that a redelivery
// arriving while the first is handled waits for its outcome.
type keyLock struct {
	mu   sync.Mutex
	keys map[string]*keyEntry
}

type keyEntry struct {
	mu   sync.Mutex
	refs int
}

func (k *keyLock) lock(key string) (unlock func()) {
	k.mu.Lock()
	if k.keys == nil {
		k.keys = map[string]*keyEntry{}
	}
	e := k.keys[key]
	if e == nil {
		e = &keyEntry{}
		k.keys[key] = e
	}
	e.refs++
	k.mu.Unlock()
	e.mu.Lock()
	return func() {
		e.mu.Unlock()
		k.mu.Lock()
		if e.refs--; e.refs == 0 {
			delete(k.keys, key)
		}
		k.mu.Unlock()
	}
}

// handleEvent handles a verified webhook event.
func (s *Server) handleEvent(w http.ResponseWriter, r *http.Request, body []byte) {
	switch r.Header.Get("X-GitHub-Event") {
	case "ping":
		writeJSON(w, http.StatusOK, map[string]any{"message": "pong"})
		return
	case "push":
	default:
		writeJSON(w, http.StatusAccepted, map[string]any{"message": "event ignored", "runs": []any{}})
		return
	}
	var ev struct {
		Ref        string `json:"ref"`
		Before     string `json:"before"`
		After      string `json:"after"`
		Deleted    bool   `json:"deleted"`
		Repository struct {
			FullName string `json:"full_name"`
		} `json:"repository"`
		Commits []struct {
			Added    []string `json:"added"`
			Removed  []string `json:"removed"`
			Modified []string `json:"modified"`
		} `json:"commits"`
	}
	if err := json.Unmarshal(body, &ev); err != nil {
		apiError(w, http.StatusBadRequest, "Problems parsing JSON: "+err.Error())
		return
	}
	rp := s.repoByName(ev.Repository.FullName)
	if rp == nil {
		apiError(w, http.StatusNotFound, "repository "+ev.Repository.FullName+" is not watched")
		return
	}
	if ev.Deleted || !plumbing.IsHash(ev.After) || plumbing.NewHash(ev.After).IsZero() {
		writeJSON(w, http.StatusAccepted, map[string]any{"message": "nothing to run", "runs": []any{}})
		return
	}
	g, err := rp.open(rp.cfg.URL != "")
	if err != nil {
		errorStatus(w, err)
		return
	}
	after := plumbing.NewHash(ev.After)
	if _, err := g.CommitObject(after); err != nil {
		apiError(w, http.StatusUnprocessableEntity, "commit "+ev.After+" is not in the repository")
		return
	}
	if err := onRef(g, ev.Ref, after); err != nil {
		apiError(w, http.StatusUnprocessableEntity, err.Error())
		return
	}
	// GitHub truncates commits[] to 20 commits: the diff before..after is
	// the whole truth when both are here. A new branch (before all zeros)
	// or a before that is gone (force push) falls back to commits[].
	changed, known := []string(nil), false
	if plumbing.IsHash(ev.Before) && !plumbing.NewHash(ev.Before).IsZero() {
		if files, err := changedFiles(g, plumbing.NewHash(ev.Before), after); err == nil {
			changed, known = files, true
		}
	}
	if !known {
		seen := map[string]bool{}
		for _, c := range ev.Commits {
			for _, list := range [][]string{c.Added, c.Removed, c.Modified} {
				for _, f := range list {
					if !seen[f] {
						seen[f] = true
						changed = append(changed, f)
					}
				}
			}
		}
	}
	if !known && len(changed) == 0 && plumbing.IsHash(ev.Before) {
		if files, err := changedFiles(g, plumbing.NewHash(ev.Before), after); err == nil {
			changed = files
		}
	}
	sort.Strings(changed)
	var payload map[string]any
	_ = json.Unmarshal(body, &payload)
	runs, err := s.push(rp, g, ev.Ref, after, changed, payload)
	if err != nil {
		errorStatus(w, err)
		return
	}
	// A polled branch need not run this push a second time.
	if rp.cfg.Poll > 0 && ev.Ref == "refs/heads/"+rp.branch(g) {
		s.store.SetHead(rp.name, rp.branch(g), ev.After)
	}
	ids := []any{}
	for _, r := range runs {
		ids = append(ids, r.ID)
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"runs": ids})
}

// onRef checks, in the repository as fetched, that a pushed commit is on
// the pushed ref: the tip of the branch or tag, or in the branch's history
// (the branch may have moved on since). Otherwise a signed push could run
// any commit of the repository as, say, main.
func onRef(g *git.Repository, ref string, after plumbing.Hash) error {
	if !strings.HasPrefix(ref, "refs/heads/") && !strings.HasPrefix(ref, "refs/tags/") {
		return fmt.Errorf("ref %q is not a branch or tag", ref)
	}
	full, tip, err := resolve(g, ref)
	if err != nil {
		return fmt.Errorf("ref %q is not in the repository", ref)
	}
	if tip == after {
		return nil
	}
	if strings.HasPrefix(full, "refs/tags/") {
		return fmt.Errorf("tag %s points at %s, not at commit %s", full, tip, after)
	}
	a, err := g.CommitObject(after)
	if err != nil {
		return fmt.Errorf("commit %s is not in the repository", after)
	}
	t, err := g.CommitObject(tip)
	if err != nil {
		return fmt.Errorf("%s: %w", full, err)
	}
	if ok, err := a.IsAncestor(t); err != nil || !ok {
		return fmt.Errorf("commit %s is not on %s", after, full)
	}
	return nil
}
