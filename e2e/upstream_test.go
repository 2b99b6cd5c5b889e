package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/birdflock/runner/pkg/containertest"
)

// TestUpstreamLayout runs the workflow on a repository with the course's
// upstream shape (e2e/testdata/upstream, written here): a Create React App
// front-end built by react-scripts into front-end/build, whose served page
// is an empty root that React fills in the browser; templates and
// manifests named deployment-back-end.yaml(.j2) and so on, naming
// ghcr.io/USER images. Every job must pass (the front-end check is
// upstream's: a 200 with an HTML page) and the bot commits the manifests.
func TestUpstreamLayout(t *testing.T) {
	needPipeline(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	root := containertest.RepoRoot()
	tmp := t.TempDir()
	runner := buildRunner(t, ctx, root, tmp)
	state := filepath.Join(tmp, "state")
	srv, reg, client := seededRegistry(t, ctx, state)
	defer srv.Close()

	upstream := filepath.Join(root, "e2e", "testdata", "upstream")
	fork, origin := makeRepo(t, root, filepath.Join(tmp, "upstream"), map[string]string{
		"back-end":  filepath.Join(root, "examples", "bird-flock", "back-end"),
		"front-end": filepath.Join(upstream, "front-end"),
		"templates": filepath.Join(upstream, "templates"),
		"k8s":       filepath.Join(upstream, "k8s"),
	})
	sha := git(t, fork, "rev-parse", "HEAD")
	execWorkflow(t, ctx, runner, fork, state, reg, "upstream")

	for _, img := range []string{"birds-app-back-end", "birds-app-front-end"} {
		checkTags(t, ctx, client, reg+"/"+username+"/"+img, sha)
	}
	if msg := git(t, origin, "log", "-1", "--format=%s"); msg != "Publish new image" {
		t.Fatalf("origin HEAD is %q, want the bot's \"Publish new image\"", msg)
	}
	changed := strings.Fields(git(t, origin, "show", "--name-only", "--format=", "HEAD"))
	want := []string{
		"k8s/deployment-back-end.yaml", "k8s/deployment-front-end.yaml",
		"k8s/ingress-back-end.yaml", "k8s/ingress-front-end.yaml",
	}
	for _, f := range want {
		if !contains(changed, f) {
			t.Errorf("the bot's commit changes %v, want %s among them", changed, f)
		}
	}
	// Upstream's templates name ghcr.io/USER whatever the registry: the
	// manifests keep their shape, with the student's name and the version.
	dep := git(t, origin, "show", "HEAD:k8s/deployment-front-end.yaml")
	if w := "image: ghcr.io/" + username + "/birds-app-front-end:" + sha; !strings.Contains(dep, w) {
		t.Errorf("k8s/deployment-front-end.yaml does not say %q:\n%s", w, dep)
	}
	// No manifest of this project's own naming appeared beside upstream's.
	if _, err := os.Stat(filepath.Join(fork, "k8s", "back-end-deployment.yaml")); err == nil {
		t.Error("k8s/back-end-deployment.yaml appeared in an upstream-named repository")
	}
}
