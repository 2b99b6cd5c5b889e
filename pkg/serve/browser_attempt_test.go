package serve_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/birdflock/runner/pkg/serve"
)

// The run page of a re-run's new attempt shows the jobs it kept as it
// shows the others: every step with its state and the log's lines; the
// annotation with its title and a file name with a space.
func TestBrowserKeptJob(t *testing.T) {
	b := newBrowser(t)
	flag := t.TempDir()
	s := start(t, serve.Config{}, birds(t, map[string]string{".github/workflows/kept.yaml": fmt.Sprintf(keptWF, flag)}), 0)
	id, _, _ := s.dispatch(t, "kept.yaml", nil)
	must(t, s.done(t, id).conclusion() == "failure", "attempt 1 did not fail")
	os.WriteFile(filepath.Join(flag, "fixed"), nil, 0o644)
	resp, body := do(t, "POST", fmt.Sprintf("%s/repos/mona/birds/actions/runs/%d/rerun-failed-jobs", s.URL, id), token, nil)
	must(t, resp.StatusCode == 201, "rerun-failed-jobs: %s %s", resp.Status, body)
	s.wait(t, id, "attempt 2", func(r runJSON) bool { return r.RunAttempt == 2 && r.Status == "completed" })

	b.signIn(fmt.Sprintf("%s/runs/%d", s.URL, id))
	b.poll("log complete", `document.body.dataset.logs === 'done'`, 20*time.Second)
	str := func(js string) string { t.Helper(); return eval[string](b, js, js) }
	must(t, strings.Contains(str(`document.querySelector('#title').textContent`), "attempt 2"), "title %q", str(`document.querySelector('#title').textContent`))
	steps := str(`[...document.querySelectorAll('.job[data-job="build"] details.step')].map(e => e.querySelector('.name').textContent + ':' + e.dataset.state).join(',')`)
	must(t, steps == "Make:success,Pack:success", "attempt 2's kept build shows steps %q, want Make and Pack done", steps)
	log := str(`document.querySelector('.job[data-job="build"]').textContent`)
	must(t, strings.Contains(log, "kept-line-from-attempt-1") && strings.Contains(log, "packed"), "attempt 2's kept build's log: %q", log)
	ann := str(`[...document.querySelectorAll('#annotations li')].map(l => l.textContent).join('|')`)
	must(t, ann == "⚠ build src/a b.go#L2 Heads up: kept warning", "annotations %q", ann)
	b.shot("run-kept")
}

// The run page and its graph list a matrix job's legs in the order of its
// expansion, not the order they started in.
func TestBrowserLegsOrder(t *testing.T) {
	b := newBrowser(t)
	s := start(t, serve.Config{Capacity: 6, Jobs: 6}, birds(t, map[string]string{".github/workflows/legs.yaml": legsWF}), 0)
	id := legsOutOfOrder(t, s)
	b.signIn(fmt.Sprintf("%s/runs/%d", s.URL, id))
	b.poll("log complete", `document.body.dataset.logs === 'done'`, 20*time.Second)
	order := eval[string](b, "jobs", `[...document.querySelectorAll('#jobs .job')].map(e => e.dataset.job).join(',')`)
	must(t, order == strings.Join(legsOrder, ","), "jobs on the page %q, want %q", order, strings.Join(legsOrder, ","))
	b.shot("run-legs")
}

// A cancelled run's header says Cancelled once (it said "Cancelled ·
// cancelled"); the runs list on a page past the last says so and shows
// no runs ("Page 99 of 1" before); an open page of a run that is deleted
// stops polling and says the run was deleted (it polled every second for
// good, or, idle, never noticed).
func TestBrowserCancelledPastPageDeleted(t *testing.T) {
	b := newBrowser(t)
	// The page's requests (Chromium's, by their User-Agent) are counted,
	// and refused with 503 while blocked.
	var blocked atomic.Bool
	var seen atomic.Int64
	repo := birds(t, map[string]string{".github/workflows/slow.yaml": slowWF})
	cfg := serve.Config{State: filepath.Join(t.TempDir(), "state"), Token: token,
		Repositories: []serve.Repo{{Path: repo.dir, Name: "mona/birds", Branch: "main"}}}
	srv, err := serve.New(cfg, serve.Options{Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(nil)
	hs.Config = srv.HTTPServer()
	inner := hs.Config.Handler
	hs.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.UserAgent(), "Chrome") {
			seen.Add(1)
			if blocked.Load() {
				http.Error(w, "blocked by the test", http.StatusServiceUnavailable)
				return
			}
		}
		inner.ServeHTTP(w, r)
	})
	hs.Start()
	srv.Start()
	t.Cleanup(func() { hs.Close(); srv.Close(5 * time.Second) })
	s := &testServer{Server: srv, URL: hs.URL, Repo: repo}
	str := func(js string) string { t.Helper(); return eval[string](b, js, js) }

	// Cancelled once.
	id, _, _ := s.dispatch(t, "slow.yaml", nil)
	b.signIn(fmt.Sprintf("%s/runs/%d", s.URL, id))
	b.poll("in progress", `document.querySelector('#run-status')?.dataset.state === 'in_progress'`, 20*time.Second)
	resp, body := do(t, "POST", fmt.Sprintf("%s/repos/mona/birds/actions/runs/%d/force-cancel", s.URL, id), token, nil)
	must(t, resp.StatusCode == 202, "force-cancel: %s %s", resp.Status, body)
	b.poll("cancelled", `document.querySelector('#run-status')?.dataset.state === 'cancelled' && document.body.dataset.logs === 'done'`, 20*time.Second)
	head := str(`document.querySelector('#summary').textContent`)
	must(t, strings.Count(strings.ToLower(head), "cancelled") == 1, "a cancelled run's header: %q, want Cancelled once", head)
	b.shot("run-cancelled")

	// Past the last page.
	b.do("runs list page 99", chromedp.Navigate(s.URL+"/?page=99"))
	b.poll("page 99", `document.querySelector('#count').textContent !== ''`, 10*time.Second)
	list := str(`[document.querySelector('#page-info').textContent, document.querySelector('#runs tbody').textContent, document.querySelector('#prev').disabled, document.querySelector('#next').disabled].join('|')`)
	must(t, list == "Page 99: past the last page (1)|No runs on page 99: there is 1 page.|false|true", "runs list on page 99: %q", list)
	b.shot("list-past-end")
	b.do("previous from page 99", chromedp.Click(`#prev`))
	b.poll("the last page", `location.search === '' && document.querySelector('#page-info').textContent === 'Page 1 of 1'`, 10*time.Second)

	// Deleted while its page is idle (the log ended): shown again, the
	// page says so.
	b.do("cancelled run's page", chromedp.Navigate(fmt.Sprintf("%s/runs/%d", s.URL, id)))
	b.poll("log complete", `document.body.dataset.logs === 'done'`, 10*time.Second)
	resp, body = do(t, "DELETE", fmt.Sprintf("%s/repos/mona/birds/actions/runs/%d", s.URL, id), token, nil)
	must(t, resp.StatusCode == 204, "delete: %s %s", resp.Status, body)
	b.do("tab shown again", chromedp.Evaluate[chromedp.Void](`document.dispatchEvent(new Event('visibilitychange'))`))
	b.poll("deleted said", `document.body.dataset.deleted === 'true' && document.querySelector('#action-msg').textContent === 'Run #`+fmt.Sprint(id)+` was deleted'`, 10*time.Second)

	// Deleted while its page is open: the page's log stream is cut and its
	// requests refused while the run ends and is deleted, then let through.
	id, _, _ = s.dispatch(t, "slow.yaml", nil)
	b.do("run page", chromedp.Navigate(fmt.Sprintf("%s/runs/%d", s.URL, id)))
	b.poll("in progress", `document.querySelector('#run-status')?.dataset.state === 'in_progress' && document.querySelector('#jobs').textContent.includes('started')`, 20*time.Second)
	blocked.Store(true)
	hs.CloseClientConnections()
	http.DefaultClient.CloseIdleConnections() // this test's own were cut too
	resp, body = do(t, "POST", fmt.Sprintf("%s/repos/mona/birds/actions/runs/%d/force-cancel", s.URL, id), token, nil)
	must(t, resp.StatusCode == 202, "force-cancel: %s %s", resp.Status, body)
	s.done(t, id)
	resp, body = do(t, "DELETE", fmt.Sprintf("%s/repos/mona/birds/actions/runs/%d", s.URL, id), token, nil)
	must(t, resp.StatusCode == 204, "delete: %s %s", resp.Status, body)
	blocked.Store(false)
	b.poll("deleted said", `document.body.dataset.deleted === 'true' && document.querySelector('#action-msg').textContent === 'Run #`+fmt.Sprint(id)+` was deleted'`, 10*time.Second)
	settled := seen.Load()
	time.Sleep(3 * time.Second)
	must(t, seen.Load() == settled, "the page of the deleted run made %d requests in 3 s after saying so", seen.Load()-settled)
	must(t, str(`[...document.querySelectorAll('.actions button')].map(b => b.disabled).join(',')`) == "true,true,true", "buttons on a deleted run's page are on")
	b.shot("run-deleted")
}
