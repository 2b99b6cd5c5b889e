package yamllint

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/birdflock/runner/pkg/testenv"
)

// referenceYamllint returns Debian's yamllint 1.29, failing under CI when
// it is missing and skipping otherwise.
func referenceYamllint(t testing.TB) string {
	t.Helper()
	const bin = "/usr/bin/yamllint"
	yamllintVersion.Do(func() {
		out, err := exec.Command(bin, "--version").Output()
		yamllintVersion.version, yamllintVersion.err = strings.TrimSpace(string(out)), err
	})
	err := yamllintVersion.err
	if err == nil && !strings.HasPrefix(yamllintVersion.version, "yamllint 1.29.") {
		err = fmt.Errorf("want yamllint 1.29, found %q", yamllintVersion.version)
	}
	if err == nil {
		return bin
	}
	testenv.Missing(t, "yamllint 1.29 not installed: %v", err)
	return ""
}

var yamllintVersion struct {
	sync.Once
	version string
	err     error
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

// splitByFile groups parsable output lines by their file prefix; a line
// without one continues the previous message (a key with a line break).
func splitByFile(out string, files []string) map[string]string {
	m := map[string]string{}
	last := ""
	for _, line := range strings.SplitAfter(out, "\n") {
		if line == "" {
			continue
		}
		found := false
		for _, f := range files {
			if strings.HasPrefix(line, f+":") {
				last, found = f, true
				break
			}
		}
		if found || last != "" {
			m[last] += line
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
			sum, err := LintPaths(context.Background(), &all, os.Stderr, files, conf, RunOptions{Format: FormatParsable})
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

// TestFormatsConformance compares every output format (and --no-warnings)
// with yamllint on a subset of the corpus.
func TestFormatsConformance(t *testing.T) {
	bin := referenceYamllint(t)
	files := []string{
		"testdata/corpus/comments.yaml", "testdata/corpus/k8s-deployment-good.yaml",
		"testdata/corpus/k8s-no-doc-start.yaml", "testdata/corpus/syntax-mapping-values.yaml",
		"testdata/corpus/unicode.yaml", "testdata/corpus/truthy.yaml",
	}
	conf := DefaultConfig()
	for _, format := range []string{FormatParsable, FormatStandard, FormatColored, FormatGitHub} {
		for _, noWarn := range []bool{false, true} {
			args := []string{"-d", "default", "-f", format}
			if noWarn {
				args = append(args, "--no-warnings")
			}
			cmd := exec.Command(bin, append(args, files...)...)
			want, _ := cmd.Output()
			var got bytes.Buffer
			if _, err := LintPaths(context.Background(), &got, os.Stderr, files, conf, RunOptions{Format: format, NoWarnings: noWarn}); err != nil {
				t.Fatal(err)
			}
			if got.String() != string(want) {
				t.Errorf("format %s no-warnings=%v:\n--- yamllint\n%s--- runner\n%s", format, noWarn, want, got.String())
			}
		}
	}
}

// TestConfigErrorsConformance checks that invalid configurations are
// rejected with yamllint's messages.
func TestConfigErrorsConformance(t *testing.T) {
	bin := referenceYamllint(t)
	configs := []string{
		"rules: {nope: enable}",
		"rules: {colons: {max-spaces-before: x}}",
		"rules: {colons: {nope: 1}}",
		"rules: {colons: {level: fatal}}",
		"rules: {braces: {forbid: maybe}}",
		"rules: {indentation: {spaces: true}}",
		"rules: {truthy: {allowed-values: [maybe]}}",
		"rules: {quoted-strings: {required: true, extra-allowed: [x]}}",
		"rules: {quoted-strings: {required: false, extra-allowed: [x]}}",
		"rules: {new-lines: {type: mac}}",
		"rules: {comments: {require-starting-space: 1}}",
		"rules: {colons: yes}",
		"ignore: 1",
		"yaml-files: x",
		"- a: b",
		"locale: 1",
		"rules: {line-length: {max: true}}",
		"rules: {truthy: {allowed-values: 'yes'}}",
		"rules: {indentation: {spaces: 0x4, indent-sequences: whatever}}",
		"extends: relaxed\nrules: {comments: enable, truthy: {level: warning}}",
		"rules: {document-end: {present: yes}}",
		"ignore: [1]",
		"ignore-from-file: 1",
		"ignore: x\nignore-from-file: y",
		"rules: {quoted-strings: {extra-required: [1]}}",
		"rules: {key-duplicates: {ignore: [1]}}",
		"relaxed",
		"default",
		"rules: {colons: disable, colons2: 1}",
		"{a: b}",
		"rules: {colons: [}",
		"rules:\n  colons:\n    max-spaces-after: 'x\n  bad",
		"rules: {float-values: {forbid-nan: 1}}",
		"rules: {octal-values: {forbid-implicit-octal: on}}",
		"rules: {empty-lines: {max: 1.5}}",
		"rules: {key-ordering: enable, braces: {forbid: non-empty}}",
		"yaml-files: ['*.yaml', 1]",
		"ignore: |\n  *.tmp\n  !keep.tmp\n",
	}
	// One Python process runs yamllint's own config code (as cli.run does
	// for -d) on every case: far faster than one yamllint per case.
	script := `
import json, sys
from yamllint.config import YamlLintConfig, YamlLintConfigError
for c in json.load(sys.stdin):
    if c != '' and ':' not in c:
        c = 'extends: ' + c
    try:
        YamlLintConfig(content=c)
        print(json.dumps(None))
    except YamlLintConfigError as e:
        print(json.dumps(str(e)))
`
	_ = bin
	in, _ := json.Marshal(configs)
	cmd := exec.Command("/usr/bin/python3", "-c", script)
	cmd.Stdin = bytes.NewReader(in)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python3: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(configs) {
		t.Fatalf("python printed %d lines for %d configs", len(lines), len(configs))
	}
	for i, c := range configs {
		var want *string
		if err := json.Unmarshal([]byte(lines[i]), &want); err != nil {
			t.Fatal(err)
		}
		_, err := ParseConfig(c)
		switch {
		case want == nil && err != nil:
			t.Errorf("%s: rejected (%v), yamllint accepts it", c, err)
		case want != nil && err == nil:
			t.Errorf("%s: accepted, yamllint says %q", c, *want)
		case want != nil && err.Error() != *want:
			t.Errorf("%s:\n got %q\nwant %q", c, err.Error(), *want)
		}
	}
}
