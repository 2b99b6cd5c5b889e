package run

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func loadTestMatchers(t *testing.T, name string) []*matcherConfig {
	t.Helper()
	ms, err := loadMatchers(filepath.Join("testdata", "matchers", name), name)
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

func writeMatchers(t *testing.T, text string) []*matcherConfig {
	t.Helper()
	p := filepath.Join(t.TempDir(), "m.json")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	ms, err := loadMatchers(p, "m.json")
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

// show is a match as "severity|file|line|column|code|message", "-" for
// a field not set.
func show(im *issueMatch) string {
	if im == nil {
		return "no match"
	}
	var f []string
	for _, i := range []int{mSeverity, mFile, mLine, mColumn, mCode, mMessage} {
		if im[i] == nil {
			f = append(f, "-")
		} else {
			f = append(f, *im[i])
		}
	}
	return strings.Join(f, "|")
}

func feed(s *stepMatchers, lines ...string) []string {
	var got []string
	for _, l := range lines {
		if im, ok := s.match(l); ok {
			got = append(got, show(im))
		}
	}
	return got
}

// setup-node's tsc matcher: severity and code from the line.
func TestMatcherTSC(t *testing.T) {
	var j jobMatchers
	j.add(loadTestMatchers(t, "tsc.json"))
	got := feed(&stepMatchers{job: &j},
		"src/index.ts(3,7): error TS2322: Type 'string' is not assignable to type 'number'.",
		"  12>lib/a.ts(10): warning TS6133: 'y' is declared but its value is never read.",
		"Found 2 errors.")
	want := []string{
		"error|src/index.ts|3|7|TS2322|Type 'string' is not assignable to type 'number'.",
		"warning|lib/a.ts|10||TS6133|'y' is declared but its value is never read.",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// A matcher's severity is the default of a match whose line gives none;
// registering an owner again replaces the matcher (case insensitive), and
// the newest matcher is tried first.
func TestMatcherDefaultSeverityAndOwnerReplaced(t *testing.T) {
	var j jobMatchers
	j.add(writeMatchers(t, `{"problemMatcher": [
	  {"owner": "lint", "severity": "warning", "pattern": [{"regexp": "^lint: (\\S+): (.*)$", "file": 1, "message": 2}]},
	  {"owner": "any", "pattern": [{"regexp": "^(\\S+): (.*)$", "file": 1, "message": 2}]}]}`))
	s := &stepMatchers{job: &j}
	if got := feed(s, "lint: a.go: too long", "b.go: broken"); strings.Join(got, ";") != "warning|a.go|-|-|-|too long;-|b.go|-|-|-|broken" {
		t.Errorf("got %q", got)
	}
	j.add(writeMatchers(t, `{"problemMatcher": [
	  {"owner": "LINT", "severity": "notice", "pattern": [{"regexp": "^lint2: (.*)$", "message": 1}]}]}`))
	if got := feed(s, "lint: a.go: too long", "lint2: hi"); strings.Join(got, ";") != "-|lint|-|-|-|a.go: too long;notice|-|-|-|-|hi" {
		t.Errorf("after replacing lint: got %q", got)
	}
	j.remove("Any")
	if got := feed(s, "b.go: broken"); len(got) != 0 {
		t.Errorf("after removing any: got %q", got)
	}
}

// A multi-line matcher without loop makes one issue per run of lines and
// forgets the first line when the next one does not follow it.
func TestMatcherMultiLineNoLoop(t *testing.T) {
	var j jobMatchers
	j.add(writeMatchers(t, `{"problemMatcher": [{"owner": "two", "pattern": [
	  {"regexp": "^FILE (\\S+)$", "file": 1},
	  {"regexp": "^  (\\d+): (.*)$", "line": 1, "message": 2}]}]}`))
	got := feed(&stepMatchers{job: &j},
		"FILE a.c", "  1: first", "  2: not looped",
		"FILE b.c", "something else", "  3: orphan",
		"FILE c.c", "  4: third")
	want := "-|a.c|1|-|-|first;-|c.c|4|-|-|third"
	if strings.Join(got, ";") != want {
		t.Errorf("got %q, want %q", strings.Join(got, ";"), want)
	}
}

// Files GitHub's runner refuses are refused, naming the file and the
// reason.
func TestMatcherFileChecks(t *testing.T) {
	for _, c := range []struct{ text, want string }{
		{`{"problemMatcher": [{"pattern": [{"regexp": "(.*)", "message": 1}]}]}`, "owner must not be empty"},
		{`{"problemMatcher": [{"owner": "a", "severity": "fatal", "pattern": [{"regexp": "(.*)", "message": 1}]}]}`, "unexpected default severity 'fatal'"},
		{`{"problemMatcher": [{"owner": "a"}]}`, "does not contain any patterns"},
		{`{"problemMatcher": [{"owner": "a", "pattern": [{"regexp": "(.*)", "message": 1, "loop": true}]}]}`, "only the last pattern in a multiline matcher may set 'loop'"},
		{`{"problemMatcher": [{"owner": "a", "pattern": [{"regexp": "(.*)", "file": 1}, {"regexp": "(.*)", "line": 1, "loop": true}]}]}`, "the loop pattern must set 'message'"},
		{`{"problemMatcher": [{"owner": "a", "pattern": [{"regexp": "(.*)", "message": 2}]}]}`, "the property 'message' is set to 2, which is out of range"},
		{`{"problemMatcher": [{"owner": "a", "pattern": [{"regexp": "(.*)", "message": 1}, {"regexp": "(.*)", "message": 1}]}]}`, "the property 'message' is set twice"},
		{`{"problemMatcher": [{"owner": "a", "pattern": [{"regexp": "(?<=x)(.*)", "message": 1}]}]}`, "pattern 1: error parsing regexp"},
		{`{"problemMatcher": [{"owner": "a", "pattern": [{"regexp": "(.*)", "message": 1}]}, {"owner": "A", "pattern": [{"regexp": "(.*)", "message": 1}]}]}`, "duplicate owner name 'A'"},
		{"{\n \"problemMatcher\": [{\"owner\": 3}]}", "m.json:2:31: json: cannot unmarshal number"},
	} {
		p := filepath.Join(t.TempDir(), "m.json")
		if err := os.WriteFile(p, []byte(c.text), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := loadMatchers(p, "m.json")
		if err == nil || !strings.HasPrefix(err.Error(), "m.json") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one naming m.json with %q", c.text, err, c.want)
		}
	}
}
