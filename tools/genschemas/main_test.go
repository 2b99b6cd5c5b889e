package main

import (
	"compress/gzip"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const miniSpec = `{"definitions": {
  "io.k8s.api.apps.v1.Deployment": {
    "type": "object", "required": ["spec"],
    "properties": {
      "metadata": {"$ref": "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"},
      "spec": {"$ref": "#/definitions/io.k8s.api.apps.v1.DeploymentSpec"}
    },
    "x-kubernetes-group-version-kind": [{"group": "apps", "kind": "Deployment", "version": "v1"}]
  },
  "io.k8s.api.apps.v1.DeploymentSpec": {
    "type": "object", "required": ["selector"],
    "properties": {
      "replicas": {"type": "integer", "format": "int32", "description": "x"},
      "selector": {"type": "object", "additionalProperties": {"type": "string"}},
      "maxSurge": {"$ref": "#/definitions/io.k8s.apimachinery.pkg.util.intstr.IntOrString"},
      "cpu": {"$ref": "#/definitions/io.k8s.apimachinery.pkg.api.resource.Quantity"},
      "names": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "atomic"}
    }
  },
  "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta": {
    "type": "object",
    "properties": {"creationTimestamp": {"$ref": "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.Time"}}
  },
  "io.k8s.apimachinery.pkg.apis.meta.v1.Time": {"type": "string", "format": "date-time"},
  "io.k8s.apimachinery.pkg.util.intstr.IntOrString": {"type": "string", "format": "int-or-string"},
  "io.k8s.apimachinery.pkg.api.resource.Quantity": {"type": "string", "description": "Quantity is a fixed-point representation of a number. More."},
  "io.k8s.api.core.v1.Service": {
    "type": "object", "properties": {},
    "x-kubernetes-group-version-kind": [{"group": "", "kind": "Service", "version": "v1"}]
  }
}}`

func TestConvert(t *testing.T) {
	var sw struct {
		Definitions map[string]map[string]any `json:"definitions"`
	}
	if err := json.Unmarshal([]byte(miniSpec), &sw); err != nil {
		t.Fatal(err)
	}
	for _, strict := range []bool{false, true} {
		b, err := convert(sw.Definitions, "v9.9.9", strict)
		if err != nil {
			t.Fatal(err)
		}
		js, _ := json.Marshal(b)
		got := string(js)
		for _, want := range []string{
			`"kinds":{"apps/v1/Deployment":"io.k8s.api.apps.v1.Deployment","v1/Service":"io.k8s.api.core.v1.Service"}`,
			// required reference: not nullable; optional: nullable
			`"spec":{"$ref":"#/$defs/io.k8s.api.apps.v1.DeploymentSpec","type":"object"}`,
			`"metadata":{"$ref":"#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta","type":["object","null"]}`,
			`"creationTimestamp":{"type":["string","null"]}`,
			`"maxSurge":{"type":["string","integer","null"]}`,
			`"cpu":{"type":["string","number","null"]}`,
			`"replicas":{"type":["integer","null"]}`,
			`"selector":{"additionalProperties":{"type":["string","null"]},"type":"object"}`,
			`"names":{"items":{"type":["string","null"]},"type":["array","null"]}`,
		} {
			if !strings.Contains(got, want) {
				t.Errorf("strict=%v: missing %s in\n%s", strict, want, got)
			}
		}
		for _, absent := range []string{"description", "x-kubernetes", "format", "IntOrString\":", "Time\":"} {
			if strings.Contains(got, absent) {
				t.Errorf("strict=%v: %q should be gone:\n%s", strict, absent, got)
			}
		}
		closed := strings.Count(got, `"additionalProperties":false`)
		if strict && closed != 4 || !strict && closed != 0 {
			t.Errorf("strict=%v: %d closed objects", strict, closed)
		}
	}
}

func TestConvertErrors(t *testing.T) {
	for name, defs := range map[string]string{
		"unresolved": `{"A": {"type": "object", "properties": {"b": {"$ref": "#/definitions/Nope"}}}}`,
		"duplicate": `{"A": {"type": "object", "x-kubernetes-group-version-kind": [{"group": "", "kind": "K", "version": "v1"}]},
		               "B": {"type": "object", "x-kubernetes-group-version-kind": [{"group": "", "kind": "K", "version": "v1"}]}}`,
	} {
		var d map[string]map[string]any
		if err := json.Unmarshal([]byte(defs), &d); err != nil {
			t.Fatal(err)
		}
		if _, err := convert(d, "v0", true); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestRunWritesBundles(t *testing.T) {
	dir := t.TempDir()
	spec := filepath.Join(dir, "swagger.json")
	if err := os.WriteFile(spec, []byte(miniSpec), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	if err := run("v9.9.9", spec, out); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"v9.9.9-standalone.json.gz", "v9.9.9-standalone-strict.json.gz"} {
		f, err := os.Open(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		if err := json.NewDecoder(zr).Decode(&doc); err != nil {
			t.Fatal(err)
		}
		f.Close()
		if doc["kubernetesVersion"] != "v9.9.9" {
			t.Errorf("%s: %v", name, doc["kubernetesVersion"])
		}
	}
	if err := run("", spec, out); err == nil {
		t.Error("no version accepted")
	}
	if err := run("v1", filepath.Join(dir, "missing.json"), out); err == nil {
		t.Error("missing spec accepted")
	}
}
