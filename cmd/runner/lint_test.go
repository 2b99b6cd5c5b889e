package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/birdflock/runner/pkg/testenv"
)

func yamllintBin(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat("/usr/bin/yamllint"); err != nil {
		testenv.Missing(t, "yamllint not installed (apt-get install yamllint): %v", err)
	}
	return "/usr/bin/yamllint"
}

// runLintCmd runs `runner lint ARGS` in dir and returns stdout, stderr and
// the exit code.
func runLintCmd(t *testing.T, dir, stdin string, args ...string) (string, string, int) {
	t.Helper()
	t.Chdir(dir) // restored when the test ends; never in parallel tests
	cmd := newLintCmd()
	var out, errb bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errb)
	cmd.SetIn(strings.NewReader(stdin))
	cmd.SetArgs(args)
	code := 0
	if err := cmd.Execute(); err != nil {
		var ee *exitError
		if !errors.As(err, &ee) {
			t.Fatalf("lint %v: %v", args, err)
		}
		code = ee.code
		if ee.err.Error() != "" {
			errb.WriteString(ee.err.Error() + "\n")
		}
	}
	return out.String(), errb.String(), code
}

func runYamllint(t *testing.T, dir, stdin string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(yamllintBin(t), args...)
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Env = append(os.Environ(), "XDG_CONFIG_HOME="+dir)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	_ = cmd.Run()
	return out.String(), errb.String(), cmd.ProcessState.ExitCode()
}

func TestLintCommandMatchesYamllint(t *testing.T) {
	yamllintBin(t)
	dir := t.TempDir()
	files := map[string]string{
		"errors.yaml":   "---\nkey:  value\nlist: [ 1]\n",
		"warnings.yaml": "key: yes\n",
		"clean.yaml":    "---\nkey: value\n",
		"sub/a.yml":     "---\na: 1\na: 2\n",
		"sub/notes.txt": "not: [yaml\n",
		"cfg.yaml":      "extends: relaxed\n",
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("XDG_CONFIG_HOME", dir) // no user-global configuration
	t.Setenv("GITHUB_ACTIONS", "")
	os.Unsetenv("GITHUB_ACTIONS")
	cases := [][]string{
		{"-f", "parsable", "errors.yaml"},
		{"-f", "parsable", "warnings.yaml"},
		{"-s", "-f", "parsable", "warnings.yaml"},
		{"-s", "-f", "parsable", "clean.yaml"},
		{"-f", "standard", "errors.yaml", "warnings.yaml", "clean.yaml"},
		{"-f", "github", "errors.yaml", "warnings.yaml"},
		{"-f", "colored", "--no-warnings", "errors.yaml", "warnings.yaml"},
		{"-c", "cfg.yaml", "-f", "parsable", "errors.yaml", "warnings.yaml"},
		{"-d", "relaxed", "-s", "-f", "parsable", "errors.yaml"},
		{"-d", "rules: {nope: enable}", "clean.yaml"},
		{"-f", "parsable", "sub"},
		{"-f", "parsable", "missing.yaml"},
		{"--list-files", "."},
		{"-f", "parsable", "-"},
	}
	for _, args := range cases {
		stdin := ""
		if args[len(args)-1] == "-" {
			stdin = "key:   yes\n"
		}
		wantOut, wantErr, wantCode := runYamllint(t, dir, stdin, args...)
		gotOut, gotErr, gotCode := runLintCmd(t, dir, stdin, args...)
		if args[0] == "--list-files" { // directory order differs: compare sets
			wantOut, gotOut = sortLines(wantOut), sortLines(gotOut)
		}
		if gotOut != wantOut || gotCode != wantCode {
			t.Errorf("lint %q:\n got (exit %d)\n%s\nwant (exit %d)\n%s", args, gotCode, gotOut, wantCode, wantOut)
		}
		if strings.Contains(args[1], "nope") && gotErr != wantErr {
			t.Errorf("lint %q: stderr %q, want %q", args, gotErr, wantErr)
		}
		if args[len(args)-1] == "missing.yaml" && (gotErr == "" || wantErr == "") {
			t.Errorf("lint %q: stderr %q, yamllint %q", args, gotErr, wantErr)
		}
	}
}

func sortLines(s string) string {
	l := strings.Split(strings.TrimSpace(s), "\n")
	sort.Strings(l)
	return strings.Join(l, "\n")
}
