package validate

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Status is the outcome for one document.
type Status string

// Document outcomes.
const (
	StatusValid   Status = "valid"
	StatusInvalid Status = "invalid"
	StatusSkipped Status = "skipped" // in SkipKinds, or no schema with IgnoreMissingSchemas
)

// Resource is one non-empty YAML document of a file.
type Resource struct {
	File       string `json:"file"`
	Document   int    `json:"document"` // 1-based position in the file's YAML stream
	Line       int    `json:"line"`     // where the document's content starts
	APIVersion string `json:"apiVersion,omitempty"`
	Kind       string `json:"kind,omitempty"`
	Name       string `json:"name,omitempty"`
	Namespace  string `json:"namespace,omitempty"`
	Status     Status `json:"status"`
}

// Problem is one thing wrong with the input. Document is 0 for problems of
// the whole file; Line and Column are 0 where no place is known.
type Problem struct {
	File     string `json:"file"`
	Document int    `json:"document,omitempty"`
	Kind     string `json:"kind,omitempty"`
	Name     string `json:"name,omitempty"`
	Path     string `json:"path,omitempty"` // JSON pointer, e.g. /spec/replicas
	Line     int    `json:"line,omitempty"`
	Column   int    `json:"column,omitempty"`
	Message  string `json:"message"`
}

// String renders the problem as FILE:LINE:COL: document N (Kind name): PATH: MESSAGE.
func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		b.WriteString(":" + strconv.Itoa(p.Line))
		if p.Column > 0 {
			b.WriteString(":" + strconv.Itoa(p.Column))
		}
	}
	b.WriteString(": ")
	if p.Document > 0 {
		fmt.Fprintf(&b, "document %d", p.Document)
		if p.Kind != "" {
			b.WriteString(" (" + p.Kind)
			if p.Name != "" {
				b.WriteString(" " + p.Name)
			}
			b.WriteString(")")
		}
		b.WriteString(": ")
	}
	if p.Path != "" {
		b.WriteString(p.Path + ": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// Result gathers the outcome of one or more files.
type Result struct {
	Files     int        `json:"files"`
	Resources []Resource `json:"resources"`
	Problems  []Problem  `json:"problems"`
}

// Valid reports whether nothing was wrong.
func (r Result) Valid() bool { return len(r.Problems) == 0 }

// Add appends another result.
func (r *Result) Add(o Result) {
	r.Files += o.Files
	r.Resources = append(r.Resources, o.Resources...)
	r.Problems = append(r.Problems, o.Problems...)
}

// Summary counts documents by status.
type Summary struct {
	Files    int `json:"files"`
	Valid    int `json:"valid"`
	Invalid  int `json:"invalid"`
	Skipped  int `json:"skipped"`
	Problems int `json:"problems"`
}

// Summary counts the result's documents by status.
func (r Result) Summary() Summary {
	s := Summary{Files: r.Files, Problems: len(r.Problems)}
	for _, res := range r.Resources {
		switch res.Status {
		case StatusValid:
			s.Valid++
		case StatusInvalid:
			s.Invalid++
		case StatusSkipped:
			s.Skipped++
		}
	}
	return s
}

// WriteText prints one line per problem and a summary line.
func (r Result) WriteText(w io.Writer) error {
	for _, p := range r.Problems {
		if _, err := fmt.Fprintln(w, p.String()); err != nil {
			return err
		}
	}
	s := r.Summary()
	_, err := fmt.Fprintf(w, "%s in %s: %d valid, %d invalid, %d skipped; %s\n",
		plural(s.Valid+s.Invalid+s.Skipped, "document"), plural(s.Files, "file"),
		s.Valid, s.Invalid, s.Skipped, plural(s.Problems, "problem"))
	return err
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// WriteJSON prints the result as one JSON object with a summary.
func (r Result) WriteJSON(w io.Writer) error {
	out := struct {
		Result
		Summary Summary `json:"summary"`
	}{r, r.Summary()}
	if out.Resources == nil {
		out.Resources = []Resource{}
	}
	if out.Problems == nil {
		out.Problems = []Problem{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
