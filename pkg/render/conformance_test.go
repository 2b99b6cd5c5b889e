package render

import (
	"bufio"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// TestConformance renders every template of testdata/conformance with
// runner's engine and with Jinja2 (jinjanator settings) and compares the
// bytes. err_* templates must fail in both; the templates listed in
// known_differences.txt must still differ.
func TestConformance(t *testing.T) {
	conformance(t, "testdata/conformance", "data.json", 40)
}

// TestConformanceYAML does the same with the templates of
// testdata/conformance/yaml and a YAML context, read by Jinja2's side as
// jinjanator reads it (PyYAML's safe_load): mappings keep the file's order,
// merge keys (<<) included.
func TestConformanceYAML(t *testing.T) {
	conformance(t, "testdata/conformance/yaml", "data.yaml", 1)
}

// conformance renders the *.j2 of dir (at least minTemplates) with data (a
// file in dir) in both engines and compares.
func conformance(t *testing.T, dir, data string, minTemplates int) {
	root, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	names, err := filepath.Glob(filepath.Join(root, "*.j2"))
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range names {
		names[i] = filepath.Base(n)
	}
	sort.Strings(names)
	if len(names) < minTemplates {
		t.Fatalf("corpus has %d templates, want at least %d", len(names), minTemplates)
	}
	known := map[string]bool{}
	if kf := filepath.Join(root, "known_differences.txt"); fileExists(kf) {
		known = readKnownDifferences(t, kf)
	}
	dataFile := filepath.Join(root, data)
	ref := renderReference(t, root, dataFile, names)

	vars, err := LoadData(dataFile)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := New(Options{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	matched := 0
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			want, ok := ref[name]
			if !ok {
				t.Fatalf("no reference result")
			}
			got, gotErr := eng.RenderString(name, vars)
			wantFail := strings.HasPrefix(name, "err_")
			switch {
			case wantFail:
				if want.OK {
					t.Errorf("Jinja2 rendered an error case: %q", want.Out)
				}
				if gotErr == nil {
					t.Errorf("runner rendered an error case (Jinja2: %s): %q", want.Err, got)
				} else {
					t.Logf("runner: %v | Jinja2: %s", gotErr, want.Err)
				}
			case known[name]:
				if gotErr == nil && want.OK && got == want.Out {
					t.Errorf("listed in known_differences.txt but now matches: remove it from the list")
				}
			default:
				if !want.OK {
					t.Fatalf("Jinja2 failed: %s", want.Err)
				}
				if gotErr != nil {
					t.Fatalf("runner failed: %v (Jinja2: %q)", gotErr, want.Out)
				}
				if got != want.Out {
					t.Errorf("output differs\nrunner: %q\nJinja2: %q", got, want.Out)
					return
				}
				// The second render comes from the parse cache: nothing
				// the first render did may leak into it.
				if again, err := eng.RenderString(name, vars); err != nil || again != got {
					t.Errorf("second render differs: %v\n%q", err, again)
					return
				}
				matched++
			}
		})
	}
	t.Logf("%d templates match Jinja2 byte for byte, %d error cases, %d known differences", matched, countPrefix(names, "err_"), len(known))
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func countPrefix(names []string, p string) int {
	n := 0
	for _, s := range names {
		if strings.HasPrefix(s, p) {
			n++
		}
	}
	return n
}

func readKnownDifferences(t *testing.T, path string) map[string]bool {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	known := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		known[strings.Fields(line)[0]] = true
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return known
}
