package expr

import "fmt"

// ErrorKind tells in which phase an expression failed.
type ErrorKind string

// The phases, named as in GitHub's conformance tests.
const (
	KindLexing     ErrorKind = "lexing"
	KindParsing    ErrorKind = "parsing"
	KindEvaluation ErrorKind = "evaluation"
)

// Error is a lexing, parsing or evaluation error. Offset is a byte offset
// into the source (the expression, or the template for ParseTemplate), so
// callers can turn it into file:line:col.
type Error struct {
	Kind   ErrorKind
	Offset int
	Msg    string
}

func (e *Error) Error() string { return string(e.Kind) + ": " + e.Msg }

func errorf(kind ErrorKind, off int, format string, args ...any) *Error {
	return &Error{Kind: kind, Offset: off, Msg: fmt.Sprintf(format, args...)}
}

// shift moves the error's offset by base (used when an expression sits
// inside a larger text) and returns it.
func shift(err error, base int) error {
	if e, ok := err.(*Error); ok {
		c := *e
		c.Offset += base
		return &c
	}
	return err
}
