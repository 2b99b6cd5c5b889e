package validate

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestSplitDocuments(t *testing.T) {
	for in, want := range map[string][]string{
		"":                            {""},
		"a: 1\n":                      {"a: 1\n"},
		"---\na: 1\n---\nb: 2\n":      {"---\na: 1\n", "---\nb: 2\n"},
		"# c\n---\na: 1\n":            {"# c\n", "---\na: 1\n"},
		"a: 1\n...\nb: 2\n":           {"a: 1\n...\n", "b: 2\n"},
		"a: 1\n...\n---\nb: 2":        {"a: 1\n...\n", "---\nb: 2"},
		"--- |\n  x\n--- >\n  y\n":    {"--- |\n  x\n", "--- >\n  y\n"},
		"a: |\n  ---x\n----\n---#\n":  {"a: |\n  ---x\n----\n---#\n"},
		"a: 1\r\n---\r\nb: 2\r\n":     {"a: 1\r\n", "---\r\nb: 2\r\n"},
		"%YAML 1.1\n---\na: 1\n---\n": {"%YAML 1.1\n---\na: 1\n---\n"},
		"---\n---\n":                  {"---\n", "---\n"},
	} {
		var got []string
		for _, c := range splitDocuments([]byte(in)) {
			got = append(got, string(c.data))
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("split %q = %q, want %q", in, got, want)
		}
	}
	chunks := splitDocuments([]byte("a: 1\nb: 2\n---\nc: 3\n...\nd: 4\n"))
	if chunks[1].line != 2 || chunks[2].line != 5 {
		t.Errorf("line offsets %d, %d", chunks[1].line, chunks[2].line)
	}
}

// sequential validates data as one stream, without cutting it.
func sequential(v *Validator, name string, data []byte) Result {
	f := fileCheck{v: v, name: name, res: Result{Files: 1}}
	f.stream(data)
	if f.nonEmpty == 0 && len(f.res.Problems) == 0 {
		f.add(Problem{Message: "empty file: no Kubernetes object"})
	}
	return f.res
}

// Cutting a stream must not change what is reported, syntax errors aside
// (a cut stream goes on after one).
func checkSameAsSequential(t *testing.T, v *Validator, name string, data []byte) {
	t.Helper()
	if binaryAt(data) >= 0 {
		return
	}
	seq := sequential(v, name, data)
	for _, p := range seq.Problems {
		if strings.HasPrefix(p.Message, "YAML syntax error") {
			return
		}
	}
	if got := v.Validate(name, data); !reflect.DeepEqual(got, seq) {
		t.Fatalf("%s: cut stream differs\n got %+v\nwant %+v", name, got, seq)
	}
}

func TestCutStreamSameAsSequential(t *testing.T) {
	v := newValidator(t, Options{})
	files, _ := filepath.Glob("testdata/*/*.yaml")
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		checkSameAsSequential(t, v, f, data)
	}
	checkSameAsSequential(t, v, "many", manifests(50))
}

// The parser ends a line at "\r" alone too, and at NEL, LS and PS: a cut
// stream reports the same lines (found by FuzzValidate: "\r0\n--- 0").
func TestCutStreamCountsLinesAsTheParser(t *testing.T) {
	v := newValidator(t, Options{})
	for _, s := range []string{
		"\r0\n--- 0",
		"a: 1\r---\r\nb: 2\r\r\n---\nc",
		"a\n...\r\r\nb\n---\nc",
		"0\u0085\n--- 0",
		"0\u2028\n--- 0",
		"0\u2029\n--- 0",
	} {
		checkSameAsSequential(t, v, "lines.yaml", []byte(s))
	}
	res := v.Validate("cr.yaml", []byte("\r0\n--- 0"))
	if len(res.Problems) != 2 || res.Problems[1].Line != 3 {
		t.Fatalf("problems %v, want the second on line 3", res.Problems)
	}
}

func TestCutStreamGoesOnAfterSyntaxError(t *testing.T) {
	v := newValidator(t, Options{})
	data := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: [\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\ndata: 1\n"
	res := v.Validate("s.yaml", []byte(data))
	var got []string
	for _, p := range res.Problems {
		got = append(got, p.String())
	}
	want := []string{
		"s.yaml:3: document 1: YAML syntax error: did not find expected node content",
		"s.yaml:9:7: document 2 (ConfigMap b): /data: expected object, got number",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q\nwant %q", got, want)
	}
}
