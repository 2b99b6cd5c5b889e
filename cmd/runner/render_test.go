package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// runRender runs `runner render ARGS` in dir and returns stdout and the error.
func runRender(t *testing.T, dir string, args ...string) (string, error) {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chdir(dir); err != nil {
		t.Fatal(err)
	}
	defer os.Chdir(wd)
	cmd := newRenderCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&bytes.Buffer{})
	cmd.SetArgs(args)
	err = cmd.Execute()
	return out.String(), err
}

func TestRenderCmd(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"t.yaml.j2":   "user: {{ username }}\nversion: {{ version }}\n",
		"inc.j2":      "{% include 'lib/part.j2' %}\n",
		"lib/part.j2": "part {{ username }}",
		"d.json":      `{"username": "json", "version": 3}`,
		"d.env":       "username=envfile\nversion=4\n",
		"bad.j2":      "x\n{{ missing }}\n",
	} {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("username", "fromenv")
	t.Setenv("version", "sha1")

	if out, err := runRender(t, dir, "t.yaml.j2"); err != nil || out != "user: fromenv\nversion: sha1\n" {
		t.Errorf("environment context: %q %v", out, err)
	}
	if out, err := runRender(t, dir, "t.yaml.j2", "d.json", "--var", "version=9"); err != nil || out != "user: json\nversion: 9\n" {
		t.Errorf("json data + var: %q %v", out, err)
	}
	if out, err := runRender(t, dir, "t.yaml.j2", "d.env"); err != nil || out != "user: envfile\nversion: 4\n" {
		t.Errorf("env data: %q %v", out, err)
	}
	if out, err := runRender(t, dir, "inc.j2"); err != nil || out != "part fromenv\n" {
		t.Errorf("include from cwd: %q %v", out, err)
	}
	if _, err := runRender(t, dir, "t.yaml.j2", "-o", "out.yaml"); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "out.yaml")); string(b) != "user: fromenv\nversion: sha1\n" {
		t.Errorf("-o file: %q", b)
	}

	os.WriteFile(filepath.Join(dir, "keep.yaml"), []byte("old\n"), 0o644)
	_, err := runRender(t, dir, "bad.j2", "-o", "keep.yaml")
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != 1 || ee.err.Error() != "bad.j2:2:4: 'missing' is undefined" {
		t.Errorf("bad template: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "keep.yaml")); string(b) != "old\n" {
		t.Errorf("failed render changed the -o file: %q", b)
	}
}

func TestRenderCmdStdinAndLenient(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "t.j2"), []byte("{{ a }}-{{ missing }}\n"), 0o644)
	wd, _ := os.Getwd()
	os.Chdir(dir)
	defer os.Chdir(wd)
	cmd := newRenderCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetIn(bytes.NewBufferString("a: from-stdin\n"))
	cmd.SetArgs([]string{"t.j2", "-", "--format", "yaml", "--undefined"})
	if err := cmd.Execute(); err != nil || out.String() != "from-stdin-\n" {
		t.Errorf("stdin yaml, lenient: %q %v", out.String(), err)
	}
	cmd = newRenderCmd()
	cmd.SetIn(bytes.NewBufferString("{}"))
	cmd.SetArgs([]string{"t.j2", "-"})
	if err := cmd.Execute(); err == nil {
		t.Error("stdin without --format: want a usage error")
	}
}
