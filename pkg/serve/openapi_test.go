package serve_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/birdflock/runner/pkg/testenv"
)

// octokitModules is where `make octokit` installs @octokit/rest and
// @octokit/openapi; the test stops (fails under CI) without them or node.
func octokitModules(t testing.TB) string {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		testenv.Missing(t, "node is not on the PATH: apt-get install nodejs")
	}
	modules, err := filepath.Abs("../../.cache/npm-octokit/node_modules")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"@octokit/rest/package.json", "@octokit/openapi/generated/api.github.com.json"} {
		if _, err := os.Stat(filepath.Join(modules, p)); err != nil {
			testenv.Missing(t, "GitHub's REST client and API description are not installed in %s: run make octokit", modules)
		}
	}
	return modules
}

// apiSpec is GitHub's OpenAPI description of its REST API, its schemas
// made JSON Schema: OpenAPI 3.0's `nullable: true` becomes a "null"
// type (or a null alternative).
type apiSpec struct {
	doc      map[string]any
	compiler *jsonschema.Compiler
	mu       sync.Mutex
	schemas  map[string]*jsonschema.Schema
}

var (
	specOnce sync.Once
	spec     *apiSpec
	specErr  error
)

const specURL = "https://api.github.com/openapi.json"

func loadSpec(t testing.TB, modules string) *apiSpec {
	t.Helper()
	specOnce.Do(func() {
		f, err := os.Open(filepath.Join(modules, "@octokit/openapi/generated/api.github.com.json"))
		if err != nil {
			specErr = err
			return
		}
		defer f.Close()
		doc, err := jsonschema.UnmarshalJSON(f)
		if err != nil {
			specErr = err
			return
		}
		nullables(doc)
		c := jsonschema.NewCompiler()
		c.DefaultDraft(jsonschema.Draft4) // OpenAPI 3.0: $ref replaces its siblings
		c.AssertFormat()
		if err := c.AddResource(specURL, doc); err != nil {
			specErr = err
			return
		}
		spec = &apiSpec{doc: doc.(map[string]any), compiler: c, schemas: map[string]*jsonschema.Schema{}}
	})
	if specErr != nil {
		t.Fatalf("GitHub's API description: %v", specErr)
	}
	return spec
}

// nullables rewrites OpenAPI 3.0's nullable into JSON Schema, in place.
func nullables(v any) {
	switch v := v.(type) {
	case []any:
		for _, e := range v {
			nullables(e)
		}
	case map[string]any:
		for _, e := range v {
			nullables(e)
		}
		if n, _ := v["nullable"].(bool); !n {
			return
		}
		delete(v, "nullable")
		if enum, ok := v["enum"].([]any); ok {
			v["enum"] = append(enum, nil)
		}
		switch typ := v["type"].(type) {
		case string:
			v["type"] = []any{typ, "null"}
		default:
			inner := map[string]any{}
			for k, e := range v {
				inner[k] = e
				delete(v, k)
			}
			v["anyOf"] = []any{inner, map[string]any{"type": "null"}}
		}
	}
}

// check validates one answer of operation method path (a path template
// of the description) against its documented status codes and, for a
// JSON body, the response schema of its status.
func (s *apiSpec) check(method, path string, status int, body any) error {
	op, ok := s.op(method, path)
	if !ok {
		return fmt.Errorf("%s %s is not in GitHub's API description", method, path)
	}
	responses, _ := op["responses"].(map[string]any)
	code := fmt.Sprint(status)
	resp, ok := responses[code].(map[string]any)
	if !ok {
		// A redirect followed by the client (GitHub's log downloads).
		if _, redirect := responses["302"]; redirect && status == 200 {
			if _, text := body.(string); text {
				return nil
			}
		}
		var codes []string
		for c := range responses {
			codes = append(codes, c)
		}
		sort.Strings(codes)
		return fmt.Errorf("%s %s: status %d, documented %v", method, path, status, codes)
	}
	content, _ := resp["content"].(map[string]any)
	if _, ok := content["application/json"]; !ok {
		if body != nil && body != "" {
			if _, text := body.(string); !text {
				return fmt.Errorf("%s %s: status %d documents no JSON body, got %v", method, path, status, body)
			}
		}
		return nil
	}
	ptr := "#/paths/" + pointerEscape(path) + "/" + strings.ToLower(method) + "/responses/" + code + "/content/application~1json/schema"
	s.mu.Lock()
	sch, ok := s.schemas[ptr]
	if !ok {
		var err error
		if sch, err = s.compiler.Compile(specURL + ptr); err != nil {
			s.mu.Unlock()
			return fmt.Errorf("compile %s: %w", ptr, err)
		}
		s.schemas[ptr] = sch
	}
	s.mu.Unlock()
	if err := sch.Validate(body); err != nil {
		return fmt.Errorf("%s %s (%d): %v", method, path, status, err)
	}
	return nil
}

func (s *apiSpec) op(method, path string) (map[string]any, bool) {
	paths, _ := s.doc["paths"].(map[string]any)
	item, _ := paths[path].(map[string]any)
	op, ok := item[strings.ToLower(method)].(map[string]any)
	return op, ok
}

// template finds the path template of the description that a request
// URL matches ("" for none).
func (s *apiSpec) template(method, rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return ""
	}
	segs := strings.Split(strings.TrimPrefix(u.Path, "/api/v3"), "/")
	paths, _ := s.doc["paths"].(map[string]any)
	for p := range paths {
		tsegs := strings.Split(p, "/")
		if len(tsegs) != len(segs) {
			continue
		}
		match := true
		for i, ts := range tsegs {
			if ts != segs[i] && !strings.HasPrefix(ts, "{") {
				match = false
				break
			}
		}
		if _, ok := s.op(method, p); match && ok {
			return p
		}
	}
	return ""
}

// pointerEscape escapes a path for a JSON pointer in a URI fragment.
func pointerEscape(p string) string {
	p = strings.ReplaceAll(strings.ReplaceAll(p, "~", "~0"), "/", "~1")
	return strings.NewReplacer("{", "%7B", "}", "%7D").Replace(p)
}

// octokitCall is one request the Octokit script made, as its request hook
// saw it: the endpoint's path template, the status and the parsed body.
type octokitCall struct {
	Method string          `json:"method"`
	Path   string          `json:"path"`
	URL    string          `json:"url"`
	Status int             `json:"status"`
	Link   string          `json:"link"`
	Data   json.RawMessage `json:"data"`
}

// runOctokit runs a script (an ES module) with @octokit/rest against the
// server at base with env, and returns what it printed on its last line
// and the calls it made; each call is checked against GitHub's API
// description.
func runOctokit(t testing.TB, modules, script string, env ...string) (map[string]json.RawMessage, []octokitCall) {
	t.Helper()
	dir := t.TempDir()
	if err := os.Symlink(modules, filepath.Join(dir, "node_modules")); err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("testdata/octokit/harness.mjs")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "harness.mjs"), src, 0o644)
	os.WriteFile(filepath.Join(dir, "script.mjs"), []byte(script), 0o644)
	cmd := exec.Command("node", "script.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.Output()
	var stderr string
	if ee, ok := err.(*exec.ExitError); ok {
		stderr = string(ee.Stderr)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	var res struct {
		Result map[string]json.RawMessage `json:"result"`
		Calls  []octokitCall              `json:"calls"`
		Error  string                     `json:"error"`
	}
	if jerr := json.Unmarshal([]byte(lines[len(lines)-1]), &res); jerr != nil || err != nil || res.Error != "" {
		t.Fatalf("octokit script: %v %s\n%s\nstdout:\n%s\nstderr:\n%s", err, res.Error, jerr, out, stderr)
	}
	sp := loadSpec(t, modules)
	for _, c := range res.Calls {
		var body any
		if len(c.Data) > 0 {
			v, err := jsonschema.UnmarshalJSON(strings.NewReader(string(c.Data)))
			if err != nil {
				t.Fatalf("%s %s: body: %v", c.Method, c.URL, err)
			}
			body = v
		}
		if c.Status >= 400 {
			// Errors are GitHub's shape: message and documentation_url.
			m, _ := body.(map[string]any)
			if _, ok := m["message"].(string); !ok {
				t.Errorf("%s %s: %d without GitHub's error body: %s", c.Method, c.URL, c.Status, c.Data)
			}
			if _, ok := m["documentation_url"].(string); !ok {
				t.Errorf("%s %s: %d without documentation_url: %s", c.Method, c.URL, c.Status, c.Data)
			}
			continue
		}
		if strings.HasPrefix(c.Path, "http") {
			// octokit.paginate follows the Link header's URLs.
			c.Path = sp.template(c.Method, c.Path)
		}
		if err := sp.check(c.Method, c.Path, c.Status, body); err != nil {
			t.Errorf("%s: %v", c.URL, err)
		}
	}
	return res.Result, res.Calls
}
