package run_test

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/birdflock/runner/pkg/gitrepo/gittest"
	"github.com/birdflock/runner/pkg/run"
)

// A remote leg gets the git directory of a bare repository or of a linked
// worktree as well: its checkout is at the run's commit, and what it
// pushes to origin lands where a local leg's push would, in the original.
func TestRemoteCheckoutOfBareAndWorktree(t *testing.T) {
	bin := runnerForLegs(t)
	git := gittest.GitBinary(t)
	base := t.TempDir()
	bare := filepath.Join(base, "origin.git")
	sha := gittest.Origin(t, bare, map[string]string{"f.txt": "from the bare\n"})
	clone := filepath.Join(base, "clone")
	wt := filepath.Join(base, "wt")
	for _, args := range [][]string{{"clone", "-q", bare, clone}, {"-C", clone, "worktree", "add", "-q", "-b", "side", wt}} {
		if out, err := exec.Command(git, args...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	src := `
on: push
jobs:
  push:
    runs-on: x
    steps:
      - uses: actions/checkout@v4
      - run: |
          echo "content $(cat f.txt) at $(git rev-parse HEAD)"
          echo "origin-url $(git remote get-url origin)"
          git -c user.name=bot -c user.email=bot@example.com commit -q --allow-empty -m "from ${{ github.job }} via ${{ github.ref_name }}"
          git push -q origin HEAD:refs/heads/pushed-${{ github.ref_name }}
`
	for _, c := range []struct{ name, path, ref string }{
		{"bare", bare, "refs/heads/main"},
		{"worktree", wt, "refs/heads/side"},
	} {
		t.Run(c.name, func(t *testing.T) {
			trig := run.Trigger{Repo: run.Repo{Path: c.path, SHA: sha, Ref: c.ref, Repository: "o/r"}}
			lr := runLegs(t, context.Background(), src, trig, run.Options{}, &tapTransport{ProcessTransport: run.ProcessTransport{Path: bin}})
			if lr.res.Conclusion != "success" {
				t.Fatalf("%s\n%s", jobsOf(lr.res), lr.out)
			}
			if !strings.Contains(lr.out, "content from the bare at "+sha) || !strings.Contains(lr.out, "origin-url "+bare+"\n") {
				t.Errorf("want the checkout at %s with origin %s\n%s", sha, bare, lr.out)
			}
			branch := strings.TrimPrefix(c.ref, "refs/heads/")
			out, err := exec.Command(git, "-C", bare, "log", "-1", "--format=%s", "refs/heads/pushed-"+branch).CombinedOutput()
			if err != nil || strings.TrimSpace(string(out)) != "from push via "+branch {
				t.Errorf("the push did not land in %s: %v %s", bare, err, out)
			}
		})
	}
}

// A run whose repository is a URL sends no source: the remote leg clones
// the URL itself (over git's smart HTTP here, with credentials in the
// URL), and the password appears in no frame, log or record.
func TestRemoteLegClonesURL(t *testing.T) {
	bin := runnerForLegs(t)
	root := t.TempDir()
	sha := gittest.Origin(t, filepath.Join(root, "site.git"), map[string]string{"f.txt": "over http\n"})
	srv := gittest.ServeHTTP(t, root, "bot", "http-pa55word-4242")
	url := strings.Replace(srv.URL, "http://", "http://bot:http-pa55word-4242@", 1) + "/site.git"
	src := `
on: push
jobs:
  fetch:
    runs-on: x
    steps:
      - uses: actions/checkout@v4
      - run: echo "content $(cat f.txt) at $(git rev-parse HEAD) from ${{ github.repositoryUrl }}"
`
	trig := run.Trigger{Repo: run.Repo{Path: url, SHA: sha, Ref: "refs/heads/main", Repository: "o/site"}}
	tt := &tapTransport{ProcessTransport: run.ProcessTransport{Path: bin}}
	lr := runLegs(t, context.Background(), src, trig, run.Options{}, tt)
	if lr.res.Conclusion != "success" || !strings.Contains(lr.out, "content over http at "+sha) {
		t.Fatalf("%s\n%s", jobsOf(lr.res), lr.out)
	}
	if srv.UploadPacks.Load() == 0 {
		t.Error("the remote leg did not fetch from the server")
	}
	if strings.Contains(tt.sent(), "repo/.git/") {
		t.Error("a git directory was sent for a URL repository")
	}
	for what, text := range map[string]string{"frames": tt.tapped(), "console": lr.out} {
		if strings.Contains(text, "http-pa55word-4242") {
			t.Errorf("the password is in the %s", what)
		}
	}
	for name, text := range record(t, lr.res.Dir) {
		if strings.Contains(text, "http-pa55word-4242") {
			t.Errorf("the password is in the record's %s", name)
		}
	}
}
