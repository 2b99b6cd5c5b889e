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
	// The web UI's own API: runs by id over all repositories.
	mux.HandleFunc("GET /api/runs", s.read(s.handleRuns))
	mux.HandleFunc("GET /api/runs/{id}", s.read(s.handleRun))
	mux.HandleFunc("GET /api/runs/{id}/logs", s.read(s.handleLogs))
	mux.HandleFunc("POST /api/runs/{id}/cancel", s.auth(s.handleCancel))
	mux.HandleFunc("POST /api/runs/{id}/rerun", s.auth(s.handleRerun))
	s.webRoutes(mux)
	// GitHub's Actions REST API, also under GitHub Enterprise's prefix.
	for _, prefix := range []string{"/repos/{owner}/{repo}/actions", "/api/v3/repos/{owner}/{repo}/actions"} {
		s.githubRoutes(mux, prefix)
		repo := strings.TrimSuffix(prefix, "/actions")
		mux.HandleFunc("GET "+repo+"/contents/{path...}", s.read(s.handleContents))
		mux.HandleFunc("GET "+repo+"/check-runs/{job}/annotations", s.read(s.handleAnnotations))
	}
	// GitHub's GraphQL API, the queries gh sends (graphql.go).
	gql := s.graphqlHandler()
	mux.HandleFunc("POST /api/graphql", s.read(gql.ServeHTTP))
	mux.HandleFunc("POST /graphql", s.read(gql.ServeHTTP))
	mux.HandleFunc("POST /webhooks/github", s.handleWebhook)
	mux.Handle("GET /", s.checkHost(web.Handler()))
	return secure(mux)
}

// apiError writes GitHub's error shape.
func apiError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]string{"message": msg, "documentation_url": "https://docs.github.com/rest/actions"})
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
			// public-read opens reads to requests without credentials;
			// a wrong token is refused, as GitHub does.
			if !s.cfg.PublicRead || r.Header.Get("Authorization") != "" {
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
	attempt, err := s.runOf(r)
	if err != nil {
		errorStatus(w, err)
		return
	}
	id := attempt.ID
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
