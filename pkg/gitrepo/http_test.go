package gitrepo_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/birdflock/runner/pkg/gitrepo"
	"github.com/birdflock/runner/pkg/gitrepo/gittest"
)

const token = "ghs_s3cr3tT0kenValue1234567890"

// TestHTTPBasicAuth pushes through git's own http-backend behind basic auth:
// the token works, no token and a wrong token fail clearly, and the token
// shows up in no error, log line or result.
func TestHTTPBasicAuth(t *testing.T) {
	root := t.TempDir()
	origin := filepath.Join(root, "alice", "birds.git")
	seed := gittest.Origin(t, origin, seedFiles)
	srv := gittest.ServeHTTP(t, root, gitrepo.TokenUser, token)
	url := srv.URL + "/alice/birds.git"
	ctx := context.Background()

	info, err := gitrepo.Open(ctx, url, gitrepo.OpenOptions{Auth: gitrepo.Auth{Token: token}})
	if err != nil {
		t.Fatal(err)
	}
	if got := info.Info(); got.SHA != seed || got.Repository != "alice/birds" || got.Upstream != url || got.RefName != "main" {
		t.Fatalf("Info over http: %+v", got)
	}

	ws := filepath.Join(t.TempDir(), "ws")
	_, err = gitrepo.Clone(ctx, gitrepo.CloneOptions{Source: url, Dir: ws})
	if !errors.Is(err, gitrepo.ErrAuth) || !strings.Contains(err.Error(), "requires credentials") {
		t.Fatalf("clone without token: %v", err)
	}
	if _, err := gitrepo.Clone(ctx, gitrepo.CloneOptions{Source: url, Dir: ws, Auth: gitrepo.Auth{Token: token}}); err != nil {
		t.Fatal(err)
	}
	render(t, ws, "v2")

	var log strings.Builder
	logf := func(format string, a ...any) { fmt.Fprintf(&log, format+"\n", a...) }
	for _, tc := range []struct {
		name string
		auth gitrepo.Auth
	}{
		{"no token", gitrepo.Auth{}},
		{"wrong token", gitrepo.Auth{Token: token + "x"}},
		{"wrong password", gitrepo.Auth{Username: gitrepo.TokenUser, Password: "nope-" + token}},
	} {
		_, err := gitrepo.CommitPush(ctx, gitrepo.PublishOptions{Dir: ws, Auth: tc.auth, Logf: logf})
		if !errors.Is(err, gitrepo.ErrAuth) {
			t.Fatalf("%s: want ErrAuth, got %v", tc.name, err)
		}
		if !strings.Contains(err.Error(), "authentication") || !strings.Contains(err.Error(), url) {
			t.Fatalf("%s: unclear error %q", tc.name, err)
		}
		t.Logf("%s: %v", tc.name, err)
		if strings.Contains(err.Error(), token) {
			t.Fatalf("%s: token in error %q", tc.name, err)
		}
	}
	if got := gittest.Head(t, origin, gittest.Main); got != seed {
		t.Fatalf("origin moved without credentials: %s", got)
	}
	denied := srv.Denied.Load()
	res, err := gitrepo.CommitPush(ctx, gitrepo.PublishOptions{Dir: ws, Auth: gitrepo.Auth{Token: token}, Logf: logf})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Pushed || gittest.Head(t, origin, gittest.Main) != res.Commit {
		t.Fatalf("push with token: %+v", res)
	}
	if got := gittest.FileAt(t, origin, res.Commit, "k8s/app.yaml"); got != "image: birds:v2\n" {
		t.Fatalf("k8s/app.yaml on origin: %q", got)
	}
	if srv.Denied.Load() != denied {
		t.Fatalf("the token push was refused %d times", srv.Denied.Load()-denied)
	}
	if strings.Contains(log.String(), token) || strings.Contains(fmt.Sprint(res), token) {
		t.Fatal("token in log or result")
	}

	// the remote moves (a push straight to the bare repository): the next
	// publish over HTTP replays on top of it
	other := filepath.Join(t.TempDir(), "other")
	gittest.Clone(t, origin, other)
	theirs := gittest.Commit(t, other, map[string]string{"README.md": "moved\n"}, "move")
	gittest.Push(t, other)
	render(t, ws, "v3")
	res, err = gitrepo.CommitPush(ctx, gitrepo.PublishOptions{Dir: ws, Auth: gitrepo.Auth{Token: token}})
	if err != nil {
		t.Fatal(err)
	}
	if c := gittest.CommitObject(t, origin, gittest.Head(t, origin, gittest.Main)); !res.Pushed || res.Attempts != 2 ||
		c.Hash.String() != res.Commit || c.ParentHashes[0].String() != theirs {
		t.Fatalf("replay over http: %+v", res)
	}

	// credentials written into the remote URL are redacted from errors too
	badURL := strings.Replace(srv.URL, "http://", "http://"+gitrepo.TokenUser+":"+token+"-old@", 1) + "/alice/missing.git"
	_, err = gitrepo.Clone(ctx, gitrepo.CloneOptions{Source: badURL, Dir: filepath.Join(t.TempDir(), "x")})
	t.Logf("bad URL: %v", err)
	if err == nil || strings.Contains(err.Error(), token) || !strings.Contains(err.Error(), "http://***@127.0.0.1") || !errors.Is(err, gitrepo.ErrAuth) {
		t.Fatalf("clone with credentials in the URL: %v", err)
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://x-access-token:abc@github.com/a/b.git": "https://***@github.com/a/b.git",
		"https://abc@github.com/a/b.git":                "https://***@github.com/a/b.git",
		"ssh://git@github.com/a/b.git":                  "ssh://git@github.com/a/b.git",
		"ssh://git:pw@host/a/b.git":                     "ssh://git:***@host/a/b.git",
		"push to http://u:p@127.0.0.1:80/x failed":      "push to http://***@127.0.0.1:80/x failed",
		"/srv/git/birds.git":                            "/srv/git/birds.git",
	} {
		if got := gitrepo.RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}
