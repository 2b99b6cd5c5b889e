package pyyaml

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/birdflock/runner/pkg/testenv"
)

// python returns Debian's interpreter with PyYAML (a yamllint dependency),
// failing under CI when it is missing.
func python(t *testing.T) string {
	t.Helper()
	const bin = "/usr/bin/python3"
	if err := exec.Command(bin, "-c", "import yaml").Run(); err != nil {
		testenv.Missing(t, "python3-yaml not available (apt-get install yamllint): %v", err)
	}
	return bin
}

// pyDump prints, per input, PyYAML's tokens (kind, marks, value, style),
// the scanner error, and the parser's first error, one line each.
const pyDump = `
import json, sys, yaml
def tokval(t):
    v = getattr(t, 'value', None)
    if isinstance(v, tuple):
        return repr(v)
    return '' if v is None else v
for text in json.load(sys.stdin):
    out = []
    try:
        l = yaml.BaseLoader(text)
        while True:
            t = l.get_token()
            if t is None: break
            out.append('%s %d:%d:%d-%d:%d:%d %s %s' % (t.id, t.start_mark.line, t.start_mark.column,
                t.start_mark.pointer, t.end_mark.line, t.end_mark.column, t.end_mark.pointer,
                json.dumps(tokval(t)), getattr(t, 'style', None) or ''))
    except yaml.MarkedYAMLError as e:
        out.append('scanner error: ' + str(e))
    try:
        list(yaml.parse(text, Loader=yaml.BaseLoader))
        out.append('parse ok')
    except yaml.MarkedYAMLError as e:
        out.append('parse error: ' + str(e))
    print(json.dumps(out))
`

func pyRepr(t *Token) string {
	switch t.Kind {
	case Tag:
		h := "None"
		if t.HasHandle {
			h = Repr(t.Handle)
		}
		return fmt.Sprintf("(%s, %s)", h, Repr(t.Suffix))
	case Directive:
		switch t.Value {
		case "YAML":
			return fmt.Sprintf("(%d, %d)", t.Major, t.Minor)
		case "TAG":
			return fmt.Sprintf("(%s, %s)", Repr(t.Handle), Repr(t.TagPrefix))
		}
		return ""
	}
	return t.Value
}

func goDump(text string) []string {
	var out []string
	s := NewScanner([]rune(text))
	for {
		t, err := s.GetToken()
		if err != nil {
			out = append(out, "scanner error: "+err.Error())
			break
		}
		if t == nil {
			break
		}
		v, _ := json.Marshal(pyRepr(t))
		style := ""
		if t.Style != 0 {
			style = string(t.Style)
		}
		out = append(out, fmt.Sprintf("%s %d:%d:%d-%d:%d:%d %s %s", t.Kind.ID(), t.Start.Line, t.Start.Column,
			t.Start.Pointer, t.End.Line, t.End.Column, t.End.Pointer, pyJSON(string(v)), style))
	}
	if err := Check([]rune(text)); err != nil {
		out = append(out, "parse error: "+err.Error())
	} else {
		out = append(out, "parse ok")
	}
	return out
}

// pyJSON turns Go's JSON string escapes into Python's json.dumps ones.
func pyJSON(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r > 0x7e && r <= 0xffff:
			fmt.Fprintf(&b, `\u%04x`, r)
		case r > 0xffff:
			r -= 0x10000
			fmt.Fprintf(&b, `\u%04x\u%04x`, 0xd800+(r>>10), 0xdc00+(r&0x3ff))
		default:
			b.WriteRune(r)
		}
	}
	return strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&").Replace(b.String())
}

var extraInputs = []string{
	"a: b\n", "- [a, b]: c\n", "{a: [b, {c: d}], ? e}\n", "? a\n? b\n", "'it''s'\n",
	"\"esc \\x41 \\u00e9 \\U0001F600 \\\n  cont\"\n", "a: |+\n  x\n\n\nb: >2-\n   y\n",
	"--- >\n folded\n...\n", "%FOO bar\n---\nx\n", "!<tag:a> x\n", "&a [*a]\n", "*a: b\n",
	"a: 'multi\n\n  line'\n", "key: \"unterminated\n", "[a, b]]\n", "{a: 1\n", "a:\n- b\n-c\n",
	"- a\n - b\n", "a: b\n  c: d\n", "\ta: b\n", "a: [1,\n2]\n", "? |\n  k\n: v\n", "a: !!str\n",
	"%YAML 2.0\n---\n", "%TAG !x! !\n%TAG !x! !\n---\n", "!x!y z\n", "a: @b\n", "a: `b\n",
	"a: b # c\n#d\n", "- - - x\n", "a:\n  - b\n  -\n  - c\n", "x: [a: 1, b]\n", "|0\n x\n", ">-3\n x\n",
	"a: \"\\q\"\n", "a: %\n", "? a: b\n: c\n", "a:\r\n  b\r\n", "a: b\rc: d\r", "-\n-\n", ": a\n",
	"a: &anchor\n  b\n", "a: !tag\n  b\n", strings.Repeat("a", 1100) + ": b\n",
}

// TestScannerAndParserMatchPyYAML compares every token (kind, marks,
// value, style) and every error message with PyYAML's.
func TestScannerAndParserMatchPyYAML(t *testing.T) {
	py := python(t)
	inputs := append([]string(nil), extraInputs...)
	files, _ := filepath.Glob("../yamllint/testdata/corpus/*.yaml")
	sort.Strings(files)
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if CheckPrintable([]rune(string(data))) == nil {
			inputs = append(inputs, string(data))
		}
	}
	in, _ := json.Marshal(inputs)
	cmd := exec.Command(py, "-c", pyDump)
	cmd.Stdin = bytes.NewReader(in)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(inputs) {
		t.Fatalf("python printed %d results for %d inputs", len(lines), len(inputs))
	}
	same := 0
	for i, text := range inputs {
		var want []string
		if err := json.Unmarshal([]byte(lines[i]), &want); err != nil {
			t.Fatal(err)
		}
		got := goDump(text)
		if strings.Join(got, "\n") == strings.Join(want, "\n") {
			same++
			continue
		}
		for j := range max(len(got), len(want)) {
			g, w := "", ""
			if j < len(got) {
				g = got[j]
			}
			if j < len(want) {
				w = want[j]
			}
			if g != w {
				t.Errorf("input %d %q: first difference at line %d:\n got %s\nwant %s", i, trunc(text), j, g, w)
				break
			}
		}
	}
	t.Logf("%d/%d inputs: tokens and errors identical to PyYAML", same, len(inputs))
}

func trunc(s string) string {
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}

// TestSafeLoadMatchesPyYAML compares SafeLoad with yaml.safe_load.
func TestSafeLoadMatchesPyYAML(t *testing.T) {
	py := python(t)
	docs := []string{
		"a: 1\nb: [x, 2.5, true, no, ~, '3']\nc: {d: 0x1f, e: 0o17, f: 017, g: 1_000, h: 1:30}\n",
		"extends: default\nrules:\n  line-length: {max: 120}\n  truthy: disable\n",
		"x: &a [1, 2]\ny: *a\nz: .inf\nw: -.5\nv: ''\n",
		"- yes\n- On\n- OFF\n- 'yes'\n- !!str 12\n- !!int '12'\n",
		"a: 1\na: 2\n",
	}
	script := `
import json, sys, yaml
import yamllint.rules  # registers yamllint's extra int resolver, as in yamllint
for d in json.load(sys.stdin):
    def conv(v):
        if isinstance(v, dict): return [[conv(k), conv(x)] for k, x in v.items()]
        if isinstance(v, list): return [conv(x) for x in v]
        if isinstance(v, float): return ['float', repr(v)]
        if isinstance(v, bool): return ['bool', v]
        if isinstance(v, int): return ['int', v]
        return v
    print(json.dumps(conv(yaml.safe_load(d))))
`
	in, _ := json.Marshal(docs)
	cmd := exec.Command(py, "-c", script)
	cmd.Stdin = bytes.NewReader(in)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	var conv func(v any) any
	conv = func(v any) any {
		switch x := v.(type) {
		case *Map:
			pairs := []any{}
			for _, k := range x.Keys {
				pairs = append(pairs, []any{conv(k), conv(x.Values[k])})
			}
			return pairs
		case []any:
			l := []any{}
			for _, e := range x {
				l = append(l, conv(e))
			}
			return l
		case float64:
			r := fmt.Sprintf("%v", x)
			switch {
			case math.IsInf(x, 1):
				r = "inf"
			case math.IsInf(x, -1):
				r = "-inf"
			case x == math.Trunc(x):
				r = fmt.Sprintf("%.1f", x)
			}
			return []any{"float", r}
		case bool:
			return []any{"bool", x}
		case int:
			return []any{"int", x}
		}
		return v
	}
	for i, d := range docs {
		v, err := SafeLoad(d)
		if err != nil {
			t.Fatalf("%q: %v", d, err)
		}
		got, _ := json.Marshal(conv(v))
		var want any
		_ = json.Unmarshal([]byte(lines[i]), &want)
		wantJSON, _ := json.Marshal(want)
		if string(got) != string(wantJSON) {
			t.Errorf("%q:\n got %s\nwant %s", d, got, wantJSON)
		}
	}
}
