// Command genschemas turns the OpenAPI v2 spec of a Kubernetes release into
// the JSON-schema bundles that pkg/validate embeds. It is run by `go generate`
// in pkg/validate; its output is committed, so builds and tests never run it.
//
// For each Kubernetes version it writes two gzipped JSON documents, in the
// spirit of kubeconform's "-standalone" and "-standalone-strict" schema sets:
// every definition of the spec under $defs (no external $ref), plus an index
// from "group/version/Kind" to the definition that describes it. Strict adds
// additionalProperties: false to every object with declared properties.
package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

func main() {
	versions := flag.String("k8s-version", "", "comma-separated Kubernetes versions (e.g. v1.37.2): each module is fetched with `go mod download`")
	spec := flag.String("spec", "", "path of a swagger.json to read instead of the module's (default: from -k8s-version; one version only)")
	out := flag.String("out", "schemas", "output directory")
	flag.Parse()
	list := strings.Split(*versions, ",")
	if *spec != "" && len(list) > 1 {
		fmt.Fprintln(os.Stderr, "genschemas: -spec needs exactly one -k8s-version")
		os.Exit(2)
	}
	for _, v := range list {
		if err := run(strings.TrimSpace(v), *spec, *out); err != nil {
			fmt.Fprintln(os.Stderr, "genschemas:", err)
			os.Exit(1)
		}
	}
}

func run(version, spec, out string) error {
	if version == "" {
		return errors.New("-k8s-version is required")
	}
	if spec == "" {
		dir, err := moduleDir("k8s.io/kubernetes@" + version)
		if err != nil {
			return err
		}
		spec = filepath.Join(dir, "api", "openapi-spec", "swagger.json")
	}
	raw, err := os.ReadFile(spec)
	if err != nil {
		return fmt.Errorf("read spec: %w", err)
	}
	var sw struct {
		Definitions map[string]map[string]any `json:"definitions"`
	}
	if err := json.Unmarshal(raw, &sw); err != nil {
		return fmt.Errorf("parse %s: %w", spec, err)
	}
	if len(sw.Definitions) == 0 {
		return fmt.Errorf("%s: no definitions", spec)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	for _, strict := range []bool{false, true} {
		bundle, err := convert(sw.Definitions, version, strict)
		if err != nil {
			return err
		}
		name := version + "-standalone"
		if strict {
			name += "-strict"
		}
		if err := writeGzip(filepath.Join(out, name+".json.gz"), bundle); err != nil {
			return err
		}
	}
	return nil
}

// moduleDir downloads a module through the Go proxy and returns its directory.
func moduleDir(mod string) (string, error) {
	cmd := exec.Command("go", "mod", "download", "-json", mod)
	cmd.Dir = os.TempDir() // outside any module: leave go.mod and go.sum alone
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go mod download %s: %w: %s", mod, err, stderr.String())
	}
	var info struct{ Dir, Error string }
	if err := json.Unmarshal(b, &info); err != nil {
		return "", fmt.Errorf("go mod download %s: %w", mod, err)
	}
	if info.Error != "" || info.Dir == "" {
		return "", fmt.Errorf("go mod download %s: %s", mod, info.Error)
	}
	return info.Dir, nil
}

func writeGzip(path string, v any) error {
	js, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return err
	}
	if _, err := zw.Write(js); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, buf.Bytes(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// converter holds the spec while it is rewritten into JSON Schema 2020-12.
type converter struct {
	defs   map[string]map[string]any
	strict bool
}

const refPrefix = "#/definitions/"

func convert(defs map[string]map[string]any, version string, strict bool) (map[string]any, error) {
	c := &converter{defs: defs, strict: strict}
	outDefs := map[string]any{}
	kinds := map[string]string{}
	names := make([]string, 0, len(defs))
	for n := range defs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		d := defs[name]
		if inlined(d) {
			continue // copied into each place that refers to it
		}
		s, err := c.schema(d, false)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		// The type is asserted where the definition is referenced, so that
		// an optional reference can also accept null.
		delete(s, "type")
		outDefs[name] = s
		gvks, _ := d["x-kubernetes-group-version-kind"].([]any)
		for _, g := range gvks {
			m, _ := g.(map[string]any)
			group, _ := m["group"].(string)
			ver, _ := m["version"].(string)
			kind, _ := m["kind"].(string)
			key := ver + "/" + kind
			if group != "" {
				key = group + "/" + key
			}
			if prev, dup := kinds[key]; dup && prev != name {
				return nil, fmt.Errorf("%s described by both %s and %s", key, prev, name)
			}
			kinds[key] = name
		}
	}
	return map[string]any{
		"$schema":           "https://json-schema.org/draft/2020-12/schema",
		"$comment":          "generated by tools/genschemas from the OpenAPI spec of Kubernetes " + version + "; do not edit",
		"kubernetesVersion": version,
		"strict":            strict,
		"kinds":             kinds,
		"$defs":             outDefs,
	}, nil
}

// inlined reports whether a definition is a scalar (Quantity, Time,
// IntOrString, JSON, ...): those are copied at each use, so nullability can
// be expressed as a plain type list.
func inlined(d map[string]any) bool {
	t, _ := d["type"].(string)
	return t != "object"
}

// schema converts one OpenAPI schema. nullable marks an optional property:
// like the official JSON schemas, an optional field may be null.
func (c *converter) schema(in map[string]any, nullable bool) (map[string]any, error) {
	if ref, ok := in["$ref"].(string); ok {
		name, found := strings.CutPrefix(ref, refPrefix)
		d, exists := c.defs[name]
		if !found || !exists {
			return nil, fmt.Errorf("unresolved $ref %q", ref)
		}
		if inlined(d) {
			return c.schema(d, nullable)
		}
		return map[string]any{"$ref": "#/$defs/" + name, "type": typeList(nullable, "object")}, nil
	}
	out := map[string]any{}
	if t, ok := in["type"].(string); ok {
		types := []string{t}
		switch {
		case in["format"] == "int-or-string":
			types = []string{"string", "integer"}
		case t == "string" && in["format"] == nil && isQuantity(in):
			types = []string{"string", "number"}
		}
		out["type"] = typeList(nullable, types...)
	}
	if props, ok := in["properties"].(map[string]any); ok {
		req := map[string]bool{}
		if r, ok := in["required"].([]any); ok {
			out["required"] = r
			for _, n := range r {
				req[n.(string)] = true
			}
		}
		outProps := map[string]any{}
		for n, p := range props {
			pm, ok := p.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("property %s: not a schema", n)
			}
			s, err := c.schema(pm, !req[n])
			if err != nil {
				return nil, fmt.Errorf("property %s: %w", n, err)
			}
			outProps[n] = s
		}
		out["properties"] = outProps
		if c.strict && in["additionalProperties"] == nil {
			out["additionalProperties"] = false
		}
	}
	// List items and map values accept null too, as in the official schemas
	// (Kubernetes decodes such a null to the zero value).
	if items, ok := in["items"].(map[string]any); ok {
		s, err := c.schema(items, true)
		if err != nil {
			return nil, fmt.Errorf("items: %w", err)
		}
		out["items"] = s
	}
	switch ap := in["additionalProperties"].(type) {
	case bool:
		out["additionalProperties"] = ap
	case map[string]any:
		s, err := c.schema(ap, true)
		if err != nil {
			return nil, fmt.Errorf("additionalProperties: %w", err)
		}
		out["additionalProperties"] = s
	}
	return out, nil
}

// isQuantity recognises resource.Quantity, which YAML often writes as a
// number (cpu: 1); the official schemas accept string or number.
func isQuantity(in map[string]any) bool {
	d, _ := in["description"].(string)
	return strings.HasPrefix(d, "Quantity is a fixed-point representation of a number.")
}

func typeList(nullable bool, types ...string) any {
	if nullable {
		types = append(types, "null")
	}
	if len(types) == 1 {
		return types[0]
	}
	out := make([]any, len(types))
	for i, t := range types {
		out[i] = t
	}
	return out
}
