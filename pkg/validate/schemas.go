package validate

import (
	"bytes"
	"compress/gzip"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

//go:embed schemas/*.json.gz
var bundled embed.FS

// DefaultKubernetesVersion is the newest bundled Kubernetes version (a test
// keeps it in step with generate.go).
const DefaultKubernetesVersion = "v1.37.2"

// ErrUnknownVersion is returned for a Kubernetes version with no bundled schemas.
var ErrUnknownVersion = errors.New("no bundled schemas for this Kubernetes version")

// KubernetesVersions lists the bundled Kubernetes versions, oldest first.
func KubernetesVersions() []string {
	entries, _ := fs.Glob(bundled, "schemas/*-standalone-strict.json.gz")
	var out []string
	for _, e := range entries {
		out = append(out, strings.TrimSuffix(strings.TrimPrefix(e, "schemas/"), "-standalone-strict.json.gz"))
	}
	slices.SortFunc(out, func(a, b string) int { return slices.Compare(versionParts(a), versionParts(b)) })
	return out
}

// versionParts splits "v1.37.2" into [1 37 2] (missing or bad parts are -1).
func versionParts(v string) []int {
	parts := strings.Split(strings.TrimPrefix(v, "v"), ".")
	out := []int{-1, -1, -1}
	for i := 0; i < len(parts) && i < 3; i++ {
		if n, err := strconv.Atoi(parts[i]); err == nil {
			out[i] = n
		}
	}
	return out
}

// resolveVersion accepts "1.37.2", "v1.37.2", "1.37" (newest bundled patch)
// and "" or "latest" (DefaultKubernetesVersion).
func resolveVersion(v string) (string, error) {
	if v == "" || v == "latest" || v == "master" {
		return DefaultKubernetesVersion, nil
	}
	if !strings.HasPrefix(v, "v") {
		v = "v" + v
	}
	vs := KubernetesVersions()
	for i := len(vs) - 1; i >= 0; i-- {
		if vs[i] == v || strings.HasPrefix(vs[i], v+".") {
			return vs[i], nil
		}
	}
	return "", fmt.Errorf("%w: %s (bundled: %s)", ErrUnknownVersion, v, strings.Join(vs, ", "))
}

// schemaSet is one bundle (a Kubernetes version, strict or not) with its
// compiled schemas, compiled on first use and then shared.
type schemaSet struct {
	version string
	url     string
	kinds   map[string]string // "group/version/Kind" -> definition name
	doc     any               // the bundle, for looking up declared fields

	mu       sync.Mutex
	compiler *jsonschema.Compiler
	compiled map[string]*jsonschema.Schema
}

// bundleDoc reads one embedded bundle as a JSON value.
func bundleDoc(version string, strict bool) (any, error) {
	name := bundleName(version, strict)
	f, err := bundled.Open("schemas/" + name + ".json.gz")
	if err != nil {
		return nil, fmt.Errorf("open schema bundle %s: %w", name, err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("schema bundle %s: %w", name, err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("schema bundle %s: %w", name, err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("schema bundle %s: %w", name, err)
	}
	return doc, nil
}

func bundleName(version string, strict bool) string {
	if strict {
		return version + "-standalone-strict"
	}
	return version + "-standalone"
}

func loadSchemaSet(version string, strict bool) (*schemaSet, error) {
	name := bundleName(version, strict)
	doc, err := bundleDoc(version, strict)
	if err != nil {
		return nil, err
	}
	m, _ := doc.(map[string]any)
	idx, _ := m["kinds"].(map[string]any)
	if len(idx) == 0 {
		return nil, fmt.Errorf("schema bundle %s: no kinds", name)
	}
	s := &schemaSet{
		version:  version,
		url:      bundleURL(name),
		kinds:    make(map[string]string, len(idx)),
		doc:      doc,
		compiler: jsonschema.NewCompiler(),
		compiled: map[string]*jsonschema.Schema{},
	}
	for k, v := range idx {
		s.kinds[k], _ = v.(string)
	}
	s.compiler.DefaultDraft(jsonschema.Draft2020)
	if err := s.compiler.AddResource(s.url, doc); err != nil {
		return nil, fmt.Errorf("schema bundle %s: %w", name, err)
	}
	return s, nil
}

// bundleURL names a bundle for the schema compiler. The compiler checks
// every document against its metaschema when first loaded (~100 ms for a
// bundle) but skips documents under json-schema.org; the bundles are our own
// generated output, checked against the metaschema by TestBundlesMetaValid,
// so they are loaded under that prefix.
func bundleURL(name string) string {
	return "https://json-schema.org/x-birdflock/k8s/" + name + ".json"
}

// gvkKey turns apiVersion and kind into the bundle's index key.
func gvkKey(apiVersion, kind string) string { return apiVersion + "/" + kind }

// schemaFor returns the compiled schema of a kind, or nil when the bundle
// has none.
func (s *schemaSet) schemaFor(apiVersion, kind string) (*jsonschema.Schema, error) {
	key := gvkKey(apiVersion, kind)
	def, ok := s.kinds[key]
	if !ok {
		return nil, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if sch, ok := s.compiled[key]; ok {
		return sch, nil
	}
	sch, err := s.compiler.Compile(s.url + "#/$defs/" + def)
	if err != nil {
		return nil, fmt.Errorf("compile schema of %s: %w", key, err)
	}
	s.compiled[key] = sch
	return sch, nil
}

// propertiesAt lists the fields declared by the schema at schemaURL (a
// location the validator reports), or nil.
func (s *schemaSet) propertiesAt(schemaURL string) []string {
	base, frag, ok := strings.Cut(schemaURL, "#")
	if !ok || base != s.url {
		return nil
	}
	cur := s.doc
	for _, tok := range strings.Split(strings.TrimPrefix(frag, "/"), "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[tok]
	}
	m, _ := cur.(map[string]any)
	props, _ := m["properties"].(map[string]any)
	out := make([]string, 0, len(props))
	for p := range props {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// knownKinds lists the bundle's keys, for messages and tests.
func (s *schemaSet) knownKinds() []string {
	out := make([]string, 0, len(s.kinds))
	for k := range s.kinds {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
