package yamllint

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzLint checks that no input makes the linter panic or hang, under the
// configuration that enables every rule.
func FuzzLint(f *testing.F) {
	files, _ := filepath.Glob("testdata/corpus/*.yaml")
	for _, p := range files {
		if data, err := os.ReadFile(p); err == nil && len(data) < 4096 {
			f.Add(data)
		}
	}
	conf, err := LoadConfigFile("testdata/configs/all-rules.yaml")
	if err != nil {
		f.Fatal(err)
	}
	multi, err := LoadConfigFile("testdata/configs/variants-1.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		text, err := Decode(data)
		if err != nil {
			return
		}
		for _, c := range []*Config{conf, multi} {
			for _, p := range Lint(text, c, "") {
				if p.Line < 0 || p.Column < 0 || p.Desc == "" { // document-end can report line 0, as yamllint does
					t.Fatalf("bad problem %+v", p)
				}
			}
		}
	})
}

// FuzzParseConfig checks that no configuration text makes the loader panic.
func FuzzParseConfig(f *testing.F) {
	f.Add("extends: default")
	f.Add("rules: {line-length: {max: 120}, truthy: {allowed-values: ['yes']}}")
	f.Add("a: &a [1, 2]\nb: *a\nignore: |\n  *.tmp\n")
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = ParseConfig(s)
	})
}
