package serve_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/birdflock/runner/pkg/registry"
	"github.com/birdflock/runner/pkg/serve"
)

// A repository's registry-mirrors replace the service's for its runs: the
// built-ins pull through them. Here docker.io is only reachable through a
// loopback mirror, which one repository names and the other does not.
func TestRepositoryRegistryMirrors(t *testing.T) {
	ctx := context.Background()
	mirror, err := registry.Serve(ctx, "127.0.0.1:0", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer mirror.Close()
	dest, err := registry.Serve(ctx, "127.0.0.1:0", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer dest.Close()
	img, _ := random.Image(512, 1)
	if _, err := registry.New(registry.Options{}).Push(ctx, registry.FromImage(img), mirror.Addr()+"/library/tool", []string{"1"}); err != nil {
		t.Fatal(err)
	}
	wf := fmt.Sprintf(`name: Copy
on: workflow_dispatch
jobs:
  copy:
    runs-on: x
    steps:
      - uses: push-image
        with:
          image: docker.io/library/tool:1
          registry: %s/o
          name: tool
          tags: copied
`, dest.Addr())
	files := map[string]string{".github/workflows/copy.yaml": wf}
	mirrored := birds(t, files)
	s := start(t, serve.Config{Repositories: []serve.Repo{{Path: mirrored.dir, Name: "mona/mirrored", Branch: "main",
		RegistryMirrors: []string{"docker.io=http://" + mirror.Addr()}}}}, birds(t, files), 0)

	resp, body := do(t, "POST", s.URL+"/repos/mona/mirrored/actions/workflows/copy.yaml/dispatches", token, map[string]any{"ref": "main"})
	must(t, resp.StatusCode == http.StatusNoContent, "dispatch: %s %s", resp.Status, body)
	var id int
	fmt.Sscanf(resp.Header.Get("Location"), "/api/runs/%d", &id)
	must(t, s.done(t, id).conclusion() == "success", "the run of the mirrored repository failed:\n%s", s.logText(t, id))
	if _, err := registry.New(registry.Options{}).Digest(ctx, dest.Addr()+"/o/tool:copied"); err != nil {
		t.Fatalf("not copied through the repository's mirror: %v", err)
	}

	// mona/birds has no mirrors, and neither has the service: docker.io is
	// asked directly, which this machine cannot reach.
	other, _, _ := s.dispatch(t, "copy.yaml", nil)
	r := s.done(t, other)
	must(t, r.conclusion() == "failure", "the repository without mirrors pulled through another's: %+v", r)
	must(t, !strings.Contains(s.logText(t, other), mirror.Addr()), "the other repository's mirror was used:\n%s", s.logText(t, other))
}
