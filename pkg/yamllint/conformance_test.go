package yamllint

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
)

// referenceYamllint returns Debian's yamllint, failing under CI when it is
// missing and skipping otherwise.
func referenceYamllint(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("yamllint")
	if err == nil {
		if _, err = os.Stat("/usr/bin/yamllint"); err == nil {
			p = "/usr/bin/yamllint"
		}
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("yamllint is required in CI (apt-get install yamllint): %v", err)
	}
	t.Skipf("yamllint not installed: %v", err)
	return ""
}

func corpusFiles(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob("testdata/corpus/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	if len(files) < 60 {
		t.Fatalf("corpus has %d files, want at least 60", len(files))
	}
	return files
}

// splitByFile groups parsable output lines by their file prefix.
func splitByFile(out string, files []string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.SplitAfter(out, "\n") {
		if line == "" {
			continue
		}
		for _, f := range files {
			if strings.HasPrefix(line, f+":") {
				m[f] += line
				break
			}
		}
	}
	return m
}

// TestConformance lints the corpus under several configurations with this
// package and with Debian's yamllint and compares the outputs byte for byte.
func TestConformance(t *testing.T) {
	bin := referenceYamllint(t)
	files := corpusFiles(t)
	type variant struct{ name, flag, value string }
	variants := []variant{
		{"pipeline-inline", "-d", "{extends: default, rules: {line-length: {max: 120}}}"},
		{"default-inline", "-d", "default"},
		{"relaxed-inline", "-d", "relaxed"},
	}
	configs, _ := filepath.Glob("testdata/configs/*.yaml")
	sort.Strings(configs)
	for _, c := range configs {
		variants = append(variants, variant{filepath.Base(c), "-c", c})
	}
	var pass, total atomic.Int64
	t.Cleanup(func() {
		msg := fmt.Sprintf("yamllint conformance: %d/%d file×config outputs identical (%d files, %d configs)",
			pass.Load(), total.Load(), len(files), len(variants))
		t.Log(msg)
		fmt.Println(msg)
	})
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			var conf *Config
			var err error
			if v.flag == "-d" {
				conf, err = ParseConfig(v.value)
			} else {
				conf, err = LoadConfigFile(v.value)
			}
			if err != nil {
				t.Fatalf("%s: %v", v.name, err)
			}
			cmd := exec.Command(bin, append([]string{v.flag, v.value, "-f", "parsable"}, files...)...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			_ = cmd.Run()
			if stderr.Len() > 0 {
				t.Fatalf("yamllint: %s", stderr.String())
			}
			want := splitByFile(stdout.String(), files)
			wantCode := cmd.ProcessState.ExitCode()

			var all bytes.Buffer
			sum, err := LintPaths(&all, os.Stderr, files, conf, RunOptions{Format: FormatParsable})
			if err != nil {
				t.Fatal(err)
			}
			got := splitByFile(all.String(), files)
			for _, f := range files {
				total.Add(1)
				if got[f] == want[f] {
					pass.Add(1)
					continue
				}
				t.Errorf("%s:\n--- yamllint\n%s--- runner\n%s", f, want[f], got[f])
			}
			if code := ExitCode(sum.MaxLevel, false); code != wantCode {
				t.Errorf("exit code %d, yamllint %d", code, wantCode)
			}
			if all.String() != stdout.String() {
				t.Errorf("whole outputs differ")
			}
		})
	}
}
