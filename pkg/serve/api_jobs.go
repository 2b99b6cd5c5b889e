package serve

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/birdflock/runner/pkg/serve/store"
	"github.com/birdflock/runner/pkg/workflow"
)

// jobsJSON lists the jobs of a run attempt in GitHub's job shape, with
// their steps, in workflow order.
func (s *Server) jobsJSON(u urls, run *store.Run) ([]map[string]any, error) {
	jobs, err := s.store.Jobs(run.ID)
	if err != nil {
		return nil, err
	}
	s.inWorkflowOrder(run, jobs)
	steps, err := s.store.Steps(run.ID)
	if err != nil {
		return nil, err
	}
	labels := runsOn(run.WorkflowFile, run.Source, s.builtins)
	out := []map[string]any{}
	for _, j := range jobs {
		out = append(out, s.jobJSON(u, run, j, steps, labels))
	}
	return out, nil
}

// runsOn maps each job of a workflow to its runs-on labels.
func runsOn(file, source string, b workflow.Actions) map[string][]string {
	out := map[string][]string{}
	wf, errs := workflow.Load(file, []byte(source), workflow.Options{Builtins: b, NoMatrixLegs: true})
	if len(errs) > 0 {
		return out
	}
	for _, j := range wf.Jobs {
		l := []string{}
		for _, v := range j.RunsOn {
			l = append(l, v.Raw)
		}
		out[j.ID] = l
	}
	return out
}

// jobJSON is one job in GitHub's shape; steps holds the attempt's steps.
func (s *Server) jobJSON(u urls, run *store.Run, j *store.Job, steps []*store.Step, labels map[string][]string) map[string]any {
	repo := u.repoAPI(run.Repo)
	sl := []map[string]any{}
	for _, st := range steps {
		if st.Job == j.Key {
			sl = append(sl, map[string]any{"number": st.Number, "name": st.Name, "status": st.Status,
				"conclusion": nullable(st.Conclusion), "started_at": timeJSON(st.Started), "completed_at": timeJSON(st.Completed)})
		}
	}
	// A matrix leg's key is "job (values)": its labels are its job's.
	id, _, _ := strings.Cut(j.Key, " (")
	l := labels[id]
	if l == nil {
		l = []string{}
	}
	started := j.Started
	if started.IsZero() {
		started = j.Completed
	}
	if started.IsZero() {
		started = attemptMade(run)
	}
	runner := "runner"
	if j.Runner != "" {
		runner = j.Runner
	}
	var completed any
	if j.Status == store.Completed {
		completed = timeJSON(j.Completed)
	}
	// Not GitHub's: where a job restored from the job cache came from
	// (docs/cache.md); null for a job that ran.
	var cached any
	if j.CachedKey != "" {
		cached = map[string]any{"run": j.CachedRun, "key": j.CachedKey}
	}
	return map[string]any{
		"id": j.ID, "node_id": nodeID("CR", j.ID), "run_id": run.RunID, "run_attempt": run.Attempt,
		"run_url": fmt.Sprintf("%s/actions/runs/%d", repo, run.RunID), "url": fmt.Sprintf("%s/actions/jobs/%d", repo, j.ID),
		"html_url": fmt.Sprintf("%s/runs/%d#job-%d", u.html, run.RunID, j.ID), "check_run_url": fmt.Sprintf("%s/check-runs/%d", repo, j.ID),
		"head_sha": run.SHA, "head_branch": nullable(refName(run.Ref)), "workflow_name": run.WorkflowName,
		"name": j.Name, "status": j.Status, "conclusion": nullable(j.Conclusion),
		"created_at": timeJSON(started), "started_at": timeJSON(started), "completed_at": completed,
		"steps": sl, "labels": l, "runner_id": nil, "runner_name": runner, "runner_group_id": nil, "runner_group_name": nil,
		"cached": cached,
	}
}

// jobOf is job id with its run attempt, which must belong to the
// repository of the path.
// pathJob is jobOf the job id in the request's path (what names the id in
// errors: "job id", "check run id").
func (s *Server) pathJob(r *http.Request, what string) (*store.Job, *store.Run, error) {
	id, err := pathInt(r, "job", what)
	if err != nil {
		return nil, nil, err
	}
	return s.jobOf(r, id)
}

func (s *Server) jobOf(r *http.Request, id int64) (*store.Job, *store.Run, error) {
	j, err := s.store.Job(id)
	if err != nil {
		return nil, nil, err
	}
	run, err := s.store.Run(j.RunID)
	if err != nil {
		return nil, nil, err
	}
	if !strings.EqualFold(run.Repo, r.PathValue("owner")+"/"+r.PathValue("repo")) {
		return nil, nil, fmt.Errorf("job %d: %w", id, ErrNotFound)
	}
	return j, run, nil
}

// handleRunJobs lists the jobs of a run attempt; for the latest attempt
// filter=all lists those of every attempt, latest first.
func (s *Server) handleRunJobs(w http.ResponseWriter, r *http.Request) {
	run, err := s.runOf(r)
	if err != nil {
		errorStatus(w, err)
		return
	}
	attempts := []*store.Run{run}
	switch f := r.URL.Query().Get("filter"); {
	case f == "all" && r.PathValue("attempt") == "":
		if attempts, err = s.store.Attempts(run.RunID); err != nil {
			errorStatus(w, err)
			return
		}
	case f == "", f == "latest", f == "all":
	default:
		apiError(w, http.StatusUnprocessableEntity, fmt.Sprintf("filter %q: want latest or all", f))
		return
	}
	u := s.urlsFor(r)
	all := []map[string]any{}
	for _, a := range attempts {
		jobs, err := s.jobsJSON(u, a)
		if err != nil {
			errorStatus(w, err)
			return
		}
		all = append(all, jobs...)
	}
	page := pageOf(r)
	from, to := min(len(all), (page.n-1)*page.size), min(len(all), page.n*page.size)
	page.link(w, r, u, len(all))
	writeJSON(w, http.StatusOK, map[string]any{"total_count": len(all), "jobs": all[from:to]})
}

func (s *Server) handleJob(w http.ResponseWriter, r *http.Request) {
	j, run, err := s.pathJob(r, "job id")
	if err != nil {
		errorStatus(w, err)
		return
	}
	steps, err := s.store.Steps(run.ID)
	if err != nil {
		errorStatus(w, err)
		return
	}
	writeJSON(w, http.StatusOK, s.jobJSON(s.urlsFor(r), run, j, steps, runsOn(run.WorkflowFile, run.Source, s.builtins)))
}

// handleJobLogs answers GitHub's way: a redirect to the job's log as plain
// text (?text=1 here), each line after its time in GitHub's format.
func (s *Server) handleJobLogs(w http.ResponseWriter, r *http.Request) {
	j, run, err := s.pathJob(r, "job id")
	if err != nil {
		errorStatus(w, err)
		return
	}
	if r.URL.Query().Get("text") == "" {
		u := s.urlsFor(r)
		http.Redirect(w, r, u.html+r.URL.Path+"?text=1", http.StatusFound)
		return
	}
	f, err := os.Open(logPath(s.cfg.State, run.ID))
	if errors.Is(err, os.ErrNotExist) {
		// As the run's logs zip: deleted logs are gone.
		apiError(w, http.StatusGone, fmt.Sprintf("the logs of run %d attempt %d are deleted", run.RunID, run.Attempt))
		return
	}
	if err != nil {
		errorStatus(w, err)
		return
	}
	defer f.Close()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	bw := bufio.NewWriter(w)
	defer bw.Flush()
	writeJobLog(bw, f, j.Key)
}

// logTime is GitHub's timestamp before each line of a job's log.
const logTime = "2006-01-02T15:04:05.0000000Z"

// writeJobLog writes the lines of job key from a run's log file as GitHub
// does: each after its time, a step's lines inside ##[group] markers.
func writeJobLog(w io.Writer, r io.Reader, key string) error {
	dec := json.NewDecoder(r)
	for {
		var ev LogEvent
		if err := dec.Decode(&ev); err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
		if ev.Job != key {
			continue
		}
		lines := jobLogLines(ev)
		ts := time.UnixMilli(ev.T).UTC().Format(logTime)
		for _, l := range lines {
			if _, err := fmt.Fprintf(w, "%s %s\n", ts, l); err != nil {
				return err
			}
		}
	}
}

// jobLogLines are the lines of a job's log that event ev gives, without
// their time.
func jobLogLines(ev LogEvent) []string {
	switch {
	case ev.Kind == "start" && ev.Scope == "step":
		return []string{"##[group]" + ev.Step, "##[endgroup]"}
	case ev.Kind == "end" && ev.Scope == "step" && ev.Status == "failure":
		return []string{"##[error]" + ev.Step + " failed"}
	case ev.Kind == "endgroup":
		return []string{"##[endgroup]"}
	case ev.Kind == "line" && strings.HasPrefix(ev.Text, "▸ ") && ev.Step != "":
		// A ::group:: of the step, as GitHub writes it.
		lines := strings.Split(strings.TrimPrefix(ev.Text, "▸ "), "\n")
		lines[0] = "##[group]" + lines[0]
		return lines
	case ev.Kind == "line":
		return strings.Split(ev.Text, "\n")
	case ev.Kind == "annotation":
		level := ev.Status
		if level == "" {
			level = "error"
		}
		// A message of several lines (%0A) goes on as lines of their own.
		lines := strings.Split(ev.Text, "\n")
		lines[0] = "##[" + level + "]" + lines[0]
		return lines
	}
	return nil
}
