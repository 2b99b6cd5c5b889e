package steps

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func lintWorkspace(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func runLint(t *testing.T, ws string, inputs, env map[string]string) (string, *Context, error) {
	t.Helper()
	var log bytes.Buffer
	in := map[string]string{}
	for _, i := range (LintYAML{}).Spec().Inputs {
		in[i.Name] = i.Default
	}
	for k, v := range inputs {
		in[k] = v
	}
	s := &Context{Inputs: in, Env: env, Workspace: ws, Log: &log}
	err := (LintYAML{}).Run(context.Background(), s)
	return log.String(), s, err
}

const longLine = "---\nkey: " + "word " + "word word word word word word word word word word word word word word word word word\n"

func TestLintYAMLPipelineConfig(t *testing.T) {
	ws := lintWorkspace(t, map[string]string{
		"k8s/deployment.yaml": longLine,
		"k8s/service.yaml":    "---\nkind: Service\n",
	})
	// the pipeline's config allows 120 columns: clean
	log, s, err := runLint(t, ws, map[string]string{
		"paths":  "k8s/*",
		"config": "{extends: default, rules: {line-length: {max: 120}}}",
		"format": "parsable",
	}, nil)
	if err != nil {
		t.Fatalf("err = %v, log:\n%s", err, log)
	}
	if s.Outputs()["errors"] != "0" || s.Outputs()["warnings"] != "0" {
		t.Fatalf("outputs = %v", s.Outputs())
	}
	// default config: line too long is an error and fails the step
	log, s, err = runLint(t, ws, map[string]string{"paths": "k8s/*", "config": "default", "format": "parsable"}, nil)
	if err == nil {
		t.Fatal("want failure on line-length error")
	}
	want := "k8s/deployment.yaml:2:81: [error] line too long (94 > 80 characters) (line-length)\n"
	if !strings.HasPrefix(log, want) {
		t.Fatalf("log = %q, want prefix %q", log, want)
	}
	if s.Outputs()["errors"] != "1" {
		t.Fatalf("outputs = %v", s.Outputs())
	}
}

func TestLintYAMLWarningsAndStrict(t *testing.T) {
	ws := lintWorkspace(t, map[string]string{"a.yaml": "key: value\n"}) // missing "---": a warning
	log, _, err := runLint(t, ws, map[string]string{"format": "parsable"}, nil)
	if err != nil {
		t.Fatalf("warnings must not fail without strict: %v\n%s", err, log)
	}
	if !strings.Contains(log, `./a.yaml:1:1: [warning] missing document start "---" (document-start)`) {
		t.Fatalf("log = %q", log)
	}
	if _, _, err := runLint(t, ws, map[string]string{"format": "parsable", "strict": "true"}, nil); err == nil {
		t.Fatal("strict must fail on warnings")
	}
}

func TestLintYAMLAutoFormatGitHub(t *testing.T) {
	ws := lintWorkspace(t, map[string]string{"a.yaml": "---\nkey:  value\n"})
	env := map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_WORKFLOW": "Build Birds App"}
	log, _, err := runLint(t, ws, map[string]string{"paths": "a.yaml"}, env)
	if err == nil {
		t.Fatal("want failure")
	}
	want := "::group::a.yaml\n::error file=a.yaml,line=2,col=6::2:6 [colons] too many spaces after colon\n::endgroup::\n\n"
	if !strings.HasPrefix(log, want) {
		t.Fatalf("log = %q, want %q", log, want)
	}
	// without the GitHub variables, auto is the standard format
	log, _, _ = runLint(t, ws, map[string]string{"paths": "a.yaml"}, nil)
	if !strings.HasPrefix(log, "a.yaml\n  2:6       error    too many spaces after colon  (colons)\n") {
		t.Fatalf("log = %q", log)
	}
}

func TestLintYAMLConfigFileAndDiscovery(t *testing.T) {
	ws := lintWorkspace(t, map[string]string{
		"a.yaml":         "key: yes\n",
		"lint.yaml":      "extends: ./base.yaml\n",
		"base.yaml":      "extends: relaxed\nignore-from-file: .lintignore\n",
		".lintignore":    "ignored/\n",
		"ignored/x.yaml": "bad:   [ yaml ]\n",
		".yamllint":      "extends: default\nignore: ignored/\nrules:\n  document-start: disable\n  truthy: disable\n",
		"sub/b.yml":      "---\nb: 1\n",
		"sub/skip.txt":   "not: [yaml\n",
	})
	// .yamllint is found in the workspace: clean
	if log, _, err := runLint(t, ws, map[string]string{"format": "parsable", "strict": "true"}, nil); err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	// a config file path works like -c
	if log, _, err := runLint(t, ws, map[string]string{"config": "lint.yaml", "format": "parsable", "strict": "true"}, nil); err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	// bad config is a clear error
	_, _, err := runLint(t, ws, map[string]string{"config": "rules: {nope: enable}"}, nil)
	if err == nil || !strings.Contains(err.Error(), `no such rule: "nope"`) {
		t.Fatalf("err = %v", err)
	}
	// a glob that matches nothing is an error
	if _, _, err := runLint(t, ws, map[string]string{"paths": "k8s/*.yaml"}, nil); err == nil {
		t.Fatal("want error for an empty glob")
	}
}

func TestLintYAMLCancelled(t *testing.T) {
	ws := lintWorkspace(t, map[string]string{"a.yaml": "---\na: 1\n"})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var log bytes.Buffer
	s := &Context{Inputs: map[string]string{"paths": "."}, Workspace: ws, Log: &log}
	if err := (LintYAML{}).Run(ctx, s); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}
