package serve_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/birdflock/runner/pkg/serve"
)

// listed is one call of the run list (or a get), with optional request
// headers ("Host" sets the Host).
type listed struct {
	resp  *http.Response
	body  []byte
	Total int       `json:"total_count"`
	Runs  []runJSON `json:"workflow_runs"`
}

func listRuns(t testing.TB, url, tok string, header map[string]string) listed {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	for k, v := range header {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	l := listed{resp: resp}
	l.body, _ = io.ReadAll(resp.Body)
	if resp.StatusCode == 200 {
		if err := json.Unmarshal(l.body, &l); err != nil {
			t.Fatalf("GET %s: %v\n%s", url, err, l.body)
		}
	}
	return l
}

// The list calls keep rendered pages (and answer If-None-Match with 304):
// every write shows in the very next list call, with no waiting — a new
// run, its start, its end, its deletion — and an ETag a client kept is
// answered with the new page once the page changed.
func TestRunListShowsEveryWriteAtOnce(t *testing.T) {
	slow := "on: workflow_dispatch\nconcurrency: slow\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: sleep 30\n"
	s := start(t, serve.Config{}, birds(t, map[string]string{".github/workflows/slow.yaml": slow}), 0)
	url := s.URL + "/repos/mona/birds/actions/runs?per_page=100"
	// list calls twice, so that the second comes from the cache if one is
	// kept; while no run is in flight (changing on its own), both must
	// agree, bodies and ETags.
	list := func(what string) listed {
		t.Helper()
		a, b := listRuns(t, url, token, nil), listRuns(t, url, token, nil)
		must(t, a.resp.StatusCode == 200 && b.resp.StatusCode == 200, "%s: %s / %s", what, a.resp.Status, b.resp.Status)
		if !strings.Contains(string(a.body)+string(b.body), `"status":"in_progress"`) && !strings.Contains(string(a.body)+string(b.body), `"status":"queued"`) {
			must(t, string(a.body) == string(b.body) && a.resp.Header.Get("ETag") == b.resp.Header.Get("ETag"), "%s: two calls differ:\n%.300s\n%.300s", what, a.body, b.body)
		}
		return b
	}
	empty := list("no runs")
	etag := empty.resp.Header.Get("ETag")
	must(t, empty.Total == 0 && strings.HasPrefix(etag, `W/"`), "no runs: total %d, ETag %q", empty.Total, etag)
	same := listRuns(t, url, token, map[string]string{"If-None-Match": etag})
	must(t, same.resp.StatusCode == http.StatusNotModified && len(same.body) == 0 && same.resp.Header.Get("ETag") == etag,
		"If-None-Match of the current page: %s %q", same.resp.Status, same.body)

	id, resp, body := s.dispatch(t, "slow.yaml", nil)
	must(t, resp.StatusCode == 204, "dispatch: %s %s", resp.Status, body)
	l := list("after the dispatch")
	must(t, l.Total == 1 && len(l.Runs) == 1 && l.Runs[0].ID == id, "after the dispatch: %+v", l)
	changed := listRuns(t, url, token, map[string]string{"If-None-Match": etag})
	must(t, changed.resp.StatusCode == 200 && changed.Total == 1, "the empty page's ETag after the dispatch: %s %.300s", changed.resp.Status, changed.body)

	// The run's start and end are written by the scheduler and the run;
	// each is seen by the get call first, then the list must show it
	// on its next call.
	s.wait(t, id, "start", func(r runJSON) bool { return r.Status == "in_progress" })
	l = list("after the start")
	must(t, l.Runs[0].Status == "in_progress", "after the start, the list has: %+v", l.Runs[0])
	// A page with a run in progress is a page of its own each call (its
	// duration grows), with an ETag of its body.
	must(t, l.resp.Header.Get("ETag") != "" && l.resp.Header.Get("ETag") != etag, "ETag with a run in progress: %q", l.resp.Header.Get("ETag"))

	// A second run of the group waits: its creation is the only write.
	second, resp, body := s.dispatch(t, "slow.yaml", nil)
	must(t, resp.StatusCode == 204, "dispatch: %s %s", resp.Status, body)
	l = list("after the second dispatch")
	must(t, l.Total == 2 && l.Runs[0].ID == second && l.Runs[0].Status == "queued", "after the second dispatch: %+v", l.Runs)

	resp, out := do(t, "POST", fmt.Sprintf("%s/repos/mona/birds/actions/runs/%d/cancel", s.URL, second), token, nil)
	must(t, resp.StatusCode == 202, "cancel: %s %s", resp.Status, out)
	l = list("after the second run's cancel")
	must(t, l.Runs[0].Status == "completed" && l.Runs[0].conclusion() == "cancelled", "after the second run's cancel, the list has: %+v", l.Runs[0])
	resp, out = do(t, "POST", fmt.Sprintf("%s/repos/mona/birds/actions/runs/%d/cancel", s.URL, id), token, nil)
	must(t, resp.StatusCode == 202, "cancel: %s %s", resp.Status, out)
	s.done(t, id)
	l = list("after the end")
	must(t, l.Runs[1].Status == "completed" && l.Runs[1].conclusion() == "cancelled", "after the end, the list has: %+v", l.Runs[1])
	ended := l.resp.Header.Get("ETag")

	resp, out = do(t, "DELETE", fmt.Sprintf("%s/repos/mona/birds/actions/runs/%d", s.URL, id), token, nil)
	must(t, resp.StatusCode == 204, "delete: %s %s", resp.Status, out)
	l = list("after the deletion")
	must(t, l.Total == 1 && len(l.Runs) == 1 && l.Runs[0].ID == second, "after the deletion: %+v", l.Runs)
	gone := listRuns(t, url, token, map[string]string{"If-None-Match": ended})
	must(t, gone.resp.StatusCode == 200 && gone.Total == 1, "the ended page's ETag after the deletion: %s %.300s", gone.resp.Status, gone.body)

	// A get answers If-None-Match too.
	id, _, _ = s.dispatch(t, "slow.yaml", nil)
	do(t, "POST", fmt.Sprintf("%s/repos/mona/birds/actions/runs/%d/cancel", s.URL, id), token, nil)
	s.done(t, id)
	runURL := fmt.Sprintf("%s/repos/mona/birds/actions/runs/%d", s.URL, id)
	got := listRuns(t, runURL, token, nil)
	tag := got.resp.Header.Get("ETag")
	again := listRuns(t, runURL, token, map[string]string{"If-None-Match": tag})
	must(t, got.resp.StatusCode == 200 && tag != "" && again.resp.StatusCode == http.StatusNotModified, "get with If-None-Match %q: %s", tag, again.resp.Status)
}

// A kept page is never served to a caller it was not rendered for: not
// to one without the token (even with the page's ETag), and not to a
// caller who reached the service by another name or path prefix (the
// page's URLs are theirs).
func TestRunListCacheKeepsCallersApart(t *testing.T) {
	ok := "on: workflow_dispatch\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: 'true'\n"
	s := start(t, serve.Config{Hosts: []string{"ci.example"}}, birds(t, map[string]string{".github/workflows/ok.yaml": ok}), 0)
	id, _, _ := s.dispatch(t, "ok.yaml", nil)
	s.done(t, id)
	url := s.URL + "/repos/mona/birds/actions/runs?per_page=10"
	mine := listRuns(t, url, token, nil)
	etag := mine.resp.Header.Get("ETag")
	must(t, mine.resp.StatusCode == 200 && mine.Total == 1 && etag != "", "with the token: %s %s", mine.resp.Status, mine.body)
	for _, tok := range []string{"", "wrong-token"} {
		for _, u := range []string{url, fmt.Sprintf("%s/repos/mona/birds/actions/runs/%d", s.URL, id)} {
			l := listRuns(t, u, tok, nil)
			must(t, l.resp.StatusCode == 401 && !strings.Contains(string(l.body), "workflow_runs") && l.resp.Header.Get("ETag") == "",
				"%s with token %q: %s %s", u, tok, l.resp.Status, l.body)
			l = listRuns(t, u, tok, map[string]string{"If-None-Match": etag})
			must(t, l.resp.StatusCode == 401, "%s with token %q and the page's ETag: %s", u, tok, l.resp.Status)
		}
	}
	// The same page asked for by other names: each with its own URLs,
	// over and over, in any order.
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			host, base := "ci.example", "http://ci.example"
			if i%2 == 0 {
				host, base = strings.TrimPrefix(s.URL, "http://"), s.URL
			}
			u := url
			if i%4 < 2 {
				u = strings.Replace(url, "/repos/", "/api/v3/repos/", 1)
				base += "/api/v3"
			}
			l := listRuns(t, u, token, map[string]string{"Host": host})
			want := fmt.Sprintf(`"url":"%s/repos/mona/birds/actions/runs/%d"`, base, id)
			if l.resp.StatusCode != 200 || !strings.Contains(string(l.body), want) || strings.Count(string(l.body), "/repos/mona/birds\"") != strings.Count(string(l.body), base+"/repos/mona/birds\"") {
				t.Errorf("Host %s, %s: %s, want %s in\n%.600s", host, u, l.resp.Status, want, l.body)
			}
		}()
	}
	wg.Wait()
}

// A kept page asked for again goes gzipped to a caller whose
// Accept-Encoding takes gzip, and inflates to the very body others get;
// callers that refuse gzip get it as it is. A page with a run in progress
// between completed ones is made per call and is whole and in order.
func TestRunListGzip(t *testing.T) {
	slow := "on: workflow_dispatch\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: sleep 30\n"
	quick := "on: workflow_dispatch\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: 'true'\n"
	s := start(t, serve.Config{}, birds(t, map[string]string{".github/workflows/slow.yaml": slow, ".github/workflows/quick.yaml": quick}), 0)
	first, _, _ := s.dispatch(t, "quick.yaml", nil)
	s.done(t, first)
	url := s.URL + "/repos/mona/birds/actions/runs"
	raw := func(accept string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		// Set by hand, the header keeps Go's client from inflating.
		req.Header.Set("Accept-Encoding", accept)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp, body
	}
	plain, want := raw("identity")
	must(t, plain.StatusCode == 200 && plain.Header.Get("Content-Encoding") == "" && json.Valid(want), "identity: %s %q %.200s", plain.Status, plain.Header.Get("Content-Encoding"), want)
	// The page is gzipped once it is asked for a few times (gzipAfter).
	for range 8 {
		raw("identity")
	}
	for _, accept := range []string{"gzip", "deflate, gzip;q=0.5", "br, GZIP"} {
		resp, body := raw(accept)
		must(t, resp.StatusCode == 200 && resp.Header.Get("Content-Encoding") == "gzip" && len(body) < len(want)/3 && strings.Contains(resp.Header.Get("Vary"), "Accept-Encoding"),
			"Accept-Encoding %s: %s, %q, %d bytes of %d, Vary %q", accept, resp.Status, resp.Header.Get("Content-Encoding"), len(body), len(want), resp.Header.Get("Vary"))
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatalf("Accept-Encoding %s: %v", accept, err)
		}
		got, err := io.ReadAll(zr)
		must(t, err == nil && bytes.Equal(got, want) && resp.Header.Get("ETag") == plain.Header.Get("ETag"), "Accept-Encoding %s: inflated %d bytes (%v), want the %d of identity", accept, len(got), err, len(want))
	}
	resp, body := raw("gzip;q=0, deflate")
	must(t, resp.Header.Get("Content-Encoding") == "" && bytes.Equal(body, want), "gzip;q=0: %q", resp.Header.Get("Content-Encoding"))

	live, _, _ := s.dispatch(t, "slow.yaml", nil)
	s.wait(t, live, "start", func(r runJSON) bool { return r.Status == "in_progress" })
	last, _, _ := s.dispatch(t, "quick.yaml", nil)
	s.done(t, last)
	for range 10 {
		resp, body = raw("gzip")
		var l listed
		err := json.Unmarshal(body, &l)
		must(t, resp.StatusCode == 200 && resp.Header.Get("Content-Encoding") == "" && err == nil && strconv.Itoa(len(body)) == resp.Header.Get("Content-Length"),
			"with a run in progress: %s %q %v %.200s", resp.Status, resp.Header.Get("Content-Encoding"), err, body)
		must(t, l.Total == 3 && len(l.Runs) == 3 && l.Runs[0].ID == last && l.Runs[1].ID == live && l.Runs[2].ID == first &&
			l.Runs[0].Status == "completed" && l.Runs[1].Status == "in_progress" && l.Runs[2].Status == "completed",
			"with a run in progress between two completed: %+v", l.Runs)
	}
	do(t, "POST", fmt.Sprintf("%s/repos/mona/birds/actions/runs/%d/cancel", s.URL, live), token, nil)
	s.done(t, live)
}

// A page kept across writes that did not change it (a run its filter
// does not select, a run not on it changing status) is the page made
// afresh: each of a set of lists, asked for under one host name all
// along, is compared after every write with the same list asked for
// under a host name never used before (a page of its own, made now).
func TestRunListKeptPagesFollowWrites(t *testing.T) {
	slow := "on: workflow_dispatch\nconcurrency: slow\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: sleep 30\n"
	quick := "on: workflow_dispatch\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: 'true'\n"
	bad := "on: workflow_dispatch\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: 'false'\n"
	s := start(t, serve.Config{}, birds(t, map[string]string{".github/workflows/slow.yaml": slow,
		".github/workflows/quick.yaml": quick, ".github/workflows/bad.yaml": bad}), 0)
	queries := []string{"actions/runs?per_page=2", "actions/runs?per_page=2&page=2", "actions/runs?per_page=2&page=3",
		"actions/runs?status=in_progress", "actions/runs?status=queued", "actions/runs?status=completed", "actions/runs?status=success",
		"actions/runs?status=failure", "actions/runs?status=cancelled", "actions/runs?branch=main", "actions/runs?branch=nope",
		"actions/workflows/slow.yaml/runs", "actions/workflows/quick.yaml/runs?per_page=1&page=2", "actions/runs?created=<2000-01-01"}
	fresh := 0
	// normal is a page without its host and its runs' durations (which
	// grow while they run).
	normal := func(body []byte, host string) string {
		var page map[string]any
		if err := json.Unmarshal(body, &page); err != nil {
			t.Fatalf("%v: %.300s", err, body)
		}
		runs, _ := page["workflow_runs"].([]any)
		for _, r := range runs {
			delete(r.(map[string]any), "duration_ms")
		}
		out, _ := json.Marshal(page)
		return strings.ReplaceAll(string(out), host, "HOST")
	}
	compare := func(when string) {
		t.Helper()
		for _, q := range queries {
			url := s.URL + "/repos/mona/birds/" + q
			kept := listRuns(t, url, token, map[string]string{"Host": "kept.example"})
			fresh++
			host := fmt.Sprintf("fresh%d.example", fresh)
			now := listRuns(t, url, token, map[string]string{"Host": host})
			must(t, kept.resp.StatusCode == 200 && now.resp.StatusCode == 200, "%s, %s: %s / %s", when, q, kept.resp.Status, now.resp.Status)
			if a, b := normal(kept.body, "kept.example"), normal(now.body, host); a != b {
				t.Fatalf("%s, %s: the kept page differs from a page made now:\n%.1500s\n%.1500s", when, q, a, b)
			}
		}
	}
	compare("no runs")
	var ids []int
	for _, wf := range []string{"quick.yaml", "bad.yaml", "quick.yaml"} {
		id, _, _ := s.dispatch(t, wf, nil)
		s.done(t, id)
		ids = append(ids, id)
		compare("after a run of " + wf)
	}
	held, _, _ := s.dispatch(t, "slow.yaml", nil)
	s.wait(t, held, "start", func(r runJSON) bool { return r.Status == "in_progress" })
	compare("a run in progress")
	waiting, _, _ := s.dispatch(t, "slow.yaml", nil)
	s.wait(t, waiting, "queued", func(r runJSON) bool { return r.Status == "queued" })
	compare("a run queued behind it")
	for _, wf := range []string{"quick.yaml", "bad.yaml"} {
		id, _, _ := s.dispatch(t, wf, nil)
		s.done(t, id)
		compare("another run of " + wf + " beside them")
	}
	do(t, "POST", fmt.Sprintf("%s/repos/mona/birds/actions/runs/%d/cancel", s.URL, waiting), token, nil)
	s.done(t, waiting)
	compare("the queued run cancelled")
	do(t, "POST", fmt.Sprintf("%s/repos/mona/birds/actions/runs/%d/cancel", s.URL, held), token, nil)
	s.done(t, held)
	compare("the run in progress cancelled")
	resp, _ := do(t, "POST", fmt.Sprintf("%s/repos/mona/birds/actions/runs/%d/rerun", s.URL, ids[1]), token, nil)
	must(t, resp.StatusCode == 201, "rerun: %s", resp.Status)
	s.done(t, ids[1])
	compare("a re-run")
	resp, _ = do(t, "DELETE", fmt.Sprintf("%s/repos/mona/birds/actions/runs/%d", s.URL, ids[0]), token, nil)
	must(t, resp.StatusCode == 204, "delete: %s", resp.Status)
	compare("a run deleted")
}
