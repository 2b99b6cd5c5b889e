package workflow_test

import (
	"os"
	"testing"

	"github.com/birdflock/runner/pkg/steps"
	"github.com/birdflock/runner/pkg/workflow"
)

// Cases from GitHub's filter pattern cheat sheet.
func TestMatchFilter(t *testing.T) {
	for _, c := range []struct {
		pattern, name string
		want          bool
	}{
		{"feature/*", "feature/my-branch", true},
		{"feature/*", "feature/your/branch", false},
		{"feature/**", "feature/beta-a/my-branch", true},
		{"feature/**", "feature/", true},
		{"main", "main", true},
		{"main", "mainline", false},
		{"*", "main", true},
		{"*", "releases/v1", false},
		{"**", "all/the/branches", true},
		{"v2*", "v2.0", true},
		{"v2*", "v1.0", false},
		{"v[12].[0-9]+.[0-9]+", "v1.10.1", true},
		{"v[12].[0-9]+.[0-9]+", "v3.0.0", false},
		{"v[12].[0-9]+.[0-9]+", "v2..1", false},
		{"*.jsx?", "page.js", true},
		{"*.jsx?", "page.jsx", true},
		{"*.jsx?", "src/page.js", false},
		{"**.js", "src/a/index.js", true},
		{"docs/*", "docs/README.md", true},
		{"docs/*", "docs/a/README.md", false},
		{"docs/**", "docs/mona/octocat.txt", true},
		{"docs/**/*.md", "docs/a/markdown/file.md", true},
		{"docs/**/*.md", "docs/file.md", true},
		{"**/docs/**", "a/docs/b/c.txt", true},
		{"**/docs/**", "docs/c.txt", true},
		{"**/README.md", "README.md", true},
		{"**/README.md", "js/README.md", true},
		{"**/*src/**", "a/foosrc/b.c", true},
		{"**/*-post.md", "my-post.md", true},
		{"**/*-post.md", "path/their-post.md", true},
		{"migrate-*.sql", "migrate-10909.sql", true},
		{"k8s/**", "k8s/deploy.yaml", true},
		{"k8s/**", "back-end/k8s.go", false},
		{`a\*b`, "a*b", true},
		{`a\*b`, "axb", false},
		{"[", "[", true},
	} {
		if got := workflow.MatchFilter(c.pattern, c.name); got != c.want {
			t.Errorf("MatchFilter(%q, %q) = %v, want %v", c.pattern, c.name, got, c.want)
		}
	}
}

func pushFilter(t *testing.T, on string) *workflow.PushFilter {
	t.Helper()
	src := "on:\n  push:\n" + on + "jobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: 'true'\n"
	w, errs := workflow.Load("w.yaml", []byte(src), workflow.Options{Builtins: steps.NewSet()})
	if len(errs) > 0 {
		t.Fatalf("%v\n%s", errs, src)
	}
	return w.On.Push
}

func TestPushFilterMatches(t *testing.T) {
	type push struct {
		ref   string
		files []string
		want  bool
	}
	for _, c := range []struct {
		on     string
		pushes []push
	}{
		{"", []push{{"refs/heads/x", []string{"a"}, true}, {"refs/tags/v1", nil, true}}},
		{"    paths-ignore: ['k8s/**']\n", []push{
			{"refs/heads/main", []string{"k8s/be.yaml", "k8s/fe.yaml"}, false},
			{"refs/heads/main", []string{"k8s/be.yaml", "back-end/main.go"}, true},
			{"refs/heads/main", nil, true},
			{"refs/tags/v1", []string{"k8s/be.yaml"}, true}, // paths are not evaluated for tags
		}},
		{"    branches: [main, 'releases/**', '!releases/**-alpha']\n", []push{
			{"refs/heads/main", nil, true},
			{"refs/heads/releases/10", nil, true},
			{"refs/heads/releases/10-alpha", nil, false},
			{"refs/heads/dev", nil, false},
			{"refs/tags/v1", nil, false}, // only branches defined: tags never run
		}},
		{"    branches-ignore: ['mona/octocat', 'releases/**-alpha']\n", []push{
			{"refs/heads/mona/octocat", nil, false},
			{"refs/heads/releases/beta/3-alpha", nil, false},
			{"refs/heads/main", nil, true},
		}},
		{"    tags: ['v2*']\n", []push{
			{"refs/tags/v2.1", nil, true},
			{"refs/tags/v1.1", nil, false},
			{"refs/heads/main", nil, false}, // only tags defined: branches never run
		}},
		{"    paths: ['*.md', '!README.md', 'README*']\n", []push{
			{"refs/heads/main", []string{"README.md"}, true},
			{"refs/heads/main", []string{"docs.md"}, true},
			{"refs/heads/main", []string{"main.go"}, false},
		}},
		{"    paths: ['sub/**', '!sub/docs/**']\n", []push{
			{"refs/heads/main", []string{"sub/docs/a.md"}, false},
			{"refs/heads/main", []string{"sub/docs/a.md", "sub/x.go"}, true},
		}},
		{"    branches: [main]\n    paths: ['src/**']\n", []push{
			{"refs/heads/main", []string{"src/a.go"}, true},
			{"refs/heads/main", []string{"doc/a.md"}, false},
			{"refs/heads/dev", []string{"src/a.go"}, false},
		}},
	} {
		f := pushFilter(t, c.on)
		for _, p := range c.pushes {
			if got := f.Matches(p.ref, p.files); got != p.want {
				t.Errorf("on.push:\n%s  Matches(%q, %q) = %v, want %v", c.on, p.ref, p.files, got, p.want)
			}
		}
	}
	var none *workflow.PushFilter
	if !none.Matches("refs/heads/main", []string{"a"}) {
		t.Error("nil filter must match")
	}
}

// The bird-flock workflow: the bot's k8s/-only commit runs nothing.
func TestBirdFlockPushFilter(t *testing.T) {
	data, err := os.ReadFile("../../workflows/build-bird-app.yaml")
	if err != nil {
		t.Fatal(err)
	}
	w, errs := workflow.Load("build-bird-app.yaml", data, workflow.Options{Builtins: steps.Default()})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if !w.On.Has("push") || w.On.Push == nil {
		t.Fatal("no push trigger")
	}
	if w.On.Push.Matches("refs/heads/main", []string{"k8s/birds-app-back-end-deployment.yaml", "k8s/birds-app-front-end-deployment.yaml"}) {
		t.Error("the bot's k8s/-only commit must not run the workflow")
	}
	if !w.On.Push.Matches("refs/heads/main", []string{"back-end/birds.json"}) {
		t.Error("a change to back-end/birds.json must run the workflow")
	}
}
