package validate

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/err/*.out from the current output")

// optionsFromFile reads a first-line comment "# options: a b=c" that sets
// Options for a golden case.
func optionsFromFile(t *testing.T, path string) Options {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	line, _ := bufio.NewReader(f).ReadString('\n')
	var opts Options
	rest, ok := strings.CutPrefix(strings.TrimSpace(line), "# options:")
	if !ok {
		return opts
	}
	for _, o := range strings.Fields(rest) {
		k, v, _ := strings.Cut(o, "=")
		switch k {
		case "allow-unknown-fields":
			opts.AllowUnknownFields = true
		case "ignore-missing-schemas":
			opts.IgnoreMissingSchemas = true
		case "skip-kinds":
			opts.SkipKinds = strings.Split(v, ",")
		case "kubernetes-version":
			opts.KubernetesVersion = v
		default:
			t.Fatalf("%s: unknown option %q", path, k)
		}
	}
	return opts
}

// goldenValidators shares one Validator per option set, as a CLI run would.
var goldenValidators = map[string]*Validator{}

func validateGolden(t *testing.T, path string) Result {
	t.Helper()
	opts := optionsFromFile(t, path)
	key := fmt.Sprintf("%+v", opts)
	v := goldenValidators[key]
	if v == nil {
		var err error
		if v, err = New(opts); err != nil {
			t.Fatal(err)
		}
		goldenValidators[key] = v
	}
	return v.ValidateFile(filepath.ToSlash(path))
}

// TestGoldenOK: every file in testdata/ok must be valid.
func TestGoldenOK(t *testing.T) {
	files, _ := filepath.Glob("testdata/ok/*")
	if len(files) == 0 {
		t.Fatal("no testdata/ok files")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			res := validateGolden(t, f)
			for _, p := range res.Problems {
				t.Errorf("unexpected: %s", p)
			}
			if len(res.Resources) == 0 {
				t.Errorf("no document validated")
			}
			for _, r := range res.Resources {
				if r.Status == StatusInvalid {
					t.Errorf("document %d is %s", r.Document, r.Status)
				}
			}
		})
	}
}

// TestGoldenErr: every testdata/err/X (not .out) must give exactly the
// problems listed in X.out, one String() per line.
func TestGoldenErr(t *testing.T) {
	files, _ := filepath.Glob("testdata/err/*")
	n := 0
	for _, f := range files {
		if strings.HasSuffix(f, ".out") {
			continue
		}
		n++
		t.Run(filepath.Base(f), func(t *testing.T) {
			res := validateGolden(t, f)
			var got bytes.Buffer
			for _, p := range res.Problems {
				got.WriteString(p.String() + "\n")
			}
			if got.Len() == 0 {
				t.Fatal("no problem found")
			}
			want := f + ".out"
			if *update {
				if err := os.WriteFile(want, got.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			exp, err := os.ReadFile(want)
			if err != nil {
				t.Fatal(err)
			}
			if got.String() != string(exp) {
				t.Errorf("problems differ\n--- got\n%s--- want\n%s", got.String(), exp)
			}
		})
	}
	if n == 0 {
		t.Fatal("no testdata/err files")
	}
}
