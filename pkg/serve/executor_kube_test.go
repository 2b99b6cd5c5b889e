package serve_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/birdflock/runner/pkg/serve"
)

// TestExecutorConfig: the executor section is read strictly, and its
// errors name the config file and the section's line.
func TestExecutorConfig(t *testing.T) {
	dir := t.TempDir()
	write := func(text string) string {
		p := filepath.Join(dir, "serve.yaml")
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	_, err := serve.LoadConfig(write("capacity: 4\nexecutor:\n  kind: kubernetes\n  namespace: ci\n  image: reg/runner:1\n"))
	must(t, err == nil, "a kubernetes executor: %v", err)
	_, err = serve.LoadConfig(write("capacity: 4\nexecutor: {kind: local}\n"))
	must(t, err == nil, "kind local: %v", err)
	p := write("capacity: 4\nexecutor:\n  kind: kubernetes\n  templates:\n    big: {nodeselector: {a: b}}\n")
	_, err = serve.LoadConfig(p)
	must(t, err != nil && strings.Contains(err.Error(), p+": executor (line 3)") && strings.Contains(err.Error(), `unknown field "templates.big.nodeselector"`), "a typo in a template: %v", err)
	_, err = serve.LoadConfig(write("executor:\n  kind: docker\n"))
	must(t, err != nil && strings.Contains(err.Error(), `kind "docker": want local or kubernetes`), "kind docker: %v", err)
}
