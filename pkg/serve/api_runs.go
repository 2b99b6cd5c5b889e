package serve

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/birdflock/runner/pkg/serve/store"
)

// githubRoutes serves GitHub's Actions REST API under prefix
// (/repos/{owner}/{repo}/actions): paths, JSON shapes and status codes as
// GitHub's OpenAPI description gives them.
func (s *Server) githubRoutes(mux *http.ServeMux, prefix string) {
	mux.HandleFunc("GET "+prefix+"/runs", s.read(s.handleRuns))
	mux.HandleFunc("GET "+prefix+"/runs/{id}", s.read(s.handleRun))
	mux.HandleFunc("GET "+prefix+"/runs/{id}/attempts/{attempt}", s.read(s.handleRun))
	mux.HandleFunc("GET "+prefix+"/runs/{id}/jobs", s.read(s.handleRunJobs))
	mux.HandleFunc("GET "+prefix+"/runs/{id}/attempts/{attempt}/jobs", s.read(s.handleRunJobs))
	mux.HandleFunc("GET "+prefix+"/runs/{id}/logs", s.read(s.handleRunLogsZip))
	mux.HandleFunc("POST "+prefix+"/runs/{id}/cancel", s.auth(s.handleCancel))
	mux.HandleFunc("POST "+prefix+"/runs/{id}/rerun", s.auth(s.handleRerun))
	mux.HandleFunc("POST "+prefix+"/runs/{id}/rerun-failed-jobs", s.auth(s.handleRerun))
	mux.HandleFunc("GET "+prefix+"/jobs/{job}", s.read(s.handleJob))
	mux.HandleFunc("GET "+prefix+"/jobs/{job}/logs", s.read(s.handleJobLogs))
	mux.HandleFunc("POST "+prefix+"/jobs/{job}/rerun", s.auth(s.handleRerun))
	mux.HandleFunc("GET "+prefix+"/workflows", s.read(s.handleRepoWorkflows))
	mux.HandleFunc("GET "+prefix+"/workflows/{workflow}", s.read(s.handleRepoWorkflow))
	mux.HandleFunc("GET "+prefix+"/workflows/{workflow}/runs", s.read(s.handleRuns))
	mux.HandleFunc("POST "+prefix+"/workflows/{workflow}/dispatches", s.auth(s.handleDispatch))
	s.githubRunRoutes(mux, prefix)
	s.artifactRoutes(mux, prefix)
}

// github tells whether a request came by GitHub's paths (not the web UI's
// /api/runs).
func github(r *http.Request) bool { return r.PathValue("owner") != "" }

// repoOf is the repository a GitHub path names; nil (and a 404 sent) when
// it is not one of the service's.
func (s *Server) repoOf(w http.ResponseWriter, r *http.Request) *repo {
	rp := s.repoByName(r.PathValue("owner") + "/" + r.PathValue("repo"))
	if rp == nil {
		apiError(w, http.StatusNotFound, "Not Found")
	}
	return rp
}

func pathInt(r *http.Request, name, what string) (int64, error) {
	n, err := strconv.ParseInt(r.PathValue(name), 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%s %q: %w", what, r.PathValue(name), ErrNotFound)
	}
	return n, nil
}

// runOf is the run attempt a request names: {id} is the workflow run's
// id, {attempt} the attempt (default: the latest). On GitHub's paths the
// run must belong to the repository of the path.
func (s *Server) runOf(r *http.Request) (*store.Run, error) {
	id, err := pathInt(r, "id", "run id")
	if err != nil {
		return nil, err
	}
	var run *store.Run
	if r.PathValue("attempt") != "" {
		n, err := pathInt(r, "attempt", "attempt")
		if err != nil {
			return nil, err
		}
		run, err = s.store.Attempt(id, int(n))
		if err != nil {
			return nil, err
		}
	} else if run, err = s.store.Latest(id); err != nil {
		return nil, err
	}
	if github(r) && !strings.EqualFold(run.Repo, r.PathValue("owner")+"/"+r.PathValue("repo")) {
		return nil, fmt.Errorf("run %d: %w", id, ErrNotFound)
	}
	return run, nil
}

// runJSON is a run attempt in GitHub's workflow run shape, plus message,
// inputs, concurrency_group and duration_ms.
func (s *Server) runJSON(u urls, r *store.Run) map[string]any {
	repo := u.repoAPI(r.Repo)
	run := fmt.Sprintf("%s/actions/runs/%d", repo, r.RunID)
	var wfID int64
	if wf, err := s.workflowOf(r.Repo, r.WorkflowFile); err == nil {
		wfID = wf.ID
	}
	started := attemptMade(r)
	if !r.Started.IsZero() {
		started = r.Started
	}
	var previous any
	if r.Attempt > 1 {
		previous = fmt.Sprintf("%s/attempts/%d", run, r.Attempt-1)
	}
	out := map[string]any{
		"id": r.RunID, "node_id": nodeID("WFR", r.RunID), "run_number": r.RunID, "run_attempt": r.Attempt,
		"name": r.WorkflowName, "display_title": r.WorkflowName, "path": r.WorkflowFile, "workflow_id": wfID,
		"event": r.Event, "status": r.Status, "conclusion": nullable(r.Conclusion),
		"head_sha": r.SHA, "head_branch": nullable(refName(r.Ref)), "ref": r.Ref,
		"actor": u.user(r.Actor), "triggering_actor": u.user(r.Actor),
		"created_at": timeJSON(r.Created), "run_started_at": timeJSON(started), "updated_at": timeJSON(r.Updated),
		"repository": u.repo(r.Repo), "head_repository": u.repo(r.Repo), "head_repository_id": repoID(r.Repo),
		"head_commit": s.headCommit(r.Repo, r.SHA), "pull_requests": []any{}, "referenced_workflows": []any{},
		"url": run, "html_url": fmt.Sprintf("%s/runs/%d", u.html, r.RunID),
		"jobs_url": run + "/jobs", "logs_url": run + "/logs", "check_suite_url": fmt.Sprintf("%s/check-suites/%d", repo, r.RunID),
		"artifacts_url": run + "/artifacts", "cancel_url": run + "/cancel", "rerun_url": run + "/rerun",
		"workflow_url": fmt.Sprintf("%s/actions/workflows/%d", repo, wfID), "previous_attempt_url": previous,
		// Not GitHub's: the attempt it re-ran (the same run id; null for
		// a first attempt), why it ended, its inputs and group.
		"previous_attempt_run_id": nil, "message": nullable(r.Message), "inputs": jsonMap(r.Inputs),
		"concurrency_group": nullable(r.Group), "duration_ms": duration(r),
		// Not GitHub's: the attempt ran without the job cache.
		"no_cache": r.NoCache,
	}
	if r.Attempt > 1 {
		out["previous_attempt_run_id"] = r.RunID
	}
	return out
}

// attemptMade is when run attempt r was made: a re-run's Created is its
// workflow run's (GitHub keeps created_at), its Updated is its creation
// until it starts or ends.
func attemptMade(r *store.Run) time.Time {
	if r.Attempt > 1 {
		return r.Updated
	}
	return r.Created
}

func timeJSON(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(time.RFC3339)
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// duration is how long a run ran (so far); nil before it started.
func duration(r *store.Run) any {
	if r.Started.IsZero() {
		return nil
	}
	end := time.Now()
	if r.Status == store.Completed {
		end = r.Updated
	}
	return end.Sub(r.Started).Milliseconds()
}

// handleRuns lists runs with GitHub's filters and pagination: every run
// (web UI), a repository's, or a workflow's.
func (s *Server) handleRuns(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var f store.Filter
	// GitHub's status filter takes statuses and conclusions alike.
	switch st := q.Get("status"); st {
	case "":
	case "queued", "in_progress", "completed", "requested", "waiting", "pending":
		f.Status = st
	case "action_required", "cancelled", "failure", "neutral", "skipped", "stale", "success", "timed_out":
		f.Conclusion = st
	default:
		apiError(w, http.StatusUnprocessableEntity, fmt.Sprintf("status %q: want one of completed, action_required, cancelled, failure, neutral, skipped, stale, success, timed_out, in_progress, queued, requested, waiting, pending", st))
		return
	}
	f.Branch, f.Event, f.Actor, f.SHA = q.Get("branch"), q.Get("event"), q.Get("actor"), q.Get("head_sha")
	var err error
	if f.CreatedFrom, f.CreatedTo, err = dateRange(q.Get("created")); err != nil {
		apiError(w, http.StatusUnprocessableEntity, err.Error())
		return
	}
	if github(r) {
		rp := s.repoOf(w, r)
		if rp == nil {
			return
		}
		f.Repo = rp.name
		if r.PathValue("workflow") != "" {
			wf, err := s.findWorkflow(rp, r.PathValue("workflow"))
			if err != nil {
				errorStatus(w, err)
				return
			}
			f.WorkflowFile = wf.Path
		}
	}
	page := pageOf(r)
	f.Limit, f.Offset = page.size, (page.n-1)*page.size
	u := s.urlsFor(r)
	// The page from the cache while no write came since it was rendered
	// (listcache.go); the runs in progress on it are encoded per call.
	p, err := s.runsPageOf(r, u, f)
	if err != nil {
		errorStatus(w, err)
		return
	}
	page.link(w, r, u, p.total)
	if p.body != nil {
		// One write of the whole page, with its length (small chunked
		// writes of a megabyte took hundreds of system calls), gzipped
		// to the callers that accept it once the page is asked for again.
		writeTagged(w, r, p.etag, p.gzipFor(), p.body)
		return
	}
	// Runs in progress: the page up to the last of them made now, then
	// its kept tail.
	var buf []byte
	if b, ok := bodies.Get().(*[]byte); ok {
		buf = *b
	}
	var failed error
	prefix, etag := p.prefix(buf, func(run *store.Run) []byte {
		data, err := json.Marshal(s.runJSON(u, run))
		if err != nil {
			failed = err
		}
		return data
	})
	defer bodies.Put(&prefix)
	if failed != nil {
		errorStatus(w, failed)
		return
	}
	writeTagged(w, r, etag, nil, prefix, p.tail)
}

// handleRun answers a run's latest attempt or the attempt asked for; the
// web UI's /api/runs/{id} adds its jobs with their steps and the job
// graph.
func (s *Server) handleRun(w http.ResponseWriter, r *http.Request) {
	run, err := s.runOf(r)
	if err != nil {
		errorStatus(w, err)
		return
	}
	u := s.urlsFor(r)
	out := s.runJSON(u, run)
	if github(r) {
		writeJSONTagged(w, r, out)
		return
	}
	if err := s.webRun(r, u, run, out); err != nil {
		errorStatus(w, err)
		return
	}
	writeJSONTagged(w, r, out)
}

func (s *Server) handleCancel(w http.ResponseWriter, r *http.Request) {
	run, err := s.runOf(r)
	if err == nil {
		err = s.cancelRun(run.ID, strings.HasSuffix(r.URL.Path, "/force-cancel"))
	}
	if err != nil {
		errorStatus(w, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]any{})
}

// handleRerun queues a new attempt of a run: all its jobs, its failed
// ones (rerun-failed-jobs, or ?failed=true on /api), or one job and what
// needs it (jobs/{job}/rerun). GitHub answers 201 with an empty object;
// the web UI's /api gets the new attempt.
func (s *Server) handleRerun(w http.ResponseWriter, r *http.Request) {
	// GitHub's body, optional: {"enable_debug_logging": bool}; runner's
	// "no_cache": true re-runs without the job cache (docs/cache.md), as
	// does ?no_cache=true on /api.
	var body struct {
		EnableDebugLogging bool `json:"enable_debug_logging"`
		NoCache            bool `json:"no_cache"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil && !errors.Is(err, io.EOF) {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			apiError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body over %d bytes", tooBig.Limit))
			return
		}
		apiError(w, http.StatusBadRequest, "Problems parsing JSON: "+err.Error())
		return
	}
	o := RerunOptions{NoCache: body.NoCache || (!github(r) && r.URL.Query().Get("no_cache") == "true")}
	var nr *store.Run
	var err error
	if r.PathValue("job") != "" {
		nr, err = s.rerunJob(r, o)
	} else {
		var run *store.Run
		if run, err = s.runOf(r); err == nil {
			o.FailedOnly = strings.HasSuffix(r.URL.Path, "/rerun-failed-jobs") || (!github(r) && r.URL.Query().Get("failed") == "true")
			nr, err = s.RerunWith(run.ID, o)
		}
	}
	if err != nil {
		errorStatus(w, err)
		return
	}
	w.Header().Set("Location", fmt.Sprintf("/api/runs/%d", nr.RunID))
	if github(r) {
		writeJSON(w, http.StatusCreated, map[string]any{})
		return
	}
	writeJSON(w, http.StatusCreated, s.runJSON(s.urlsFor(r), nr))
}

func (s *Server) rerunJob(r *http.Request, o RerunOptions) (*store.Run, error) {
	job, run, err := s.pathJob(r, "job id")
	if err != nil {
		return nil, err
	}
	return s.RerunJobWith(run.ID, job.Key, o)
}

// handleDispatch starts a workflow_dispatch run of a workflow named by
// numeric id, file name or path.
func (s *Server) handleDispatch(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Ref              string         `json:"ref"`
		Inputs           map[string]any `json:"inputs"`
		ReturnRunDetails bool           `json:"return_run_details"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			apiError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body over %d bytes", tooBig.Limit))
			return
		}
		apiError(w, http.StatusBadRequest, "Problems parsing JSON: "+err.Error())
		return
	}
	inputs := map[string]string{}
	for k, v := range body.Inputs {
		switch v := v.(type) {
		case string:
			inputs[k] = v
		case bool, float64:
			inputs[k] = fmt.Sprint(v)
		default:
			apiError(w, http.StatusUnprocessableEntity, fmt.Sprintf("input %q: want a string, boolean or number", k))
			return
		}
	}
	name := r.PathValue("workflow")
	if n, err := strconv.ParseInt(name, 10, 64); err == nil {
		wf, err := s.store.WorkflowByID(n)
		if err != nil || !strings.EqualFold(wf.Repo, r.PathValue("owner")+"/"+r.PathValue("repo")) {
			apiError(w, http.StatusNotFound, fmt.Sprintf("workflow %d: Not Found", n))
			return
		}
		name = wf.Path
	}
	run, err := s.Dispatch(r.PathValue("owner")+"/"+r.PathValue("repo"), name, body.Ref, inputs)
	if err != nil {
		errorStatus(w, err)
		return
	}
	w.Header().Set("Location", fmt.Sprintf("/api/runs/%d", run.RunID))
	if body.ReturnRunDetails {
		u := s.urlsFor(r)
		writeJSON(w, http.StatusOK, map[string]any{"workflow_run_id": run.RunID,
			"run_url": fmt.Sprintf("%s/actions/runs/%d", u.repoAPI(run.Repo), run.RunID), "html_url": fmt.Sprintf("%s/runs/%d", u.html, run.RunID)})
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
