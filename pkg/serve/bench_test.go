package serve_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/birdflock/runner/pkg/serve"
)

// firstStepAt reads the time the run's first step started from its log.
func firstStepAt(t testing.TB, s *testServer, id int) time.Time {
	t.Helper()
	req, _ := http.NewRequest("GET", fmt.Sprintf("%s/api/runs/%d/logs?stream=1", s.URL, id), nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		var ev serve.LogEvent
		if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok && json.Unmarshal([]byte(data), &ev) == nil && ev.Kind == "start" && ev.Scope == "step" {
			return time.UnixMilli(ev.T)
		}
	}
	t.Fatalf("run %d: no step started", id)
	return time.Time{}
}

func percentiles(b *testing.B, lat []time.Duration) {
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	p := func(q float64) float64 {
		return float64(lat[int(q*float64(len(lat)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(p(0.5), "p50-ms")
	b.ReportMetric(p(0.99), "p99-ms")
}

const benchWF = "on: workflow_dispatch\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: 'true'\n"

// Dispatch → first step started, while 50 runs sit in the queue. A run
// stays queued while its concurrency group has a run in progress, and a
// group keeps one pending run (GitHub's rule), so 50 groups each have one
// run in progress (sleeping) and one queued. Each measured run is
// dispatched alone; times go from the request's start to the step's start
// event (millisecond resolution).
func BenchmarkDispatchFirstStepQueued50(b *testing.B) {
	held := "on:\n  workflow_dispatch:\n    inputs:\n      k: {required: true}\nconcurrency: held-${{ inputs.k }}\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: sleep 60\n"
	s := start(b, serve.Config{Capacity: 60}, birds(b, map[string]string{".github/workflows/b.yaml": benchWF, ".github/workflows/held.yaml": held}), 0)
	var holders []int
	for i := range 50 {
		id, resp, body := s.dispatch(b, "held.yaml", map[string]any{"k": strconv.Itoa(i)})
		if resp.StatusCode != 204 {
			b.Fatalf("dispatch: %s %s", resp.Status, body)
		}
		holders = append(holders, id)
	}
	for _, id := range holders {
		s.wait(b, id, "start", func(r runJSON) bool { return r.Status == "in_progress" })
	}
	for i := range 50 {
		s.dispatch(b, "held.yaml", map[string]any{"k": strconv.Itoa(i)})
	}
	var q struct {
		Total int `json:"total_count"`
	}
	getJSON(b, s.URL+"/api/runs?status=queued", &q)
	if q.Total != 50 {
		b.Fatalf("%d runs queued, want 50", q.Total)
	}
	const samples = 30
	var lat []time.Duration
	b.ResetTimer()
	for range samples {
		t0 := time.Now()
		id, resp, body := s.dispatch(b, "b.yaml", nil)
		if resp.StatusCode != 204 {
			b.Fatalf("dispatch: %s %s", resp.Status, body)
		}
		s.done(b, id)
		lat = append(lat, firstStepAt(b, s, id).Sub(t0))
	}
	b.StopTimer()
	percentiles(b, lat)
}

// 50 dispatches at once (capacity 50): dispatch → first step started for
// each, while the other 49 are being queued and started.
func BenchmarkDispatchFirstStepBurst50(b *testing.B) {
	s := start(b, serve.Config{Capacity: 50}, birds(b, map[string]string{".github/workflows/b.yaml": benchWF}), 0)
	var mu sync.Mutex
	starts := map[int]time.Time{}
	var wg sync.WaitGroup
	b.ResetTimer()
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t0 := time.Now()
			id, resp, body := s.dispatch(b, "b.yaml", nil)
			if resp.StatusCode != 204 {
				b.Errorf("dispatch: %s %s", resp.Status, body)
				return
			}
			mu.Lock()
			starts[id] = t0
			mu.Unlock()
		}()
	}
	wg.Wait()
	var lat []time.Duration
	for id, t0 := range starts {
		s.done(b, id)
		lat = append(lat, firstStepAt(b, s, id).Sub(t0))
	}
	b.StopTimer()
	percentiles(b, lat)
}

// Idle resident memory of a `runner serve` process with one repository.
func BenchmarkIdleRSS(b *testing.B) {
	dir := b.TempDir()
	repo := birds(b, nil)
	config := filepath.Join(dir, "runner.yaml")
	os.WriteFile(config, []byte(fmt.Sprintf("listen: %s\nstate: %s\nrepositories:\n  - path: %s\n    name: mona/birds\n    branch: main\n    poll: 1s\n",
		freeAddr(b), filepath.Join(dir, "state"), repo.dir)), 0o644)
	p := startProcess(b, config)
	do(b, "GET", p.url+"/api/runs", token, nil)
	time.Sleep(2 * time.Second)
	// Rss counts the binary's file-backed pages (shared, reclaimable);
	// Anonymous is the process's own memory (heap, stacks).
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", p.cmd.Process.Pid))
	if err != nil {
		b.Fatal(err)
	}
	found := 0
	for _, line := range strings.Split(string(data), "\n") {
		for key, unit := range map[string]string{"Rss:": "rss-MB", "Anonymous:": "anon-MB"} {
			if v, ok := strings.CutPrefix(line, key); ok {
				kb, _ := strconv.Atoi(strings.Fields(v)[0])
				b.ReportMetric(float64(kb)/1024, unit)
				found++
			}
		}
	}
	if found != 2 {
		b.Fatalf("no Rss/Anonymous in smaps_rollup:\n%s", data)
	}
}
