package validate

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestValidatePaths(t *testing.T) {
	dir := t.TempDir()
	write := func(rel, content string) string {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for i := 0; i < 40; i++ {
		write(fmt.Sprintf("k8s/sub/cm-%02d.yaml", i), fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-%d\n", i))
	}
	bad := write("k8s/bad.yml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bad\nspec: {}\n")
	write("k8s/README.md", "not a manifest")
	write("empty/notes.txt", "")

	v := newValidator(t, Options{})
	res, err := v.ValidatePaths(context.Background(), []string{filepath.Join(dir, "k8s"), filepath.Join(dir, "k8s", "sub", "cm-0*.yaml"),
		filepath.Join(dir, "nope"), filepath.Join(dir, "*.none"), filepath.Join(dir, "empty")})
	if err != nil {
		t.Fatal(err)
	}
	if res.Files != 41+10 || len(res.Resources) != 51 {
		t.Errorf("%d files, %d resources", res.Files, len(res.Resources))
	}
	// Results follow the argument order and the (lexical) directory walk.
	if res.Resources[0].File != bad || !strings.HasSuffix(res.Resources[1].File, "cm-00.yaml") {
		t.Errorf("order: %s, %s", res.Resources[0].File, res.Resources[1].File)
	}
	var msgs []string
	for _, p := range res.Problems {
		msgs = append(msgs, p.String())
	}
	got := strings.Join(msgs, "\n")
	for _, want := range []string{
		filepath.Join(dir, "nope") + ": cannot read: no such file or directory",
		filepath.Join(dir, "*.none") + ": no file matches",
		filepath.Join(dir, "empty") + ": no manifest (*.yaml, *.yml, *.json) in directory",
		bad + `:5:1: document 1 (ConfigMap bad): /spec: unknown field "spec"`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
	if len(res.Problems) != 4 {
		t.Errorf("%d problems:\n%s", len(res.Problems), got)
	}
	if s := res.Summary(); s.Invalid != 1 || s.Valid != 50 {
		t.Errorf("summary %+v", s)
	}
}

func TestValidatePathsCancelled(t *testing.T) {
	dir := t.TempDir()
	for i := 0; i < 20; i++ {
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("m%d.yaml", i)), []byte("apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n"), 0o644)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res, err := newValidator(t, Options{}).ValidatePaths(ctx, []string{dir})
	if !errors.Is(err, context.Canceled) || len(res.Resources) != 0 {
		t.Fatalf("err %v, %d resources", err, len(res.Resources))
	}
}
