package serve_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// peakRSS reports a process's peak resident memory (VmHWM) in MB.
func peakRSS(b *testing.B, pid int) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.Atoi(strings.Fields(v)[0])
			b.ReportMetric(float64(kb)/1024, "peak-rss-MB")
			return
		}
	}
	b.Fatalf("no VmHWM in /proc/%d/status", pid)
}

// Peak memory of `runner serve` while 30 senders post 25 MB webhook
// bodies with a wrong signature at once.
func BenchmarkWebhookFloodRSS(b *testing.B) {
	dir := b.TempDir()
	repo := birds(b, nil)
	config := filepath.Join(dir, "runner.yaml")
	os.WriteFile(config, []byte(fmt.Sprintf("listen: %s\nstate: %s\nwebhook-secret: s3cret\nrepositories:\n  - path: %s\n    name: mona/birds\n",
		freeAddr(b), filepath.Join(dir, "state"), repo.dir)), 0o644)
	p := startProcess(b, config)
	body := bytes.Repeat([]byte("x"), 25<<20-100)
	var wg sync.WaitGroup
	for range 30 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("POST", p.url+"/webhooks/github", bytes.NewReader(body))
			req.Header.Set("X-Hub-Signature-256", "sha256="+strings.Repeat("00", 32))
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	peakRSS(b, p.cmd.Process.Pid)
}

// Peak memory of `runner serve` while ten live readers stream a 100 MB
// log of a run in progress.
func BenchmarkLogReadersRSS(b *testing.B) {
	dir := b.TempDir()
	state := filepath.Join(dir, "state")
	repo := birds(b, map[string]string{".github/workflows/w.yaml": "on: workflow_dispatch\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: sleep 30\n"})
	config := filepath.Join(dir, "runner.yaml")
	os.WriteFile(config, []byte(fmt.Sprintf("listen: %s\nstate: %s\nrepositories:\n  - path: %s\n    name: mona/birds\n    branch: main\n",
		freeAddr(b), state, repo.dir)), 0o644)
	p := startProcess(b, config)
	s := &testServer{URL: p.url}
	id, _, _ := s.dispatch(b, "w.yaml", nil)
	s.wait(b, id, "start", func(r runJSON) bool { return r.Status == "in_progress" })
	f, err := os.OpenFile(filepath.Join(state, "logs", fmt.Sprintf("%d.jsonl", id)), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	line := []byte(`{"kind":"line","job":"a","text":"` + strings.Repeat("y", 1000) + "\"}\n")
	f.Write(bytes.Repeat(line, 100<<20/len(line)))
	f.Close()
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("GET", fmt.Sprintf("%s/api/runs/%d/logs?stream=1", p.url, id), nil)
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return
			}
			defer resp.Body.Close()
			io.Copy(io.Discard, io.LimitReader(resp.Body, 100<<20)) // the appended lines, then stop
		}()
	}
	wg.Wait()
	peakRSS(b, p.cmd.Process.Pid)
	do(b, "POST", fmt.Sprintf("%s/api/runs/%d/cancel", p.url, id), token, nil)
	time.Sleep(100 * time.Millisecond)
}
