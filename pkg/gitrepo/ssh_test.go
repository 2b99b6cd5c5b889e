package gitrepo_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/birdflock/runner/pkg/gitrepo"
	"github.com/birdflock/runner/pkg/gitrepo/gittest"
	"golang.org/x/crypto/ssh/knownhosts"
)

// TestSSHKey clones and publishes over ssh with a key, checking the server's
// host key against the given known_hosts line; another key is refused.
func TestSSHKey(t *testing.T) {
	root := t.TempDir()
	origin := filepath.Join(root, "alice", "birds.git")
	seed := gittest.Origin(t, origin, seedFiles)
	key, pub := gittest.NewKey(t)
	srv := gittest.ServeSSH(t, root, pub)
	url := "ssh://git@" + srv.Addr + "/alice/birds.git"
	auth := gitrepo.Auth{SSHKey: key, SSHKnownHosts: srv.KnownHosts}
	ctx := context.Background()

	ws := filepath.Join(t.TempDir(), "ws")
	co, err := gitrepo.Clone(ctx, gitrepo.CloneOptions{Source: url, Dir: ws, Auth: auth})
	if err != nil {
		t.Fatal(err)
	}
	if co.Commit != seed || co.Ref != "refs/heads/main" {
		t.Fatalf("%+v", co)
	}
	render(t, ws, "v2")

	other, _ := gittest.NewKey(t)
	_, err = gitrepo.CommitPush(ctx, gitrepo.PublishOptions{Dir: ws, Auth: gitrepo.Auth{SSHKey: other, SSHKnownHosts: srv.KnownHosts}})
	if !errors.Is(err, gitrepo.ErrAuth) || !strings.Contains(err.Error(), "refused the credentials") {
		t.Fatalf("push with an unknown key: %v", err)
	}
	_, err = gitrepo.CommitPush(ctx, gitrepo.PublishOptions{Dir: ws, Auth: gitrepo.Auth{SSHKey: "not a key"}})
	if err == nil || !strings.Contains(err.Error(), "ssh-key") {
		t.Fatalf("push with a bad key: %v", err)
	}
	_, impostor := gittest.NewKey(t)
	_, err = gitrepo.CommitPush(ctx, gitrepo.PublishOptions{Dir: ws, Auth: gitrepo.Auth{SSHKey: key, SSHKnownHosts: knownhosts.Line([]string{srv.Addr}, impostor)}})
	if err == nil || !strings.Contains(err.Error(), "key mismatch") {
		t.Fatalf("push to a host with another key: %v", err)
	}
	if got := gittest.Head(t, origin, gittest.Main); got != seed {
		t.Fatalf("origin moved: %s", got)
	}
	res, err := gitrepo.CommitPush(ctx, gitrepo.PublishOptions{Dir: ws, Auth: auth})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Pushed || gittest.Head(t, origin, gittest.Main) != res.Commit {
		t.Fatalf("%+v", res)
	}
}
