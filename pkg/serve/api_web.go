package serve

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/util"

	"github.com/birdflock/runner/pkg/serve/store"
	"github.com/birdflock/runner/pkg/workflow"
)

// The web UI's own calls beside /api/runs and /api/runs/{id}: a run's
// attempts, their logs and step summaries.
func (s *Server) webRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/runs/{id}/attempts/{attempt}", s.read(s.handleRun))
	mux.HandleFunc("GET /api/runs/{id}/attempts/{attempt}/logs", s.read(s.handleLogs))
	mux.HandleFunc("GET /api/runs/{id}/summary", s.read(s.handleSummary))
	mux.HandleFunc("GET /api/runs/{id}/attempts/{attempt}/summary", s.read(s.handleSummary))
}

// cachedStepPrefix begins the name of the one step of a job restored
// from the job cache (sink.cachedStep).
const cachedStepPrefix = "Restored from the job cache"

// webRun adds to a run attempt's JSON what the run page shows: its jobs in
// workflow order, each with every step of the workflow (those not started
// yet as pending), jobs not started yet, the job graph, the run's
// attempts and what the viewer may do with it (can).
func (s *Server) webRun(r *http.Request, u urls, run *store.Run, out map[string]any) error {
	jobs, err := s.store.Jobs(run.ID)
	if err != nil {
		return err
	}
	s.inWorkflowOrder(run, jobs)
	steps, err := s.store.Steps(run.ID)
	if err != nil {
		return err
	}
	type stepKey struct {
		job string
		n   int
	}
	byNumber := map[stepKey]*store.Step{}
	for _, st := range steps {
		byNumber[stepKey{st.Job, st.Number}] = st
	}
	labels := runsOn(run.WorkflowFile, run.Source, s.builtins)
	wf, errs := workflow.Load(run.WorkflowFile, []byte(run.Source), workflow.Options{Builtins: s.builtins, NoMatrixLegs: true})
	planned := map[string][]string{} // job id → its steps' names
	graph := []map[string]any{}
	if len(errs) == 0 {
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
			for _, st := range j.Steps {
				planned[j.ID] = append(planned[j.ID], st.DisplayName())
			}
		}
	}
	seen := map[string]bool{}
	list := []map[string]any{}
	for _, j := range jobs {
		o := s.jobJSON(u, run, j, steps, labels)
		o["display_name"], o["name"] = o["name"], j.Key
		id, _, _ := strings.Cut(j.Key, " (")
		seen[id] = true
		sl := o["steps"].([]map[string]any)
		// jobJSON's cached is {run, key} for a job restored from the job
		// cache, else null; older records mark it by its step's name only.
		cached := o["cached"] != nil
		for _, st := range sl {
			cached = cached || strings.HasPrefix(st["name"].(string), cachedStepPrefix)
			if ss := byNumber[stepKey{j.Key, st["number"].(int)}]; ss != nil {
				st["duration_ms"] = msBetween(ss.Started, ss.Completed)
			}
		}
		o["duration_ms"] = msBetween(j.Started, j.Completed)
		if cached && o["cached"] == nil {
			o["cached"] = map[string]any{"run": nil, "key": nil}
		}
		switch {
		case j.Status != store.Completed && run.Status != store.Completed:
			o["steps"] = withNotRun(planned[id], sl, false)
		case len(sl) > 0 && !cached:
			// Steps the job never reached (after a failure, a cancel)
			// show as GitHub shows them: skipped.
			o["steps"] = withNotRun(planned[id], sl, true)
		}
		list = append(list, o)
	}
	// Jobs that have not started: their steps as the workflow lists them.
	if run.Status != store.Completed {
		for _, g := range graph {
			id := g["id"].(string)
			if seen[id] {
				continue
			}
			list = append(list, map[string]any{"id": nil, "name": id, "display_name": g["name"], "status": "pending",
				"conclusion": nil, "started_at": nil, "completed_at": nil, "cached": nil,
				"steps": notRun(planned[id], nil, false)})
		}
	}
	out["jobs"], out["graph"] = list, graph
	attempts, err := s.store.Attempts(run.RunID)
	if err != nil {
		return err
	}
	al := []map[string]any{}
	for _, a := range attempts {
		al = append(al, map[string]any{"attempt": a.Attempt, "status": a.Status, "conclusion": nullable(a.Conclusion), "created_at": timeJSON(a.Created)})
	}
	out["attempts"] = al
	// What the viewer may do: the token is needed for every action, and
	// the run's state must allow it (as the calls themselves check).
	latest := attempts[0].ID == run.ID
	auth := s.authorized(r)
	done := run.Status == store.Completed
	out["can"] = map[string]bool{
		"cancel":       auth && latest && !done,
		"rerun":        auth && latest && done,
		"rerun_failed": auth && latest && done && run.Conclusion != "success",
	}
	return nil
}

// msBetween is the milliseconds from start to end (what the JSON's
// second-resolution times cannot tell); nil until both are known.
func msBetween(start, end time.Time) any {
	if start.IsZero() || end.IsZero() || end.Before(start) {
		return nil
	}
	return end.Sub(start).Milliseconds()
}

// withNotRun is a job's steps in workflow order: those that started
// (started, in order), the planned steps the job went past without
// starting them (skipped by their if:) as skipped between them, and
// notRun's after them. When a started step matches no planned name (an
// evaluated name), where the others go is not known: they only follow.
func withNotRun(planned []string, started []map[string]any, skipped bool) []map[string]any {
	out := []map[string]any{}
	at := 0
	for _, st := range started {
		k := -1
		for i := at; i < len(planned); i++ {
			if planned[i] == st["name"] {
				k = i
				break
			}
		}
		if k < 0 {
			return append(started, notRun(planned, started, skipped)...)
		}
		for _, name := range planned[at:k] {
			out = append(out, map[string]any{"number": nil, "name": name, "status": store.Completed, "conclusion": "skipped",
				"started_at": nil, "completed_at": nil})
		}
		out = append(out, st)
		at = k + 1
	}
	return append(out, notRun(planned, started, skipped)...)
}

// notRun are the steps of planned (a job's steps' names, in order) after
// those that started (started), as pending, or as skipped when the job
// has ended: started steps are matched by name in order; a step whose
// name was evaluated (an expression) matches none and adds nothing.
func notRun(planned []string, started []map[string]any, skipped bool) []map[string]any {
	at := 0
	for _, st := range started {
		for i := at; i < len(planned); i++ {
			if planned[i] == st["name"] {
				at = i + 1
				break
			}
		}
	}
	status, conclusion := "pending", any(nil)
	if skipped {
		status, conclusion = store.Completed, "skipped"
	}
	out := []map[string]any{}
	for i := at; i < len(planned); i++ {
		out = append(out, map[string]any{"number": nil, "name": planned[i], "status": status, "conclusion": conclusion,
			"started_at": nil, "completed_at": nil})
	}
	return out
}

// runDir is the run directory of attempt id ("" when the executor keeps
// none on this machine).
func (s *Server) runDir(id int64) string {
	if le, ok := s.exec.(*LocalExecutor); ok {
		return filepath.Join(le.StateDir, "runs", strconv.FormatInt(id, 10))
	}
	return ""
}

// summaryMarkdown renders the steps' $GITHUB_STEP_SUMMARY: GitHub Flavored
// Markdown (tables, strikethrough, task lists, autolinks) with raw HTML
// left out and dangerous link targets (javascript:, …) dropped, goldmark's
// safe default. It has no HTML block parser: the summary is every step's
// part one after the other, and an HTML block one step left open (a <div>
// with no blank line after it, a <script> never closed) would otherwise
// swallow the parts after it, which are then lost with the raw HTML. Such
// lines are paragraphs instead, their tags left out as inline raw HTML.
var summaryMarkdown = goldmark.New(goldmark.WithParser(summaryParser()), goldmark.WithExtensions(extension.GFM))

// summaryParser is goldmark's default parser without HTMLBlockParser.
func summaryParser() parser.Parser {
	html := reflect.TypeOf(parser.NewHTMLBlockParser())
	var blocks []util.PrioritizedValue
	for _, b := range parser.DefaultBlockParsers() {
		if reflect.TypeOf(b.Value) != html {
			blocks = append(blocks, b)
		}
	}
	return parser.NewParser(parser.WithBlockParsers(blocks...), parser.WithInlineParsers(parser.DefaultInlineParsers()...),
		parser.WithParagraphTransformers(parser.DefaultParagraphTransformers()...))
}

// maxSummary bounds the summary rendered (GitHub's limit per step is
// 1 MiB).
const maxSummary = 4 << 20

// handleSummary answers the attempt's job summaries, what its steps wrote
// to $GITHUB_STEP_SUMMARY, as sanitized HTML (text/html; empty when there
// is none). The UI inserts it as it is: the server is what sanitizes.
func (s *Server) handleSummary(w http.ResponseWriter, r *http.Request) {
	run, err := s.runOf(r)
	if err != nil {
		errorStatus(w, err)
		return
	}
	var src []byte
	if dir := s.runDir(run.ID); dir != "" {
		f, err := os.Open(filepath.Join(dir, "summary.md"))
		if err == nil {
			defer f.Close()
			if src, err = io.ReadAll(io.LimitReader(f, maxSummary)); err != nil {
				errorStatus(w, err)
				return
			}
		} else if !errors.Is(err, os.ErrNotExist) {
			errorStatus(w, err)
			return
		}
	}
	var html bytes.Buffer
	if err := summaryMarkdown.Convert(src, &html); err != nil {
		errorStatus(w, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(html.Bytes())
}
