package render

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// FuzzRender feeds arbitrary templates to the engine: it must return
// output or an *Error, never crash or hang.
func FuzzRender(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/conformance/*.j2")
	for _, s := range seeds {
		if b, err := os.ReadFile(s); err == nil && len(b) < 4096 {
			f.Add(b)
		}
	}
	f.Add([]byte("{{ '%s' % x }}"))
	f.Add([]byte("{% for a, b, c in x %}{{ a ** b // c }}{% endfor %}"))
	root, err := filepath.Abs("testdata/conformance")
	if err != nil {
		f.Fatal(err)
	}
	e, err := New(Options{Root: root, MaxOutputBytes: 1 << 20})
	if err != nil {
		f.Fatal(err)
	}
	vars := map[string]any{"x": []any{1, 2, 3}, "name": "n", "items": []any{1, "a", nil}}
	f.Fuzz(func(t *testing.T, src []byte) {
		err := e.RenderSource(io.Discard, "fuzz.j2", src, vars)
		var re *Error
		if err != nil && !errors.As(err, &re) {
			t.Fatalf("error %T is not an *Error: %v", err, err)
		}
	})
}
