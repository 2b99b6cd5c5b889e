package render

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// write creates files (name -> content) under dir.
func write(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func newEngine(t *testing.T, root string) *Engine {
	t.Helper()
	e, err := New(Options{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestErrorsNamePlace(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, map[string]string{
		"undef.j2":        "a\nb {{ nope }}\n",
		"syntax.j2":       "a\n  {% for x in %}{% endfor %}\n",
		"inc.j2":          "top\n{% include 'lib/bad.j2' %}\n",
		"lib/bad.j2":      "one\ntwo\n   {{ 1 // 0 }}\n",
		"filter.j2":       "{{ 'x'|nofilter }}\n",
		"extends.j2":      "{% extends 'lib/badbase.j2' %}\n",
		"lib/badbase.j2":  "x\n{% if %}{% endif %}\n",
		"missing.j2":      "{% include 'lib/none.j2' %}\n",
		"panic.j2":        "{{ '%s' % x }}\n",
		"unterminated.j2": "a\n  {{ 'x }}\n",
		"comment.j2":      "a\nb {# open\n",
		"panic2.j2":       "{{ 'x'|int(base=1) }}\n",
		"lib/base2.j2":    "base\n{% block b %}{% endblock %}\n{{ nope2 }}\n",
		"child2.j2":       "{% extends 'lib/base2.j2' %}{% block b %}x{% endblock %}",
		"lib/base3.j2":    "base\n{% block b %}{% endblock %}\n",
		"child3.j2":       "{% extends 'lib/base3.j2' %}\n{% block b %}x {{ nope3 }}{% endblock %}",
		"previtem.j2":     "{% for x in [1, 2] %}\n  {{ loop.previtem }}\n{% endfor %}\n",
		"nextitem.j2":     "{% for x in [1, 2] %}{{ x }}{{ loop.nextitem }}{% endfor %}\n",
	})
	e := newEngine(t, dir)
	for name, want := range map[string]string{
		"undef.j2":        "undef.j2:2:6: 'nope' is undefined",
		"syntax.j2":       "syntax.j2:2:10: syntax error",
		"inc.j2":          "lib/bad.j2:3:7: integer division or modulo by zero",
		"filter.j2":       "filter.j2:1:4: filter 'nofilter' not found",
		"extends.j2":      "lib/badbase.j2:2:",
		"missing.j2":      "missing.j2:1:1: template not found: lib/none.j2",
		"panic.j2":        "panic.j2:1:4: 'x' is undefined",
		"unterminated.j2": "unterminated.j2:2:6: syntax error",
		"comment.j2":      "comment.j2:2:",
		"panic2.j2":       "panic2.j2: template engine failed: ",
		"child2.j2":       "lib/base2.j2:3:4: 'nope2' is undefined",
		"child3.j2":       "child3.j2:2:19: 'nope3' is undefined",
		"previtem.j2":     "previtem.j2:2:10: there is no previous item",
		"nextitem.j2":     "nextitem.j2:1:36: there is no next item",
	} {
		_, err := e.RenderString(name, map[string]any{})
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%s: error %v, want prefix %q", name, err, want)
		}
		var re *Error
		if !errors.As(err, &re) {
			t.Errorf("%s: %T is not an *Error", name, err)
		}
		if name == "panic2.j2" && !errors.Is(err, ErrEngine) {
			t.Errorf("%s: a recovered panic is not ErrEngine: %v", name, err)
		}
	}
}

func TestRenderFilesAtomic(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, map[string]string{
		"t/a.yaml.j2":  "a: {{ v }}\n",
		"t/b.yaml.j2":  "b: {{ v }}\n",
		"t/bad.j2":     "{{ missing }}\n",
		"k8s/a.yaml":   "old a\n",
		"k8s/old.yaml": "stale\n",
		"k8s/keep.txt": "not yaml\n",
	})
	e := newEngine(t, dir)
	out := filepath.Join(dir, "k8s")
	jobs := []Job{
		{Template: "t/a.yaml.j2", Output: filepath.Join(out, "a.yaml")},
		{Template: "t/b.yaml.j2", Output: filepath.Join(out, "b.yaml")},
		{Template: "t/bad.j2", Output: filepath.Join(out, "bad")},
	}
	before := snapshot(t, out)
	if _, err := e.RenderFiles(jobs, map[string]any{"v": 1}, FilesOptions{Clean: []string{out}}); err == nil {
		t.Fatal("want an error for t/bad.j2")
	} else if !strings.Contains(err.Error(), "t/bad.j2:1:4") {
		t.Errorf("error %q does not name t/bad.j2:1:4", err)
	}
	if after := snapshot(t, out); after != before {
		t.Fatalf("output folder changed on error:\nbefore %s\nafter  %s", before, after)
	}

	written, err := e.RenderFiles(jobs[:2], map[string]any{"v": 1}, FilesOptions{Clean: []string{out}})
	if err != nil {
		t.Fatal(err)
	}
	if len(written) != 2 {
		t.Fatalf("written %v", written)
	}
	if got := snapshot(t, out); got != "a.yaml=a: 1\n|b.yaml=b: 1\n|keep.txt=not yaml\n|" {
		t.Errorf("after success: %q", got)
	}
}

// snapshot lists a folder's files and contents in one string.
func snapshot(t *testing.T, dir string) string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, en := range entries {
		data, err := os.ReadFile(filepath.Join(dir, en.Name()))
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(en.Name() + "=" + string(data) + "|")
	}
	return b.String()
}

func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	big := strings.Repeat("kind: ConfigMap\n", 10<<20/16) + "# {{ name }}\n" // 10 MB
	write(t, dir, map[string]string{
		"binary.j2":      "ok\n\xff\xfe\x00\x01 {{ x }}",
		"empty.j2":       "",
		"big.j2":         big,
		"deep_blocks.j2": strings.Repeat("{% if true %}", 100000) + "x" + strings.Repeat("{% endif %}", 100000),
		"deep_parens.j2": "{{ " + strings.Repeat("(", 100000) + "1" + strings.Repeat(")", 100000) + " }}",
		"self.j2":        "again {% include 'self.j2' %}",
		"selfext.j2":     "{% extends 'selfext.j2' %}",
		"recmacro.j2":    "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}",
		"loop.j2":        "{% for i in range(100000000) %}x{% endfor %}",
		"loop2.j2":       "{% for i in range(90000) %}{% for j in range(90000) %}x{% endfor %}{% endfor %}",
		"loop3.j2":       "{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}",
	})
	e, err := New(Options{Root: dir, MaxOutputBytes: 8 << 10, MaxIterations: 20_000})
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]any{"name": "n", "x": 1}
	for name, want := range map[string]error{
		"binary.j2":      ErrBinary,
		"deep_blocks.j2": ErrTooLarge,
		"deep_parens.j2": ErrTooLarge,
		"self.j2":        ErrRecursion,
		"selfext.j2":     ErrRecursion,
		"loop.j2":        ErrTooLarge,
		"loop2.j2":       ErrOutputTooLarge,
		"loop3.j2":       ErrTooLarge,
	} {
		_, err := e.RenderString(name, vars)
		if !errors.Is(err, want) {
			t.Errorf("%s: error %v, want %v", name, err, want)
		}
	}
	if _, err := e.RenderString("binary.j2", vars); err == nil || !strings.HasPrefix(err.Error(), "binary.j2:2:1:") {
		t.Errorf("binary: %v, want binary.j2:2:1", err)
	}
	if _, err := e.RenderString("recmacro.j2", vars); err == nil || !strings.Contains(err.Error(), "recursion limit") {
		t.Errorf("recursive macro: %v", err)
	}
	if out, err := e.RenderString("empty.j2", vars); err != nil || out != "" {
		t.Errorf("empty: %q, %v", out, err)
	}

	// 10 MB renders under the default limits, and is refused under a lower one.
	e2 := newEngine(t, dir)
	var b bytes.Buffer
	if err := e2.Render(&b, "big.j2", vars); err != nil || b.Len() != len(big)-len("{{ name }}")+1 {
		t.Errorf("big: %d bytes, %v", b.Len(), err)
	}
	small, _ := New(Options{Root: dir, MaxTemplateBytes: 1 << 20})
	if _, err := small.RenderString("big.j2", vars); !errors.Is(err, ErrTooLarge) {
		t.Errorf("big with 1 MiB limit: %v", err)
	}
}

func TestLoadDataBadInput(t *testing.T) {
	dir := t.TempDir()
	bomb := "a: &a [x, x, x, x, x, x, x, x, x]\n"
	prev := "a"
	for _, n := range []string{"b", "c", "d", "e", "f", "g", "h", "i"} {
		bomb += n + ": &" + n + " [" + strings.Repeat("*"+prev+", ", 8) + "*" + prev + "]\n"
		prev = n
	}
	write(t, dir, map[string]string{
		"bomb.yaml":  bomb,
		"deep.json":  strings.Repeat("[", 100000) + strings.Repeat("]", 100000),
		"deep.yaml":  "a: " + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + "\n",
		"bad.json":   "{\n  \"a\": 1,\n  oops\n}",
		"list.json":  "[1, 2]",
		"ok.env":     "# comment\nA=1\nB=\"two words\"\n",
		"ok.yaml":    "n: 1\nf: 1.5\ns: x\nl: [1, 2]\n",
		"binary.yml": "\xff\xfe\x00",
	})
	for _, name := range []string{"bomb.yaml", "deep.json", "deep.yaml", "bad.json", "list.json", "binary.yml"} {
		if _, err := LoadData(filepath.Join(dir, name)); err == nil {
			t.Errorf("%s: want an error", name)
		}
	}
	if _, err := LoadData(filepath.Join(dir, "bad.json")); err == nil || !strings.Contains(err.Error(), "bad.json:3:") {
		t.Errorf("bad.json: %v, want line 3", err)
	}
	env, err := LoadData(filepath.Join(dir, "ok.env"))
	if err != nil || env["A"] != "1" || env["B"] != "two words" {
		t.Errorf("ok.env: %v %v", env, err)
	}
	y, err := LoadData(filepath.Join(dir, "ok.yaml"))
	if err != nil || y["n"] != 1 || y["f"] != 1.5 {
		t.Errorf("ok.yaml: %#v %v", y, err)
	}
}

func TestParseVars(t *testing.T) {
	got, err := ParseVars("a=1\n\n# c\n b = x=y \n", "c=3")
	if err != nil || got["a"] != "1" || got["b"] != "x=y" || got["c"] != "3" {
		t.Errorf("ParseVars: %v %v", got, err)
	}
	if _, err := ParseVars("novalue"); err == nil {
		t.Error("want an error for a line without =")
	}
}

// TestRenderFilesParallel renders many templates at once (RenderFiles uses
// every core) and checks each against a sequential render.
func TestRenderFilesParallel(t *testing.T) {
	root, _ := filepath.Abs("testdata/conformance")
	data, err := LoadData(filepath.Join(root, "data.json"))
	if err != nil {
		t.Fatal(err)
	}
	e := newEngine(t, root)
	names := []string{"k8s_deployment.yaml.j2", "macro_basic.j2", "include_basic.j2", "do_mutations.j2",
		"extends_block.j2", "import_macros.j2", "set_namespace.j2", "loop_unpack.j2", "filter_tojson.j2"}
	out := t.TempDir()
	var jobs []Job
	for i := range 40 {
		n := names[i%len(names)]
		jobs = append(jobs, Job{Template: n, Output: filepath.Join(out, strings.Repeat("x", i%3)+n+string(rune('a'+i)))})
	}
	if _, err := e.RenderFiles(jobs, data, FilesOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, j := range jobs {
		want, err := e.RenderString(j.Template, data)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := os.ReadFile(j.Output)
		if string(got) != want {
			t.Errorf("%s: parallel %q, sequential %q", j.Template, got, want)
		}
	}
}

// The parse cache must never serve stale text: an edited template, or an
// edited parent of one that extends it, renders the new text; concurrent
// renders of one cached template keep their own contexts.
func TestParseCacheFollowsFiles(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, map[string]string{
		"t.j2":     "a={{ x }}\n",
		"base.j2":  "base1 {% block b %}{% endblock %}\n",
		"child.j2": "{% extends 'base.j2' %}{% block b %}{{ x }}{% endblock %}",
	})
	e := newEngine(t, dir)
	render := func(name string, x any) string {
		t.Helper()
		out, err := e.RenderString(name, map[string]any{"x": x})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	if got := render("t.j2", 1); got != "a=1\n" {
		t.Fatalf("first render %q", got)
	}
	write(t, dir, map[string]string{"t.j2": "b={{ x }}\n"})
	if got := render("t.j2", 2); got != "b=2\n" {
		t.Fatalf("after edit %q, want b=2", got)
	}
	if got := render("child.j2", "c"); got != "base1 c\n" {
		t.Fatalf("child %q", got)
	}
	write(t, dir, map[string]string{"base.j2": "base2 {% block b %}{% endblock %}\n"})
	if got := render("child.j2", "c"); got != "base2 c\n" {
		t.Fatalf("after parent edit %q, want base2 c", got)
	}

	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 20 {
				want := fmt.Sprintf("b=%d-%d\n", i, j)
				out, err := e.RenderString("t.j2", map[string]any{"x": fmt.Sprintf("%d-%d", i, j)})
				if err != nil || out != want {
					t.Errorf("concurrent render %q %v, want %q", out, err, want)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// TestLenientLoopItems: with Lenient (jinjanate --undefined), loop.previtem
// on the first iteration and loop.nextitem on the last are Jinja2's plain
// Undefined: empty text, not defined.
func TestLenientLoopItems(t *testing.T) {
	e, err := New(Options{Root: t.TempDir(), Lenient: true})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	src := "{% for x in [1, 2] %}[{{ loop.previtem }}|{{ loop.nextitem }}|{{ loop.previtem is defined }}]{% endfor %}"
	if err := e.RenderSource(&b, "t.j2", []byte(src), nil); err != nil {
		t.Fatal(err)
	}
	if want := "[|2|False][1||True]"; b.String() != want { // Jinja2's output
		t.Errorf("got %q, want %q", b.String(), want)
	}
}
