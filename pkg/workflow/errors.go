package workflow

import (
	"fmt"
	"sort"
	"strings"
)

// Pos is a 1-based line and column in a workflow file.
type Pos struct {
	Line, Col int
}

// Error is one problem in a workflow, with its place and kind.
type Error struct {
	File string
	Pos
	Kind    string // e.g. "syntax", "unknown-key", "needs", "expression"
	Message string
	// Warning marks a risk in a valid workflow (see Warnings), not a
	// mistake; it is printed with "warning: " before the message.
	Warning bool
}

func (e *Error) Error() string {
	if e.Warning {
		return fmt.Sprintf("%s:%d:%d: warning: %s [%s]", e.File, e.Line, e.Col, e.Message, e.Kind)
	}
	return fmt.Sprintf("%s:%d:%d: %s [%s]", e.File, e.Line, e.Col, e.Message, e.Kind)
}

// Errors is every problem found in one workflow, sorted by position.
type Errors []*Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

func (es Errors) sort() {
	sort.SliceStable(es, func(i, j int) bool {
		if es[i].Line != es[j].Line {
			return es[i].Line < es[j].Line
		}
		return es[i].Col < es[j].Col
	})
}
