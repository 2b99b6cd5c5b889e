package steps

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runValidateManifests(t *testing.T, ws string, inputs map[string]string) (*Context, string, error) {
	t.Helper()
	spec := ValidateManifests{}.Spec()
	all := map[string]string{}
	for _, in := range spec.Inputs {
		all[in.Name] = in.Default
	}
	for k, v := range inputs {
		all[k] = v
	}
	var log bytes.Buffer
	s := &Context{Inputs: all, Workspace: ws, Temp: t.TempDir(), Log: &log}
	err := ValidateManifests{}.Run(context.Background(), s)
	return s, log.String(), err
}

func vmWriteFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

const vmGoodService = "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  creationTimestamp: null\nspec:\n  ports:\n    - port: 80\n      targetPort: http\n"

func TestValidateManifestsDefaultPaths(t *testing.T) {
	ws := t.TempDir()
	vmWriteFile(t, filepath.Join(ws, "k8s", "svc.yaml"), vmGoodService)
	s, log, err := runValidateManifests(t, ws, nil)
	if err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	if s.Outputs()["valid"] != "true" || s.Outputs()["documents"] != "1" {
		t.Fatalf("outputs %v", s.Outputs())
	}
	if !strings.Contains(log, "1 valid, 0 invalid") {
		t.Fatalf("log: %s", log)
	}
}

func TestValidateManifestsInvalid(t *testing.T) {
	ws := t.TempDir()
	vmWriteFile(t, filepath.Join(ws, "k8s", "svc.yaml"), vmGoodService)
	vmWriteFile(t, filepath.Join(ws, "k8s", "deploy.yaml"),
		"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: \"one\"\n  selector: {matchLabels: {a: b}}\n  template: {}\n  colour: blue\n")
	s, log, err := runValidateManifests(t, ws, nil)
	if err == nil {
		t.Fatalf("invalid manifests passed\n%s", log)
	}
	for _, want := range []string{
		`k8s/deploy.yaml:6:13: document 1 (Deployment web): /spec/replicas: expected integer, got string`,
		`k8s/deploy.yaml:9:3: document 1 (Deployment web): /spec/colour: unknown field "colour"`,
	} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	if s.Outputs()["valid"] != "false" || s.Outputs()["invalid"] != "1" {
		t.Fatalf("outputs %v", s.Outputs())
	}

	// strict: false accepts the unknown field but not the wrong type.
	_, log, err = runValidateManifests(t, ws, map[string]string{"strict": "false"})
	if err == nil || strings.Contains(log, "colour") || !strings.Contains(log, "/spec/replicas") {
		t.Fatalf("non-strict: %v\n%s", err, log)
	}
	// skip-kinds by apiVersion/Kind.
	_, log, err = runValidateManifests(t, ws, map[string]string{"skip-kinds": "apps/v1/Deployment"})
	if err != nil {
		t.Fatalf("skip-kinds: %v\n%s", err, log)
	}
}

func TestValidateManifestsInputs(t *testing.T) {
	ws := t.TempDir()
	vmWriteFile(t, filepath.Join(ws, "a", "crd.yaml"), "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n")
	vmWriteFile(t, filepath.Join(ws, "b", "svc.yml"), vmGoodService)
	in := map[string]string{"paths": "a/*.yaml\nb"}
	if _, log, err := runValidateManifests(t, ws, in); err == nil || !strings.Contains(log, "unknown kind example.com/v1 Widget") {
		t.Fatalf("missing schema passed: %v\n%s", err, log)
	}
	in["ignore-missing-schemas"] = "true"
	in["kubernetes-version"] = "1.35"
	if _, log, err := runValidateManifests(t, ws, in); err != nil || !strings.Contains(log, "Kubernetes v1.35.4") {
		t.Fatalf("ignore-missing-schemas: %v\n%s", err, log)
	}
	for k, v := range map[string]string{"strict": "maybe", "kubernetes-version": "1.2", "paths": " , "} {
		if _, _, err := runValidateManifests(t, ws, map[string]string{k: v}); err == nil {
			t.Errorf("%s=%q accepted", k, v)
		}
	}
	if _, log, err := runValidateManifests(t, ws, map[string]string{"paths": "missing-dir"}); err == nil || !strings.Contains(log, "missing-dir: cannot read") {
		t.Errorf("missing dir: %v\n%s", err, log)
	}
}
