package expr

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func testEnv() *Env {
	return &Env{
		Contexts: map[string]any{
			"github": map[string]any{
				"event_name": "push",
				"ref":        "refs/heads/main",
				"run_number": 7,
				"event":      map[string]any{"commits": []any{map[string]any{"id": "a1"}, map[string]any{"id": "b2"}}},
			},
			"matrix": map[string]string{"os": "linux", "go": "1.26"},
			"steps":  map[string]any{"build": map[string]any{"outcome": "success", "outputs": map[string]any{"n": "3"}}},
			"labels": []string{"bug", "ci"},
		},
		Funcs: StatusFuncs(false, false),
	}
}

func TestTemplate(t *testing.T) {
	tests := []struct {
		src     string
		literal bool
		want    any
		str     string
	}{
		{"plain text", true, "plain text", "plain text"},
		{"", true, "", ""},
		{"${{ github.run_number }}", false, 7.0, "7"},
		{"  ${{ github.run_number }} \n", false, 7.0, "  7 \n"},
		{"run ${{ github.run_number }}", false, "run 7", "run 7"},
		{"${{ matrix.os }}-${{ matrix.go }}", false, "linux-1.26", "linux-1.26"},
		{"${{ github.event }}", false, nil, "Object"},
		{"x${{ labels }}", false, "xArray", "xArray"},
		{"${{ '}}' }}", false, "}}", "}}"},
		{"${{ 'it''s }}' }}!", false, "it's }}!", "it's }}!"},
		{"${{ null }}", false, nil, ""},
		{"${{ 1.50 }} and ${{ true }}", false, "1.5 and true", "1.5 and true"},
		{"${{ toJSON(labels) }}", false, "[\n  \"bug\",\n  \"ci\"\n]", "[\n  \"bug\",\n  \"ci\"\n]"},
	}
	env := testEnv()
	for _, tt := range tests {
		tpl, err := ParseTemplate(tt.src)
		if err != nil {
			t.Errorf("ParseTemplate(%q): %v", tt.src, err)
			continue
		}
		if tpl.IsLiteral() != tt.literal {
			t.Errorf("%q: IsLiteral = %v", tt.src, !tt.literal)
		}
		got, err := tpl.Eval(env)
		if err != nil {
			t.Errorf("%q: Eval: %v", tt.src, err)
			continue
		}
		if tt.want == nil && tt.src == "${{ github.event }}" {
			if _, ok := got.(*Object); !ok {
				t.Errorf("%q: got %T, want *Object", tt.src, got)
			}
		} else if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%q: Eval = %#v, want %#v", tt.src, got, tt.want)
		}
		s, err := tpl.EvalString(env)
		if err != nil || s != tt.str {
			t.Errorf("%q: EvalString = %q, %v; want %q", tt.src, s, err, tt.str)
		}
	}
}

func TestTemplateErrors(t *testing.T) {
	tests := []struct {
		src    string
		kind   ErrorKind
		offset int
	}{
		{"abc ${{ github.sha", KindParsing, 4},
		{"abc ${{ '}} }}", KindParsing, 4},
		{"a ${{ }} b", KindParsing, 2},
		{"x: ${{ 1 = 2 }}", KindLexing, 9},
		{"x: ${{ foo( }}", KindParsing, 10}, // at the last token before the end, as GitHub reports
		{"ok ${{ 1 }} then ${{ nosuch() }}", KindParsing, 21},
	}
	for _, tt := range tests {
		_, err := ParseTemplate(tt.src)
		var e *Error
		if !errors.As(err, &e) {
			t.Errorf("%q: err = %v, want *Error", tt.src, err)
			continue
		}
		if e.Kind != tt.kind || e.Offset != tt.offset {
			t.Errorf("%q: got %s at %d, want %s at %d (%v)", tt.src, e.Kind, e.Offset, tt.kind, tt.offset, e)
		}
	}
}

func TestExprsOffsets(t *testing.T) {
	tpl, err := ParseTemplate("a ${{ github.sha }} b ${{ matrix.os }}")
	if err != nil {
		t.Fatal(err)
	}
	var offs []int
	for _, n := range tpl.Exprs() {
		offs = append(offs, n.Offset())
	}
	if !reflect.DeepEqual(offs, []int{6, 26}) {
		t.Errorf("offsets = %v, want [6 26]", offs)
	}
}

func TestCondition(t *testing.T) {
	tests := []struct {
		src       string
		failed    bool
		cancelled bool
		want      bool
		printed   string
	}{
		{"github.event_name == 'push'", false, false, true, "success() && (github.event_name == 'push')"},
		{"github.event_name == 'push'", true, false, false, ""},
		{"${{ github.event_name == 'PUSH' }}", false, false, true, "success() && (github.event_name == 'PUSH')"},
		// Text around the ${{ }}, whitespace too, makes a string, as on
		// GitHub: non-empty, so true whenever success() is.
		{"  ${{ matrix.os != 'linux' }}  ", false, false, true, "success() && (format('  {0}  ', matrix.os != 'linux'))"},
		{"${{ false }}\n", false, false, true, ""},
		{"${{ false }} ", true, false, false, ""},
		{"${{ true }} && false", false, false, true, ""},
		{"x {${{ false }}}", false, false, true, "success() && (format('x {{{0}}}', false))"},
		{"${{ false }}${{ false }}", false, false, true, ""},
		{"always()", true, false, true, "always()"},
		{"${{ failure() }}", true, false, true, "failure()"},
		{"failure() && matrix.os == 'linux'", false, false, false, ""},
		{"cancelled()", false, true, true, ""},
		{"success() || github.ref == 'x'", true, false, false, ""},
		{"", false, false, true, "success()"},
		{"", true, false, false, ""},
		{"steps.build.outputs.n", false, false, true, ""},
		{"0", false, false, false, ""},
	}
	for _, tt := range tests {
		n, err := Condition(tt.src)
		if err != nil {
			t.Errorf("Condition(%q): %v", tt.src, err)
			continue
		}
		if tt.printed != "" && n.String() != tt.printed {
			t.Errorf("Condition(%q) = %s, want %s", tt.src, n, tt.printed)
		}
		env := testEnv()
		env.Funcs = StatusFuncs(tt.failed, tt.cancelled)
		v, err := Eval(n, env)
		if err != nil {
			t.Errorf("%q: %v", tt.src, err)
			continue
		}
		if Truthy(v) != tt.want {
			t.Errorf("%q (failed=%v cancelled=%v) = %v, want %v", tt.src, tt.failed, tt.cancelled, v, tt.want)
		}
	}
	for _, bad := range []string{"${{ true", "1 ==", "x ${{ 1 == }}"} {
		if _, err := Condition(bad); err == nil {
			t.Errorf("Condition(%q): want error", bad)
		}
	}
}

func TestRefs(t *testing.T) {
	tests := []struct {
		src      string
		contexts []string
		funcs    []string
	}{
		{"github.sha", []string{"github"}, nil},
		{"GitHub.sha == github.ref && Matrix.os", []string{"github", "matrix"}, nil},
		{"contains(toJSON(steps.*.outcome), 'fail') || always()", []string{"steps"}, []string{"contains", "tojson", "always"}},
		{"env[format('{0}', inputs.name)]", []string{"env", "inputs"}, []string{"format"}},
		{"!(HashFiles('x') == '')", nil, []string{"hashfiles"}},
		{"1", nil, nil},
	}
	for _, tt := range tests {
		n, err := Parse(tt.src)
		if err != nil {
			t.Fatalf("%q: %v", tt.src, err)
		}
		c, f := Refs(n)
		if !reflect.DeepEqual(c, tt.contexts) || !reflect.DeepEqual(f, tt.funcs) {
			t.Errorf("Refs(%q) = %v %v, want %v %v", tt.src, c, f, tt.contexts, tt.funcs)
		}
	}
}

func TestStringCoercion(t *testing.T) {
	tests := []struct {
		in   any
		want string
	}{
		{nil, ""},
		{true, "true"},
		{false, "false"},
		{1.0, "1"},
		{1.5, "1.5"},
		{-0.0, "0"},
		{3, "3"},
		{int64(-42), "-42"},
		{0.1 + 0.2, "0.3"},
		{1e21, "1e+21"},
		{1e-7, "1e-7"},
		{123456789012.0, "123456789012"},
		{math.NaN(), "NaN"},
		{math.Inf(-1), "-Infinity"},
		{"s", "s"},
		{[]any{1}, "Array"},
		{[]string{"a"}, "Array"},
		{map[string]any{}, "Object"},
		{NewObject(), "Object"},
	}
	for _, tt := range tests {
		if got := String(tt.in); got != tt.want {
			t.Errorf("String(%#v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestKindTruthyNormalize(t *testing.T) {
	tests := []struct {
		in     any
		kind   string
		truthy bool
	}{
		{nil, "Null", false},
		{false, "Boolean", false},
		{0, "Number", false},
		{math.NaN(), "Number", false},
		{int64(2), "Number", true},
		{"", "String", false},
		{"0", "String", true},
		{[]any{}, "Array", true},
		{map[string]string{}, "Object", true},
		{struct{ A int }{1}, "Object", true},
	}
	for _, tt := range tests {
		if k := KindOf(tt.in); k != tt.kind {
			t.Errorf("KindOf(%#v) = %s, want %s", tt.in, k, tt.kind)
		}
		if b := Truthy(tt.in); b != tt.truthy {
			t.Errorf("Truthy(%#v) = %v, want %v", tt.in, b, tt.truthy)
		}
	}
	o := Normalize(map[string]any{"b": 1, "a": []string{"x"}, "C": map[string]any{"d": int32(4)}}).(*Object)
	if got := ToJSON(o); got != "{\n  \"C\": {\n    \"d\": 4\n  },\n  \"a\": [\n    \"x\"\n  ],\n  \"b\": 1\n}" {
		t.Errorf("ToJSON = %s", got)
	}
	if v, ok := o.Get("c"); !ok || KindOf(v) != "Object" {
		t.Errorf("case-insensitive Get failed: %v %v", v, ok)
	}
	if got := compactJSON(Plain(o)); got != `{"C":{"d":4},"a":["x"],"b":1}` {
		t.Errorf("Plain round trip = %s", got)
	}
}

func TestEvalEnv(t *testing.T) {
	tests := []struct {
		src  string
		want string // compact JSON
	}{
		{"github.event.commits.*.id", `["a1","b2"]`},
		{"join(github.event.commits.*.id, '+')", `"a1+b2"`},
		{"MATRIX.OS", `"linux"`},
		{"contains(labels, 'CI')", `true`},
		{"github.run_number > 6 && github.run_number < 8", `true`},
		{"fromJSON(steps.build.outputs.n) + 0", ``},
		{"fromJSON(steps.build.outputs.n) == 3", `true`},
		{"format('{0}/{1}', matrix.os, github.ref)", `"linux/refs/heads/main"`},
		{"success()", `true`},
		{"case(matrix.os == 'linux', 'l', 'other')", `"l"`},
	}
	env := testEnv()
	for _, tt := range tests {
		n, err := Parse(tt.src)
		if tt.want == "" {
			if err == nil {
				t.Errorf("%q: want error", tt.src)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tt.src, err)
			continue
		}
		v, err := Eval(n, env)
		if err != nil {
			t.Errorf("%q: %v", tt.src, err)
			continue
		}
		if got := compactJSON(v); got != tt.want {
			t.Errorf("%q = %s, want %s", tt.src, got, tt.want)
		}
	}
	for _, src := range []string{"nosuch.x", "hashFiles('x')", "fromJSON('{')", "format('{1}', 1)"} {
		n, err := Parse(src)
		if err != nil {
			t.Fatalf("%q: %v", src, err)
		}
		_, err = Eval(n, env)
		var e *Error
		if !errors.As(err, &e) || e.Kind != KindEvaluation {
			t.Errorf("%q: err = %v, want evaluation error", src, err)
		}
	}
}

func TestHashFiles(t *testing.T) {
	root := t.TempDir()
	files := map[string]string{
		"go.sum":             "sum",
		"a/go.sum":           "inner",
		"a/b/x.txt":          "x",
		"vendor/dep/go.sum":  "dep",
		".hidden/go.sum":     "hid",
		"docs/readme.md":     "doc",
		"docs/sub/guide.md":  "guide",
		"notes/skip/note.md": "n",
	}
	for p, c := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want := func(paths ...string) string {
		total := sha256.New()
		for _, p := range paths {
			h := sha256.Sum256([]byte(files[p]))
			total.Write(h[:])
		}
		return hex.EncodeToString(total.Sum(nil))
	}
	tests := []struct {
		args []any
		want string
	}{
		{[]any{"**/go.sum"}, want(".hidden/go.sum", "a/go.sum", "go.sum", "vendor/dep/go.sum")},
		{[]any{"**/go.sum", "!vendor/**"}, want(".hidden/go.sum", "a/go.sum", "go.sum")},
		{[]any{"go.sum"}, want("go.sum")},
		{[]any{"docs"}, want("docs/readme.md", "docs/sub/guide.md")},
		{[]any{"docs/*.md"}, want("docs/readme.md")},
		{[]any{"*.nothing"}, ""},
		{[]any{filepath.Join(root, "a", "*", "x.txt")}, want("a/b/x.txt")},
	}
	f := HashFiles(root)
	for _, tt := range tests {
		got, err := f(tt.args)
		if err != nil {
			t.Errorf("%v: %v", tt.args, err)
			continue
		}
		if got != tt.want {
			t.Errorf("hashFiles(%v) = %v, want %v", tt.args, got, tt.want)
		}
	}
}

func TestLimits(t *testing.T) {
	deep := strings.Repeat("(", 200) + "1" + strings.Repeat(")", 200)
	if _, err := Parse(deep); err == nil || !strings.Contains(err.Error(), "depth") {
		t.Errorf("deep nesting: err = %v", err)
	}
	long := strings.Repeat("a", MaxLength+1)
	if _, err := Parse(long); err == nil {
		t.Error("over-long expression: want error")
	}
	if _, err := ParseJSON([]byte(strings.Repeat("[", 5000) + strings.Repeat("]", 5000))); err == nil {
		t.Error("deep JSON: want error")
	}
	n, err := Parse("format('{0}{0}{0}{0}{0}{0}{0}{0}{0}{0}', format('{0}{0}{0}{0}{0}{0}{0}{0}{0}{0}', format('{0}{0}{0}{0}{0}{0}{0}{0}{0}{0}', format('{0}{0}{0}{0}{0}{0}{0}{0}{0}{0}', format('{0}{0}{0}{0}{0}{0}{0}{0}{0}{0}', format('{0}{0}{0}{0}{0}{0}{0}{0}{0}{0}', 'abcdefghij'))))))")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Eval(n, nil); err == nil || !strings.Contains(err.Error(), "memory") {
		t.Errorf("10 MB format: err = %v, want memory error", err)
	}
}

func TestParseOptions(t *testing.T) {
	if _, err := ParseWith("github.sha", ParseOptions{Contexts: []string{"GitHub"}}); err != nil {
		t.Errorf("known context: %v", err)
	}
	if _, err := ParseWith("env.X", ParseOptions{Contexts: []string{"github"}}); err == nil {
		t.Error("unknown context: want parsing error")
	}
	if _, err := Parse("myFunc(1)"); err == nil {
		t.Error("undeclared function: want parsing error")
	}
	n, err := ParseWith("MYFUNC(1, 2)", ParseOptions{Funcs: []FuncSpec{{Name: "myFunc", MinArgs: 2, MaxArgs: 2}}})
	if err != nil {
		t.Fatal(err)
	}
	v, err := Eval(n, &Env{Funcs: map[string]Func{"myfunc": func(a []any) (any, error) { return len(a), nil }}})
	if err != nil || v != 2.0 {
		t.Errorf("declared function = %#v, %v", v, err)
	}
}
