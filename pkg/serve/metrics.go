package serve

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
)

var durationBuckets = []float64{1, 5, 15, 30, 60, 300, 900, 1800, 3600}

// handleMetrics writes Prometheus' text format by hand: a few gauges and
// one histogram do not need a client library (and its memory).
func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request) {
	counts, err := s.store.Counts()
	if err != nil {
		errorStatus(w, err)
		return
	}
	durs, err := s.store.JobDurations()
	if err != nil {
		errorStatus(w, err)
		return
	}
	var b strings.Builder
	b.WriteString("# HELP runner_runs Workflow runs by status and conclusion.\n# TYPE runner_runs gauge\n")
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		st, c, _ := strings.Cut(k, "/")
		fmt.Fprintf(&b, "runner_runs{status=%q,conclusion=%q} %d\n", st, c, counts[k])
	}
	queued := 0
	for k, n := range counts {
		if strings.HasPrefix(k, "queued/") {
			queued += n
		}
	}
	s.mu.Lock()
	running, slots := len(s.running), s.cfg.Capacity-s.free
	s.mu.Unlock()
	fmt.Fprintf(&b, "# HELP runner_queue_length Runs waiting to start.\n# TYPE runner_queue_length gauge\nrunner_queue_length %d\n", queued)
	fmt.Fprintf(&b, "# HELP runner_runs_running Runs executing now.\n# TYPE runner_runs_running gauge\nrunner_runs_running %d\n", running)
	fmt.Fprintf(&b, "# HELP runner_capacity Jobs executed at once at most, over all runs.\n# TYPE runner_capacity gauge\nrunner_capacity %d\n", s.cfg.Capacity)
	fmt.Fprintf(&b, "# HELP runner_job_slots_used Job slots held by running runs.\n# TYPE runner_job_slots_used gauge\nrunner_job_slots_used %d\n", slots)
	b.WriteString("# HELP runner_repository_polls_total Completed polls of a repository's branch.\n# TYPE runner_repository_polls_total counter\n")
	for _, rp := range s.repos {
		if rp.cfg.Poll > 0 {
			fmt.Fprintf(&b, "runner_repository_polls_total{repository=%q} %d\n", rp.name, rp.polls.Load())
		}
	}
	b.WriteString("# HELP runner_job_duration_seconds Durations of finished jobs.\n# TYPE runner_job_duration_seconds histogram\n")
	sum := 0.0
	for _, d := range durs {
		sum += d.Seconds()
	}
	for _, le := range durationBuckets {
		n := 0
		for _, d := range durs {
			if d.Seconds() <= le {
				n++
			}
		}
		fmt.Fprintf(&b, "runner_job_duration_seconds_bucket{le=\"%g\"} %d\n", le, n)
	}
	fmt.Fprintf(&b, "runner_job_duration_seconds_bucket{le=\"+Inf\"} %d\n", len(durs))
	fmt.Fprintf(&b, "runner_job_duration_seconds_sum %g\nrunner_job_duration_seconds_count %d\n", sum, len(durs))
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	w.Write([]byte(b.String()))
}
