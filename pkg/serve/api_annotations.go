package serve

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strconv"

	"github.com/birdflock/runner/pkg/run"
	"github.com/birdflock/runner/pkg/serve/store"
)

// ghAnnotation is an annotation in GitHub's check-run annotation shape,
// in the check-runs API and in the log's annotation events (what the run
// page lists).
type ghAnnotation struct {
	Path        string  `json:"path"`
	BlobHref    string  `json:"blob_href,omitempty"`
	StartLine   int     `json:"start_line"`
	EndLine     int     `json:"end_line"`
	StartColumn *int    `json:"start_column"`
	EndColumn   *int    `json:"end_column"`
	Level       string  `json:"annotation_level"`
	Title       *string `json:"title"`
	Message     string  `json:"message"`
	RawDetails  *string `json:"raw_details"`
}

// annotationLevels are GitHub's annotation levels of the workflow
// commands.
var annotationLevels = map[string]string{"error": "failure", "warning": "warning", "notice": "notice"}

// toGitHub is a stored annotation in GitHub's shape: one without a file
// is on .github, line 1; one without endLine ends on its line; columns
// only when given (GitHub keeps them for an annotation on one line).
func toGitHub(a *store.Annotation) ghAnnotation {
	g := ghAnnotation{Path: a.Path, StartLine: a.StartLine, EndLine: a.EndLine, Level: annotationLevels[a.Level], Message: a.Message}
	if g.Level == "" {
		g.Level = "failure"
	}
	if g.Path == "" {
		g.Path, g.StartLine, g.EndLine = ".github", 1, 1
	}
	if g.StartLine <= 0 {
		g.StartLine = 1
	}
	if g.EndLine < g.StartLine {
		g.EndLine = g.StartLine
	}
	if a.StartColumn > 0 && a.Path != "" {
		c := a.StartColumn
		g.StartColumn = &c
		e := a.EndColumn
		if e < c {
			e = c
		}
		g.EndColumn = &e
	}
	if a.Title != "" {
		t := a.Title
		g.Title = &t
	}
	return g
}

// storedAnnotation is what an engine's annotation event records.
func storedAnnotation(e run.Event) *store.Annotation {
	a := e.Annotation
	return &store.Annotation{Job: e.Job, Step: e.Step, Level: a.Level, Title: a.Title, Message: a.Message, Path: a.File,
		StartLine: a.Line, EndLine: a.EndLine, StartColumn: a.Col, EndColumn: a.EndColumn, Created: e.Time}
}

// handleAnnotations is GitHub's GET /repos/{owner}/{repo}/check-runs/{id}/annotations
// for a job (its check run): the ::error, ::warning and ::notice its steps
// wrote (what `gh run view` lists under ANNOTATIONS), with every property
// their command gave, as recorded when the command was read. An
// annotation without a file is on .github, line 1, as on GitHub.
func (s *Server) handleAnnotations(w http.ResponseWriter, r *http.Request) {
	j, run, err := s.pathJob(r, "check run id")
	if err != nil {
		errorStatus(w, err)
		return
	}
	stored, err := s.store.Annotations(run.ID, j.Key)
	if err != nil {
		errorStatus(w, err)
		return
	}
	out := []ghAnnotation{}
	for _, a := range stored {
		out = append(out, toGitHub(a))
	}
	out = append(out, s.loggedAnnotations(run, j.Key)...)
	html := s.urlsFor(r).html
	for i := range out {
		out[i].BlobHref = fmt.Sprintf("%s/%s/blob/%s/%s", html, run.Repo, run.SHA, out[i].Path)
	}
	writeJSON(w, http.StatusOK, out)
}

// annotationText splits the text of a step's ::error/::warning/::notice
// ("Error: file:line:col: title: message", as pkg/run logs it); the
// message may have more lines (%0A in the workflow command).
var annotationText = regexp.MustCompile(`(?s)^(Error|Warning|Notice): (?:([^\s:]+):(\d+)(?::(\d+))?: )?(.*)$`)

// loggedAnnotations are the annotations of job key that a run recorded
// before they were stored (migration 8): read back from their text in
// the log, which keeps a file name without spaces, the line and the
// column only.
func (s *Server) loggedAnnotations(run *store.Run, key string) []ghAnnotation {
	out := []ghAnnotation{}
	f, err := os.Open(logPath(s.cfg.State, run.ID))
	if err != nil {
		return out
	}
	defer f.Close()
	dec := json.NewDecoder(f)
	for {
		var ev LogEvent
		if dec.Decode(&ev) != nil {
			return out
		}
		if ev.Job != key || ev.Kind != "annotation" || ev.Annotation != nil {
			continue // stored ones have their properties in the event
		}
		m := annotationText.FindStringSubmatch(ev.Text)
		if m == nil {
			continue
		}
		a := &store.Annotation{Level: map[string]string{"Error": "error", "Warning": "warning", "Notice": "notice"}[m[1]], Path: m[2], Message: m[5]}
		a.StartLine, _ = strconv.Atoi(m[3])
		a.StartColumn, _ = strconv.Atoi(m[4])
		a.EndColumn = a.StartColumn
		out = append(out, toGitHub(a))
	}
}
