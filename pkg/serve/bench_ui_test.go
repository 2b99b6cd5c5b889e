package serve_test

import (
	"bufio"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	_ "modernc.org/sqlite" // database/sql driver "sqlite"

	"github.com/birdflock/runner/pkg/serve"
	"github.com/birdflock/runner/pkg/serve/store"
)

// seedRuns stores n completed runs of workflow ok.yaml at sha in a new
// state dir's database, as the store's own schema has them (store.Open
// makes it), with a mix of events, branches, actors and conclusions. One
// INSERT … SELECT: made one by one they would take minutes.
func seedRuns(b *testing.B, state, sha, source string, n int) {
	b.Helper()
	if err := os.MkdirAll(state, 0o700); err != nil {
		b.Fatal(err)
	}
	st, err := store.Open(filepath.Join(state, "runs.db"))
	if err != nil {
		b.Fatal(err)
	}
	st.Close()
	db, err := sql.Open("sqlite", filepath.Join(state, "runs.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	now := time.Now().Add(-time.Duration(n) * time.Minute).UnixMilli()
	_, err = db.Exec(`WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < ?)
		INSERT INTO runs (repo, workflow_file, workflow_name, source, event, ref, sha, actor, inputs, payload,
			status, conclusion, message, grp, cancel_group, attempt, rerun_of, reuse, created, started, updated, run_id)
		SELECT 'mona/birds', '.github/workflows/ok.yaml', 'Quick', ?,
			CASE i % 3 WHEN 0 THEN 'push' ELSE 'workflow_dispatch' END,
			CASE i % 4 WHEN 0 THEN 'refs/heads/feature' ELSE 'refs/heads/main' END, ?,
			CASE i % 5 WHEN 0 THEN 'Octo' ELSE 'Mona' END, '{}', '{}',
			'completed', CASE i % 7 WHEN 0 THEN 'failure' ELSE 'success' END, '', '', 0, 1, 0, '{}',
			? + i * 60000, ? + i * 60000 + 500, ? + i * 60000 + 4500, 0
		FROM seq`, n, source, sha, now, now, now)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE runs SET run_id = id`); err != nil {
		b.Fatal(err)
	}
}

const quickWF = "name: Quick\non: workflow_dispatch\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: 'true'\n"

// GET …/actions/runs?per_page=100 with 10,000 runs stored, from 50
// clients at once, each sending its next request when its last one is
// answered: latency per request, p50 and p99. Half the clients ask for the
// first page, the others for filtered lists (status, branch, actor,
// event) and later pages. Three loads on the same server:
//   - read: reads only;
//   - writes: the same, for 3 s at least, while runs are dispatched
//     every 150 ms, each created, started and completed (a run changing
//     state every ~50 ms, each change making every page's next call read
//     the store again, the first page holding the runs in progress);
//   - revalidate: reads only by clients that keep what they got and
//     send its ETag in If-None-Match (octokit's and gh's caches): 304s.
func BenchmarkListRuns10k(b *testing.B) {
	const runs, clients, perClient = 10000, 50, 20
	repo := birds(b, map[string]string{".github/workflows/ok.yaml": quickWF})
	head, err := repo.g.Head()
	if err != nil {
		b.Fatal(err)
	}
	state := filepath.Join(b.TempDir(), "state")
	// Each run keeps its workflow's text: a few KB as real ones are.
	seedRuns(b, state, head.Hash().String(), quickWF+strings.Repeat("# a comment line as workflows have them\n", 100), runs)
	s := start(b, serve.Config{State: state, Capacity: 10}, repo, 0)
	var total struct {
		Total int `json:"total_count"`
	}
	getJSON(b, s.URL+"/repos/mona/birds/actions/runs?per_page=1", &total)
	if total.Total != runs {
		b.Fatalf("%d runs listed, want %d", total.Total, runs)
	}
	queries := []string{"", "", "", "", "", "&status=failure", "&branch=feature", "&actor=Octo", "&event=push", "&page=50"}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	var size int64 // of the first page, from the calls of one client alone
	lone := false
	// get lists runs; with etags, it sends the ETag its client got last
	// for the query and counts a 304 as an answer.
	get := func(q string, etags map[string]string) time.Duration {
		req, _ := http.NewRequest("GET", s.URL+"/repos/mona/birds/actions/runs?per_page=100"+q, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		if etags != nil && etags[q] != "" {
			req.Header.Set("If-None-Match", etags[q])
		}
		t0 := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			b.Error(err)
			return 0
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		d := time.Since(t0)
		if resp.StatusCode == http.StatusNotModified && etags != nil && etags[q] != "" {
			return d
		}
		if resp.StatusCode != 200 || n < 1000 {
			b.Errorf("%s: %s, %d bytes", q, resp.Status, n)
		}
		if etags != nil {
			etags[q] = resp.Header.Get("ETag")
		}
		if q == "" && lone {
			size = n
		}
		return d
	}
	// One client alone: the time one call takes (warming the workflow's
	// id and the commit too).
	var alone []time.Duration
	lone = true
	for i := range 3 * len(queries) {
		alone = append(alone, get(queries[i%len(queries)], nil))
	}
	lone = false
	sort.Slice(alone, func(i, j int) bool { return alone[i] < alone[j] })
	// load runs the clients for perClient calls each, and on until
	// at least least has passed.
	load := func(b *testing.B, revalidate bool, least time.Duration) {
		var mu sync.Mutex
		var lat []time.Duration
		cpu0 := processCPU()
		for range b.N {
			var wg sync.WaitGroup
			t0 := time.Now()
			for c := range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					var etags map[string]string
					if revalidate {
						etags = map[string]string{}
					}
					var mine []time.Duration
					for i := 0; i < perClient || time.Since(t0) < least; i++ {
						mine = append(mine, get(queries[(c+i)%len(queries)], etags))
					}
					mu.Lock()
					lat = append(lat, mine...)
					mu.Unlock()
				}()
			}
			wg.Wait()
			b.ReportMetric(float64(len(lat))/time.Since(t0).Seconds(), "req/s")
		}
		b.StopTimer()
		// The process's CPU time per call (server and clients, and in
		// writes the runs' engine): what the machine's load does not
		// change much, unlike the latencies.
		b.ReportMetric((processCPU()-cpu0).Seconds()*1000/float64(len(lat)), "cpu-ms/call")
		percentiles(b, lat)
		b.ReportMetric(float64(alone[len(alone)/2].Microseconds())/1000, "alone-p50-ms")
		b.ReportMetric(float64(size)/1024, "KB/page")
	}
	b.Run("read", func(b *testing.B) { load(b, false, 0) })
	b.Run("writes", func(b *testing.B) {
		stop := make(chan struct{})
		var dispatched []int
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(150 * time.Millisecond)
			defer tick.Stop()
			for {
				id, resp, body := s.dispatch(b, "ok.yaml", nil)
				if resp.StatusCode != 204 {
					b.Errorf("dispatch: %s %s", resp.Status, body)
					return
				}
				dispatched = append(dispatched, id)
				select {
				case <-stop:
					return
				case <-tick.C:
				}
			}
		}()
		t0 := time.Now()
		// Long enough for a few dozen runs, however fast the calls.
		load(b, false, 3*time.Second)
		close(stop)
		wg.Wait()
		// Each run is created, started and completed: three changes.
		b.ReportMetric(3*float64(len(dispatched))/time.Since(t0).Seconds(), "changes/s")
		for _, id := range dispatched {
			if r := s.done(b, id); r.conclusion() != "success" {
				b.Fatalf("run %d: %s", id, r.conclusion())
			}
		}
	})
	b.Run("revalidate", func(b *testing.B) { load(b, true, 0) })
}

// processCPU is the CPU time this process used so far (user and system;
// not its children's).
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// A job that printed 100,000 lines: its log downloaded as GitHub's job
// log (plain text with timestamps, what `gh run view --log` reads) and as
// the web UI's event stream of the run (what the run page reads).
func BenchmarkJobLog100k(b *testing.B) {
	wf := "name: Loud\non: workflow_dispatch\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: seq 1 100000\n"
	s := start(b, serve.Config{}, birds(b, map[string]string{".github/workflows/loud.yaml": wf}), 0)
	id, resp, body := s.dispatch(b, "loud.yaml", nil)
	if resp.StatusCode != 204 {
		b.Fatalf("dispatch: %s %s", resp.Status, body)
	}
	var r runJSON
	completed := func() bool { r = s.run(b, id); return r.Status == "completed" }
	for deadline := time.Now().Add(2 * time.Minute); !completed(); time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatalf("run %d did not complete", id)
		}
	}
	if r.conclusion() != "success" {
		b.Fatalf("run %d: %s", id, r.conclusion())
	}
	var jobs struct {
		Jobs []struct {
			ID int64 `json:"id"`
		} `json:"jobs"`
	}
	getJSON(b, fmt.Sprintf("%s/repos/mona/birds/actions/runs/%d/jobs", s.URL, id), &jobs)
	fetch := func(b *testing.B, url, accept string) (lines int, size int64) {
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			size += int64(len(sc.Bytes()) + 1)
			if line := sc.Text(); strings.HasSuffix(line, "Z 100000") || strings.Contains(line, `"text":"100000"`) {
				lines++
			}
		}
		if resp.StatusCode != 200 || lines != 1 {
			b.Fatalf("%s: %s, the last line seen %d times", url, resp.Status, lines)
		}
		return lines, size
	}
	b.Run("job-log-text", func(b *testing.B) {
		var size int64
		for range b.N {
			_, size = fetch(b, fmt.Sprintf("%s/repos/mona/birds/actions/jobs/%d/logs?text=1", s.URL, jobs.Jobs[0].ID), "")
		}
		b.SetBytes(size)
	})
	b.Run("ui-event-stream", func(b *testing.B) {
		var size int64
		for range b.N {
			_, size = fetch(b, fmt.Sprintf("%s/api/runs/%d/logs", s.URL, id), "text/event-stream")
		}
		b.SetBytes(size)
	})
}

// The run page of a job that printed 100,000 lines, in headless Chromium:
// from navigation to the whole log shown (the stream ended, every line
// numbered), then a search over it.
func BenchmarkRunPage100kLines(b *testing.B) {
	br := newBrowser(b)
	wf := "name: Loud\non: workflow_dispatch\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: seq 1 100000\n"
	s := start(b, serve.Config{}, birds(b, map[string]string{".github/workflows/loud.yaml": wf}), 0)
	id, _, _ := s.dispatch(b, "loud.yaml", nil)
	for deadline := time.Now().Add(2 * time.Minute); s.run(b, id).Status != "completed"; time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatalf("run %d did not complete", id)
		}
	}
	br.signIn(s.URL + "/")
	var show, search time.Duration
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		br.do("run page", chromedp.Navigate(fmt.Sprintf("%s/runs/%d", s.URL, id)))
		br.poll("whole log", `document.body.dataset.logs === 'done'`, 5*time.Minute)
		show += time.Since(t0)
		if n := eval[int](br, "lines", `document.querySelectorAll('.line').length`); n != 100000 {
			b.Fatalf("%d lines shown, want 100000", n)
		}
		t0 = time.Now()
		eval[bool](br, "search", `(() => { const s = document.querySelector('#search'); s.value = '99999'; return s.dispatchEvent(new Event('input')); })()`)
		search += time.Since(t0)
		if got := eval[string](br, "matches", `document.querySelector('#search-info').textContent`); got != "1 match" {
			b.Fatalf("search for 99999: %q", got)
		}
	}
	b.StopTimer()
	b.ReportMetric(show.Seconds()/float64(b.N), "s/page")
	b.ReportMetric(search.Seconds()*1000/float64(b.N), "ms/search")
}
