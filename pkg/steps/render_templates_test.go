package steps

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func renderCtx(ws string, inputs map[string]string) *Context {
	in := map[string]string{}
	for _, i := range (RenderTemplates{}).Spec().Inputs {
		in[i.Name] = i.Default
	}
	for k, v := range inputs {
		in[k] = v
	}
	return &Context{
		Inputs:    in,
		Env:       map[string]string{"username": "octocat", "version": "abc123", "tier": "env"},
		Workspace: ws,
		Log:       &bytes.Buffer{},
	}
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestRenderTemplates(t *testing.T) {
	ws := t.TempDir()
	writeFiles(t, ws, map[string]string{
		"templates/deploy.yaml.j2":  "image: ghcr.io/{{ username }}/app:{{ version }}\ntier: {{ tier }}\nreplicas: {{ replicas }}\n",
		"templates/service.yaml.j2": "{% include 'templates/_name.j2' %}: {{ port }}\n",
		"templates/_name.j2":        "name-{{ username }}",
		"data.yaml":                 "replicas: 2\nport: 80\ntier: data\n",
		"k8s/old.yaml":              "stale\n",
	})
	s := renderCtx(ws, map[string]string{
		"templates": "templates/deploy.yaml.j2\ntemplates/service*.j2",
		"data":      "data.yaml",
		"vars":      "tier=vars\nversion = v2\n",
	})
	if err := (RenderTemplates{}).Run(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(ws, "k8s/deploy.yaml")); got != "image: ghcr.io/octocat/app:v2\ntier: vars\nreplicas: 2\n" {
		t.Errorf("deploy.yaml = %q", got)
	}
	if got := readFile(t, filepath.Join(ws, "k8s/service.yaml")); got != "name-octocat: 80\n" {
		t.Errorf("service.yaml = %q", got)
	}
	if _, err := os.Stat(filepath.Join(ws, "k8s/old.yaml")); !os.IsNotExist(err) {
		t.Errorf("clean: old.yaml still there (%v)", err)
	}
	if got := s.Outputs()["files"]; got != "k8s/deploy.yaml\nk8s/service.yaml" {
		t.Errorf("files output = %q", got)
	}
}

func TestRenderTemplatesFailureChangesNothing(t *testing.T) {
	ws := t.TempDir()
	writeFiles(t, ws, map[string]string{
		"templates/a.yaml.j2": "a: {{ username }}\n",
		"templates/b.yaml.j2": "b: {{ nope }}\n",
		"k8s/a.yaml":          "old\n",
		"k8s/x.yaml":          "other\n",
	})
	err := (RenderTemplates{}).Run(context.Background(), renderCtx(ws, nil))
	if err == nil || !strings.Contains(err.Error(), "templates/b.yaml.j2:1:7") || !strings.Contains(err.Error(), "'nope' is undefined") {
		t.Fatalf("error %v, want templates/b.yaml.j2:1:7 ... 'nope' is undefined", err)
	}
	if got := readFile(t, filepath.Join(ws, "k8s/a.yaml")); got != "old\n" {
		t.Errorf("a.yaml changed: %q", got)
	}
	if got := readFile(t, filepath.Join(ws, "k8s/x.yaml")); got != "other\n" {
		t.Errorf("x.yaml changed: %q", got)
	}
	entries, _ := os.ReadDir(filepath.Join(ws, "k8s"))
	if len(entries) != 2 {
		t.Errorf("k8s has %d entries, want 2 (no temp files)", len(entries))
	}
}

func TestRenderTemplatesNoMatch(t *testing.T) {
	err := (RenderTemplates{}).Run(context.Background(), renderCtx(t.TempDir(), nil))
	if err == nil || !strings.Contains(err.Error(), "no file matches") {
		t.Fatalf("error %v, want no file matches", err)
	}
}

func TestRenderTemplatesRegistered(t *testing.T) {
	if _, ok := Default().Lookup("render-templates"); !ok {
		t.Fatal("render-templates is not in Default()")
	}
}
