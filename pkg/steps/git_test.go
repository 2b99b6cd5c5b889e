package steps

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/birdflock/runner/pkg/gitrepo"
	"github.com/birdflock/runner/pkg/gitrepo/gittest"
)

// stepContext builds what the engine would pass: declared defaults plus
// the given inputs.
func stepContext(b Builtin, ws string, run RunInfo, inputs map[string]string) (*Context, *bytes.Buffer) {
	in := map[string]string{}
	for _, i := range b.Spec().Inputs {
		in[i.Name] = i.Default
	}
	for k, v := range inputs {
		in[k] = v
	}
	log := &bytes.Buffer{}
	return &Context{Inputs: in, Env: map[string]string{}, Workspace: ws, Temp: os.TempDir(), Run: run, Log: log}, log
}

// birdRepo is a bare origin and the user's working clone, with a source
// commit and a bot commit (k8s/ only) on top of the seed.
func birdRepo(t *testing.T) (origin, local, source string) {
	t.Helper()
	base := t.TempDir()
	origin = filepath.Join(base, "alice", "birds.git")
	gittest.Origin(t, origin, map[string]string{
		"back-end/main.go": "package main\n", "k8s/app.yaml": "image: old\n", "templates/a.j2": "{{ version }}\n",
	})
	local = filepath.Join(base, "local")
	gittest.Clone(t, origin, local)
	source = gittest.Commit(t, local, map[string]string{"back-end/birds.json": "[]\n"}, "add birds")
	gittest.Commit(t, local, map[string]string{"k8s/app.yaml": "image: " + source + "\n"}, "Publish new image")
	gittest.Push(t, local)
	return origin, local, source
}

func runInfo(t *testing.T, repo string) RunInfo {
	t.Helper()
	info, err := gitrepo.Resolve(repo)
	if err != nil {
		t.Fatal(err)
	}
	return RunInfo{ID: "1", Repo: repo, SHA: info.SHA, Ref: info.Ref, Actor: info.Actor}
}

func TestCheckoutAndPublish(t *testing.T) {
	origin, local, source := birdRepo(t)
	run := runInfo(t, local)
	set := Default()
	co, ok := set.Lookup("actions/checkout@v4")
	if !ok {
		t.Fatal("actions/checkout@v4 is not registered")
	}
	ws := t.TempDir()
	s, log := stepContext(co, ws, run, map[string]string{"source-ignore": "k8s/**"})
	if err := co.Run(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	out := s.Outputs()
	if out["commit"] != run.SHA || out["ref"] != "refs/heads/main" || out["source-sha"] != source {
		t.Fatalf("outputs %v (sha %s, source %s)\n%s", out, run.SHA, source, log)
	}
	// the workspace pushes where the user's clone pushes: its origin
	wsInfo, err := gitrepo.Resolve(ws)
	if err != nil {
		t.Fatal(err)
	}
	if wsInfo.Upstream != origin || wsInfo.SHA != run.SHA || wsInfo.RefName != "main" {
		t.Fatalf("workspace %+v, want upstream %s", wsInfo, origin)
	}

	// publish: re-render k8s/ and push it
	gittest.WriteFile(t, filepath.Join(ws, "k8s", "app.yaml"), "image: v2\n")
	gcp, ok := set.Lookup("git-commit-push")
	if !ok {
		t.Fatal("git-commit-push is not registered")
	}
	s, log = stepContext(gcp, ws, run, nil)
	if err := gcp.Run(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	head := gittest.Head(t, origin, gittest.Main)
	if out := s.Outputs(); out["pushed"] != "true" || out["commit"] != head {
		t.Fatalf("outputs %v, origin %s\n%s", out, head, log)
	}
	c := gittest.CommitObject(t, origin, head)
	if c.Author.Name != "github-actions[bot]" || c.Message != "Publish new image\n" || c.ParentHashes[0].String() != run.SHA {
		t.Fatalf("commit %v %q %v", c.Author, c.Message, c.ParentHashes)
	}
	if got := gittest.Head(t, local, gittest.Main); got != run.SHA {
		t.Fatalf("the user's clone was pushed to (main = %s)", got)
	}

	// again with nothing changed
	s, _ = stepContext(gcp, ws, run, nil)
	if err := gcp.Run(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	if out := s.Outputs(); out["pushed"] != "false" || out["commit"] != "" || gittest.Head(t, origin, gittest.Main) != head {
		t.Fatalf("second publish: %v", out)
	}
}

func TestCheckoutInputs(t *testing.T) {
	origin, _, source := birdRepo(t)
	run := runInfo(t, origin) // a bare repository is its own upstream
	ws := t.TempDir()
	s, _ := stepContext(Checkout{}, ws, run, map[string]string{"path": "sub/dir", "ref": source})
	if err := (Checkout{}).Run(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	if out := s.Outputs(); out["commit"] != source || out["ref"] != "" || out["source-sha"] != source {
		t.Fatalf("outputs %v", out)
	}
	info, err := gitrepo.Resolve(filepath.Join(ws, "sub", "dir"))
	if err != nil {
		t.Fatal(err)
	}
	if info.Upstream != origin || info.SHA != source {
		t.Fatalf("%+v", info)
	}
	for _, in := range []map[string]string{
		{"path": "../out"},
		{"ref": "no-such-branch"},
		{"source-ignore": "[oops"},
	} {
		s, _ := stepContext(Checkout{}, t.TempDir(), run, in)
		if err := (Checkout{}).Run(context.Background(), s); err == nil {
			t.Errorf("inputs %v: no error", in)
		}
	}
	s, _ = stepContext(GitCommitPush{}, ws, run, map[string]string{"path": "sub/dir", "allow-empty": "maybe"})
	if err := (GitCommitPush{}).Run(context.Background(), s); err == nil || !strings.Contains(err.Error(), "allow-empty") {
		t.Errorf("allow-empty: maybe: %v", err)
	}
	// detached HEAD and no branch: say what to set
	s, _ = stepContext(GitCommitPush{}, ws, run, map[string]string{"path": "sub/dir"})
	gittest.WriteFile(t, filepath.Join(ws, "sub", "dir", "k8s", "x.yaml"), "x: 1\n")
	if err := (GitCommitPush{}).Run(context.Background(), s); err == nil || !strings.Contains(err.Error(), "detached") {
		t.Errorf("detached HEAD: %v", err)
	}
	s, _ = stepContext(GitCommitPush{}, ws, run, map[string]string{"path": "sub/dir", "branch": "main"})
	if err := (GitCommitPush{}).Run(context.Background(), s); err == nil || !strings.Contains(err.Error(), "changed k8s too") {
		t.Errorf("publish from an older commit whose k8s/ the remote changed since: %v", err)
	}
	s, _ = stepContext(GitCommitPush{}, ws, run, map[string]string{"path": "sub/dir", "branch": "side"})
	if err := (GitCommitPush{}).Run(context.Background(), s); err != nil || s.Outputs()["pushed"] != "true" ||
		gittest.Head(t, origin, "refs/heads/side") != s.Outputs()["commit"] {
		t.Errorf("detached HEAD to a new branch: %v %v", err, s.Outputs())
	}
}

func TestGitCommitPushTokenMasked(t *testing.T) {
	const token = "ghs_stepTokenValue987654321"
	root := t.TempDir()
	origin := filepath.Join(root, "alice", "birds.git")
	gittest.Origin(t, origin, map[string]string{"k8s/app.yaml": "image: old\n", "README.md": "hi\n"})
	srv := gittest.ServeHTTP(t, root, gitrepo.TokenUser, token)
	url := srv.URL + "/alice/birds.git"
	run := runInfo(t, origin)
	run.Repo = url

	ws := t.TempDir()
	s, _ := stepContext(Checkout{}, ws, run, map[string]string{"token": token})
	if err := (Checkout{}).Run(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	gittest.WriteFile(t, filepath.Join(ws, "k8s", "app.yaml"), "image: new\n")

	s, log := stepContext(GitCommitPush{}, ws, run, nil)
	err := (GitCommitPush{}).Run(context.Background(), s)
	if err == nil || strings.Contains(err.Error(), token) || !strings.Contains(err.Error(), "requires credentials") {
		t.Fatalf("push without token: %v", err)
	}
	s, log = stepContext(GitCommitPush{}, ws, run, map[string]string{"token": token})
	if err := (GitCommitPush{}).Run(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	if s.Outputs()["pushed"] != "true" || gittest.Head(t, origin, gittest.Main) != s.Outputs()["commit"] {
		t.Fatalf("outputs %v", s.Outputs())
	}
	if strings.Contains(log.String(), token) || !contains(s.Masks(), token) {
		t.Fatalf("token in log or not masked: %q %v", log, len(s.Masks()))
	}
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
