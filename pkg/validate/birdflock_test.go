package validate

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/birdflock/runner/pkg/render"
)

// The bird-flock templates of examples/, rendered as the pipeline renders
// them, are valid; the same manifests with the usual slips are not.
func TestBirdFlockTemplates(t *testing.T) {
	root := filepath.Join("..", "..", "examples", "bird-flock", "templates")
	names, _ := filepath.Glob(filepath.Join(root, "*.yaml.j2"))
	if len(names) != 6 {
		t.Fatalf("%d templates in %s, want 6", len(names), root)
	}
	eng, err := render.New(render.Options{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	v := newValidator(t, Options{})
	vars := map[string]any{"username": "alice", "version": "0123456789abcdef0123456789abcdef01234567"}
	var all []byte
	for _, n := range names {
		out, err := eng.RenderString(filepath.Base(n), vars)
		if err != nil {
			t.Fatal(err)
		}
		if res := v.Validate(filepath.Base(n), []byte(out)); !res.Valid() || len(res.Resources) == 0 {
			t.Errorf("%s: %v", n, res.Problems)
		}
		all = append(all, out...)
	}
	for _, slip := range []struct{ from, to, want string }{
		{"containerPort: 8080", `containerPort: "8080"`, "/ports/0/containerPort: expected integer, got string"},
		{"replicas: 1", "replicas: one", "/spec/replicas: expected integer, got string"},
		{"pathType: Prefix\n", "\n", `pathType: missing required field "pathType"`},
		{"revisionHistoryLimit", "revisionHistoryLimt", `unknown field "revisionHistoryLimt" (did you mean "revisionHistoryLimit"?)`},
	} {
		if !strings.Contains(string(all), slip.from) {
			t.Fatalf("templates no longer contain %q", slip.from)
		}
		bad := strings.Replace(string(all), slip.from, slip.to, 1)
		res := v.Validate("k8s.yaml", []byte(bad))
		if len(res.Problems) != 1 || !strings.Contains(res.Problems[0].String(), slip.want) {
			t.Errorf("%q -> %q: %v", slip.from, slip.to, res.Problems)
		}
	}
}
