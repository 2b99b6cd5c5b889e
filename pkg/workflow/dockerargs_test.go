package workflow

import (
	"reflect"
	"testing"
)

// with.args is split as .NET's Process splits the runner's `docker run`
// command line (Windows rules), not as a POSIX shell would.
func TestSplitArgs(t *testing.T) {
	for in, want := range map[string][]string{
		``:                         nil,
		`  one   two `:             {"one", "two"},
		`-c "echo hi there"`:       {"-c", "echo hi there"},
		`'single quotes' stay`:     {"'single", "quotes'", "stay"},
		`a\b "c\"d" e\\"f g"`:      {`a\b`, `c"d`, `e\f g`},
		`"in ""quotes"" here" x`:   {`in "quotes" here`, "x"},
		"tab\tsep\nnewline kept":   {"tab", "sep\nnewline", "kept"},
		`""`:                       {""},
		`trailing\\`:               {`trailing\\`},
		`"unterminated quote rest`: {"unterminated quote rest"},
	} {
		if got := SplitArgs(in); !reflect.DeepEqual(got, want) {
			t.Errorf("SplitArgs(%q) = %q, want %q", in, got, want)
		}
	}
}
