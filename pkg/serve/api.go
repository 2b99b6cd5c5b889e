package serve

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/birdflock/runner/pkg/serve/store"
	"github.com/birdflock/runner/pkg/serve/web"
	"github.com/birdflock/runner/pkg/workflow"
)

// Request body limits: API calls are small; GitHub caps webhook payloads
// at 25 MB.
const (
	maxAPIBody     = 1 << 20
	maxWebhookBody = 25 << 20
)

// Handler is the HTTP API, webhook receiver and web UI.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /healthz", s.checkHost(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok\n")
	})))
	mux.HandleFunc("GET /metrics", s.read(s.handleMetrics))
	mux.HandleFunc("GET /api/repos", s.read(s.handleRepos))
	mux.HandleFunc("GET /api/workflows", s.read(s.handleWorkflows))
	for _, prefix := range []string{"/api", "/repos/{owner}/{repo}/actions"} {
		mux.HandleFunc("GET "+prefix+"/runs", s.read(s.handleRuns))
		mux.HandleFunc("GET "+prefix+"/runs/{id}", s.read(s.handleRun))
		mux.HandleFunc("GET "+prefix+"/runs/{id}/logs", s.read(s.handleLogs))
		mux.HandleFunc("POST "+prefix+"/runs/{id}/cancel", s.auth(s.handleCancel))
		mux.HandleFunc("POST "+prefix+"/runs/{id}/rerun", s.auth(s.handleRerun))
	}
	mux.HandleFunc("POST /repos/{owner}/{repo}/actions/runs/{id}/rerun-failed-jobs", s.auth(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		q.Set("failed", "true")
		r.URL.RawQuery = q.Encode()
		s.handleRerun(w, r)
	}))
	mux.HandleFunc("POST /repos/{owner}/{repo}/actions/workflows/{workflow}/dispatches", s.auth(s.handleDispatch))
	mux.HandleFunc("POST /webhooks/github", s.handleWebhook)
	mux.Handle("GET /", s.checkHost(web.Handler()))
	return secure(mux)
}

// apiError writes GitHub's error shape.
func apiError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]string{"message": msg})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// errorStatus maps service errors to HTTP statuses.
func errorStatus(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, ErrNotFound):
		apiError(w, http.StatusNotFound, err.Error())
	case errors.Is(err, ErrInvalid):
		apiError(w, http.StatusUnprocessableEntity, strings.TrimPrefix(err.Error(), ErrInvalid.Error()+": "))
	case errors.Is(err, ErrForbidden):
		apiError(w, http.StatusForbidden, strings.TrimPrefix(err.Error(), ErrForbidden.Error()+": "))
	case errors.Is(err, ErrConflict):
		apiError(w, http.StatusConflict, strings.TrimPrefix(err.Error(), ErrConflict.Error()+": "))
	default:
		apiError(w, http.StatusInternalServerError, err.Error())
	}
}

// authorized tells whether the request carries the API token, as
// "Bearer T" or GitHub's "token T".
func (s *Server) authorized(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok {
		tok, ok = strings.CutPrefix(h, "token ")
	}
	return ok && subtle.ConstantTimeCompare([]byte(strings.TrimSpace(tok)), []byte(s.cfg.Token)) == 1
}

func unauthorized(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="runner"`)
	apiError(w, http.StatusUnauthorized, "Bad credentials")
}

// auth requires the API token on state-changing calls, and bounds the
// request body.
func (s *Server) auth(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.authorized(r) {
			unauthorized(w)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxAPIBody)
		h(w, r)
	}
}

// read requires the API token on reads too (runs, logs, workflows,
// metrics), unless public-read is set; an answer without the token is
// one of the unauthenticated ones whose Host header is checked.
func (s *Server) read(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.authorized(r) {
			if !s.cfg.PublicRead {
				unauthorized(w)
				return
			}
			if !s.hostAllowed(w, r) {
				return
			}
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxAPIBody)
		h(w, r)
	}
}

func runID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("run id %q: %w", r.PathValue("id"), ErrNotFound)
	}
	return id, nil
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

// runJSON is a run in GitHub's workflow run shape, plus message.
func runJSON(r *store.Run) map[string]any {
	return map[string]any{
		"id": r.ID, "run_number": r.ID, "run_attempt": r.Attempt, "name": r.WorkflowName, "display_title": r.WorkflowName,
		"path": r.WorkflowFile, "event": r.Event, "status": r.Status, "conclusion": nullable(r.Conclusion),
		"head_sha": r.SHA, "head_branch": refName(r.Ref), "ref": r.Ref, "actor": map[string]any{"login": r.Actor},
		"created_at": timeJSON(r.Created), "run_started_at": timeJSON(r.Started), "updated_at": timeJSON(r.Updated),
		"repository": repoPayload(r.Repo), "message": nullable(r.Message), "inputs": jsonMap(r.Inputs),
		"previous_attempt_run_id": nullable(strconv.FormatInt(r.RerunOf, 10)), "concurrency_group": nullable(r.Group),
		"url": fmt.Sprintf("/api/runs/%d", r.ID), "html_url": fmt.Sprintf("/runs/%d", r.ID),
		"logs_url": fmt.Sprintf("/api/runs/%d/logs", r.ID), "duration_ms": duration(r),
	}
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
	if owner := r.PathValue("owner"); owner != "" {
		rp := s.repoByName(owner + "/" + r.PathValue("repo"))
		if rp == nil {
			apiError(w, http.StatusNotFound, "Not Found")
			return
		}
		f.Repo = rp.name
	}
	f.Limit, _ = strconv.Atoi(q.Get("per_page"))
	if f.Limit <= 0 || f.Limit > 100 {
		f.Limit = 30
	}
	if page, _ := strconv.Atoi(q.Get("page")); page > 1 {
		f.Offset = (page - 1) * f.Limit
	}
	runs, total, err := s.store.Runs(f)
	if err != nil {
		errorStatus(w, err)
		return
	}
	list := []map[string]any{}
	for _, run := range runs {
		list = append(list, runJSON(run))
	}
	writeJSON(w, http.StatusOK, map[string]any{"total_count": total, "workflow_runs": list})
}

func (s *Server) handleRun(w http.ResponseWriter, r *http.Request) {
	id, err := runID(r)
	if err != nil {
		errorStatus(w, err)
		return
	}
	run, err := s.store.Run(id)
	if err != nil {
		errorStatus(w, err)
		return
	}
	jobs, err := s.store.Jobs(id)
	if err != nil {
		errorStatus(w, err)
		return
	}
	steps, err := s.store.Steps(id)
	if err != nil {
		errorStatus(w, err)
		return
	}
	out := runJSON(run)
	jl := []map[string]any{}
	for _, j := range jobs {
		sl := []map[string]any{}
		for _, st := range steps {
			if st.Job == j.Key {
				sl = append(sl, map[string]any{"number": st.Number, "name": st.Name, "status": st.Status,
					"conclusion": nullable(st.Conclusion), "started_at": timeJSON(st.Started), "completed_at": timeJSON(st.Completed)})
			}
		}
		jl = append(jl, map[string]any{"name": j.Key, "display_name": j.Name, "status": j.Status, "conclusion": nullable(j.Conclusion),
			"started_at": timeJSON(j.Started), "completed_at": timeJSON(j.Completed), "steps": sl})
	}
	out["jobs"] = jl
	// The job graph comes from the workflow as it was run.
	graph := []map[string]any{}
	if wf, errs := workflow.Load(run.WorkflowFile, []byte(run.Source), workflow.Options{Builtins: s.builtins}); len(errs) == 0 {
		for _, j := range wf.Jobs {
			needs := []string{}
			for _, n := range j.Needs {
				needs = append(needs, n.Raw)
			}
			name := j.ID
			if j.Name.Set {
				name = j.Name.Raw
			}
			graph = append(graph, map[string]any{"id": j.ID, "name": name, "needs": needs})
		}
	}
	out["graph"] = graph
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleCancel(w http.ResponseWriter, r *http.Request) {
	id, err := runID(r)
	if err == nil {
		err = s.Cancel(id)
	}
	if err != nil {
		errorStatus(w, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]any{})
}

func (s *Server) handleRerun(w http.ResponseWriter, r *http.Request) {
	id, err := runID(r)
	if err != nil {
		errorStatus(w, err)
		return
	}
	nr, err := s.Rerun(id, r.URL.Query().Get("failed") == "true")
	if err != nil {
		errorStatus(w, err)
		return
	}
	w.Header().Set("Location", fmt.Sprintf("/api/runs/%d", nr.ID))
	writeJSON(w, http.StatusCreated, runJSON(nr))
}

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
	run, err := s.Dispatch(r.PathValue("owner")+"/"+r.PathValue("repo"), r.PathValue("workflow"), body.Ref, inputs)
	if err != nil {
		errorStatus(w, err)
		return
	}
	w.Header().Set("Location", fmt.Sprintf("/api/runs/%d", run.ID))
	if body.ReturnRunDetails {
		writeJSON(w, http.StatusOK, map[string]any{"workflow_run_id": run.ID, "run_url": fmt.Sprintf("/api/runs/%d", run.ID), "html_url": fmt.Sprintf("/runs/%d", run.ID)})
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleRepos(w http.ResponseWriter, r *http.Request) {
	list := []map[string]any{}
	for _, rp := range s.repos {
		list = append(list, map[string]any{"full_name": rp.name, "branch": rp.cfg.Branch, "poll": rp.cfg.Poll.String()})
	}
	writeJSON(w, http.StatusOK, list)
}

// handleWorkflows lists each repository's workflows at its branch with
// their dispatch inputs: what the web UI builds its forms from.
func (s *Server) handleWorkflows(w http.ResponseWriter, r *http.Request) {
	list := []map[string]any{}
	for _, rp := range s.repos {
		g, err := rp.open(false)
		if err != nil {
			continue
		}
		branch := rp.branch(g)
		_, head, err := resolve(g, branch)
		if err != nil {
			continue
		}
		wfs, err := rp.workflows(g, head)
		if err != nil {
			continue
		}
		for _, wf := range wfs {
			item := map[string]any{"repository": rp.name, "ref": branch, "path": wf.Path, "file": wf.Path[strings.LastIndex(wf.Path, "/")+1:]}
			// A listing never computes matrix legs: it must stay cheap
			// whatever a repository's workflows hold.
			wl, errs := workflow.Load(wf.Path, wf.Source, workflow.Options{Builtins: s.builtins, NoMatrixLegs: true})
			if len(errs) > 0 {
				item["name"], item["error"] = wf.Path, errs.Error()
				list = append(list, item)
				continue
			}
			item["name"] = workflowName(wl)
			item["dispatch"] = wl.On.Dispatch != nil
			inputs := []map[string]any{}
			if wl.On.Dispatch != nil {
				for _, in := range wl.On.Dispatch.Inputs {
					typ := in.Type
					if typ == "" {
						typ = "string"
					}
					inputs = append(inputs, map[string]any{"name": in.Name, "description": in.Description, "type": typ,
						"required": in.Required, "default": in.Default.Raw, "options": in.Options})
				}
			}
			item["inputs"] = inputs
			list = append(list, item)
		}
	}
	writeJSON(w, http.StatusOK, list)
}

// handleLogs serves a run's log as text, or as a live Server-Sent Events
// stream of LogEvent JSON (Accept: text/event-stream or ?stream=1) that
// ends with an "end" event once the run has completed.
func (s *Server) handleLogs(w http.ResponseWriter, r *http.Request) {
	id, err := runID(r)
	if err != nil {
		errorStatus(w, err)
		return
	}
	if _, err := s.store.Run(id); err != nil {
		errorStatus(w, err)
		return
	}
	path := logPath(s.cfg.State, id)
	if r.URL.Query().Get("stream") == "" && !strings.Contains(r.Header.Get("Accept"), "text/event-stream") {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		f, err := os.Open(path)
		if errors.Is(err, os.ErrNotExist) {
			return
		}
		if err != nil {
			errorStatus(w, err)
			return
		}
		defer f.Close()
		writeText(w, f)
		return
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		apiError(w, http.StatusInternalServerError, "streaming unsupported")
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no") // reverse proxies: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	flusher.Flush()
	// Each event's id is the log file offset just past its line: a client
	// that reconnects (EventSource sends Last-Event-ID) resumes there
	// instead of receiving every line again.
	var offset int64
	buf := make([]byte, streamBuffer)
	if last := r.Header.Get("Last-Event-ID"); last != "" {
		if n, err := strconv.ParseInt(last, 10, 64); err == nil && n > 0 {
			offset = n
		}
	}
	for {
		changed := s.hub.wait(id)
		run, err := s.store.Run(id)
		if err != nil {
			return
		}
		done := run.Status == store.Completed
		if f, err := os.Open(path); err == nil {
			// An id that is not the end of a line was not ours: start over.
			if offset > 0 {
				if _, err := f.ReadAt(buf[:1], offset-1); err != nil || buf[0] != '\n' {
					offset = 0
				}
			}
			offset, _ = sendLines(w, f, offset, buf)
			f.Close()
			flusher.Flush()
		}
		if done {
			end, _ := json.Marshal(map[string]any{"status": run.Status, "conclusion": run.Conclusion, "message": run.Message})
			fmt.Fprintf(w, "event: end\ndata: %s\n\n", end)
			flusher.Flush()
			return
		}
		select {
		case <-changed:
		case <-time.After(5 * time.Second):
		case <-r.Context().Done():
			return
		}
	}
}
