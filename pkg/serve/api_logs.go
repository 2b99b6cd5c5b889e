package serve

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/birdflock/runner/pkg/serve/store"
	"github.com/birdflock/runner/pkg/workflow"
)

// Run logs, deletion and force-cancel, workflows' enable/disable on
// GitHub's paths.
func (s *Server) githubRunRoutes(mux *http.ServeMux, prefix string) {
	mux.HandleFunc("GET "+prefix+"/runs/{id}/attempts/{attempt}/logs", s.read(s.handleRunLogsZip))
	mux.HandleFunc("DELETE "+prefix+"/runs/{id}/logs", s.auth(s.handleDeleteLogs))
	mux.HandleFunc("DELETE "+prefix+"/runs/{id}", s.auth(s.handleDeleteRun))
	mux.HandleFunc("POST "+prefix+"/runs/{id}/force-cancel", s.auth(s.handleCancel))
	mux.HandleFunc("PUT "+prefix+"/workflows/{workflow}/enable", s.auth(s.handleWorkflowState(false)))
	mux.HandleFunc("PUT "+prefix+"/workflows/{workflow}/disable", s.auth(s.handleWorkflowState(true)))
}

// handleRunLogsZip answers GitHub's way: a redirect to a zip of the run
// attempt's logs (?zip=1 here): one file per job, <n>_<job name>.txt, and a
// folder per job with one file per step, <job name>/<n>_<step name>.txt,
// every line after its time in GitHub's format.
func (s *Server) handleRunLogsZip(w http.ResponseWriter, r *http.Request) {
	run, err := s.runOf(r)
	if err != nil {
		errorStatus(w, err)
		return
	}
	if r.URL.Query().Get("zip") == "" {
		http.Redirect(w, r, s.urlsFor(r).html+r.URL.Path+"?zip=1", http.StatusFound)
		return
	}
	jobs, err := s.store.Jobs(run.ID)
	if err != nil {
		errorStatus(w, err)
		return
	}
	s.inWorkflowOrder(run, jobs)
	f, err := os.Open(logPath(s.cfg.State, run.ID))
	if errors.Is(err, os.ErrNotExist) {
		apiError(w, http.StatusGone, fmt.Sprintf("the logs of run %d attempt %d are deleted", run.RunID, run.Attempt))
		return
	}
	if err != nil {
		errorStatus(w, err)
		return
	}
	defer f.Close()
	var buf bytes.Buffer
	if err := writeLogsZip(&buf, f, jobs); err != nil {
		errorStatus(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="logs_%d.zip"`, run.RunID))
	w.Write(buf.Bytes())
}

// inWorkflowOrder sorts the jobs of run as GitHub lists them: in the
// order of the workflow's jobs, a matrix job's legs in the order of its
// expansion (not the order they started in).
func (s *Server) inWorkflowOrder(run *store.Run, jobs []*store.Job) {
	order := map[string]int{}
	if wf, errs := workflow.Load(run.WorkflowFile, []byte(run.Source), workflow.Options{Builtins: s.builtins, NoMatrixLegs: true}); len(errs) == 0 {
		for i, j := range wf.Jobs {
			order[j.ID] = i
		}
	}
	sort.SliceStable(jobs, func(a, b int) bool {
		ka, _, _ := strings.Cut(jobs[a].Key, " (")
		kb, _, _ := strings.Cut(jobs[b].Key, " (")
		if order[ka] != order[kb] {
			return order[ka] < order[kb]
		}
		return jobs[a].Leg < jobs[b].Leg
	})
}

// logFileName makes a job or step name a file name, as GitHub does: path
// separators and characters file systems refuse are left out (a job "a /
// b" is the folder "a  b"; gh looks a job's files up by its name without
// `/` and `:`).
func logFileName(s string) string {
	return strings.Map(func(r rune) rune {
		if strings.ContainsRune(`/\:*?"<>|`, r) || r < ' ' {
			return -1
		}
		return r
	}, s)
}

// writeLogsZip writes the zip of the jobs' logs read from log, a run's
// JSON lines log file.
func writeLogsZip(out io.Writer, log io.Reader, jobs []*store.Job) error {
	type stepLog struct {
		name string
		buf  bytes.Buffer
	}
	type jobLog struct {
		buf   bytes.Buffer
		steps []*stepLog
	}
	byKey := map[string]*jobLog{}
	for _, j := range jobs {
		byKey[j.Key] = &jobLog{}
	}
	dec := json.NewDecoder(log)
	for {
		var ev LogEvent
		if err := dec.Decode(&ev); err == io.EOF {
			break
		} else if err != nil {
			return err
		}
		jl := byKey[ev.Job]
		if jl == nil {
			continue
		}
		if ev.Kind == "start" && ev.Scope == "step" {
			jl.steps = append(jl.steps, &stepLog{name: ev.Step})
		}
		ts := time.UnixMilli(ev.T).UTC().Format(logTime)
		for _, l := range jobLogLines(ev) {
			fmt.Fprintf(&jl.buf, "%s %s\n", ts, l)
			if n := len(jl.steps); n > 0 && ev.Scope != "job" {
				fmt.Fprintf(&jl.steps[n-1].buf, "%s %s\n", ts, l)
			}
		}
	}
	zw := zip.NewWriter(out)
	for i, j := range jobs {
		jl := byKey[j.Key]
		name := logFileName(j.Name)
		files := []struct {
			path string
			data []byte
		}{{fmt.Sprintf("%d_%s.txt", i+1, name), jl.buf.Bytes()}}
		for n, st := range jl.steps {
			files = append(files, struct {
				path string
				data []byte
			}{fmt.Sprintf("%s/%d_%s.txt", name, n+1, logFileName(st.name)), st.buf.Bytes()})
		}
		for _, f := range files {
			fw, err := zw.CreateHeader(&zip.FileHeader{Name: f.path, Method: zip.Deflate, Modified: j.Completed})
			if err != nil {
				return err
			}
			if _, err := fw.Write(f.data); err != nil {
				return err
			}
		}
	}
	return zw.Close()
}

// handleDeleteLogs deletes the logs of every attempt of a completed run.
func (s *Server) handleDeleteLogs(w http.ResponseWriter, r *http.Request) {
	attempts, err := s.completedAttempts(r)
	if err != nil {
		errorStatus(w, err)
		return
	}
	for _, a := range attempts {
		if err := os.Remove(logPath(s.cfg.State, a.ID)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errorStatus(w, err)
			return
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

// handleDeleteRun deletes a completed run: every attempt's record, log,
// artifacts and run directory.
func (s *Server) handleDeleteRun(w http.ResponseWriter, r *http.Request) {
	attempts, err := s.completedAttempts(r)
	if err != nil {
		errorStatus(w, err)
		return
	}
	var arts []*store.Artifact
	if len(attempts) > 0 {
		arts, _, err = s.store.Artifacts(store.ArtifactFilter{Repo: attempts[0].Repo, RunID: attempts[0].RunID})
		if err != nil {
			errorStatus(w, err)
			return
		}
	}
	if _, err := s.store.DeleteRun(attempts[0].RunID); err != nil {
		errorStatus(w, err)
		return
	}
	for _, a := range arts {
		os.RemoveAll(a.Dir)
	}
	for _, a := range attempts {
		os.Remove(logPath(s.cfg.State, a.ID))
		// The attempt's run directory (workspace, event, artifacts).
		if le, ok := s.exec.(*LocalExecutor); ok {
			if err := os.RemoveAll(filepath.Join(le.StateDir, "runs", strconv.FormatInt(a.ID, 10))); err != nil {
				s.logf("run %d: %v", a.ID, err)
			}
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

// completedAttempts are the attempts of the run a request names; a run
// still queued or in progress is refused with 403 (cancel it first).
func (s *Server) completedAttempts(r *http.Request) ([]*store.Run, error) {
	run, err := s.runOf(r)
	if err != nil {
		return nil, err
	}
	if run.Status != store.Completed {
		return nil, fmt.Errorf("%w: run %d is %s; cancel it first", ErrForbidden, run.RunID, run.Status)
	}
	return s.store.Attempts(run.RunID)
}

// handleWorkflowState enables or disables a workflow: a disabled one
// refuses dispatches and is not run by pushes.
func (s *Server) handleWorkflowState(disabled bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rp := s.repoOf(w, r)
		if rp == nil {
			return
		}
		wf, err := s.findWorkflow(rp, r.PathValue("workflow"))
		if err == nil {
			err = s.store.SetWorkflowDisabled(wf.ID, disabled)
		}
		if err != nil {
			errorStatus(w, err)
			return
		}
		s.forgetWorkflow(wf.Repo, wf.Path)
		w.WriteHeader(http.StatusNoContent)
	}
}

// workflowDisabled tells whether the workflow at path of repo is disabled.
func (s *Server) workflowDisabled(repo, path string) bool {
	wf, err := s.workflowOf(repo, path)
	return err == nil && wf.Disabled
}
