package steps

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/birdflock/runner/pkg/gitrepo"
)

// GitCommitPush is the built-in `git-commit-push`: commit the generated
// files under `paths` as the bot and push them, replaying them onto the
// remote head when it moved, never forcing. The work is in pkg/gitrepo.
type GitCommitPush struct{}

// Spec implements Builtin.
func (GitCommitPush) Spec() Spec {
	return Spec{
		Name:        "git-commit-push",
		Description: "Commit the given paths (additions, changes, deletions) as the bot and push; no-op when nothing changed.",
		Inputs: []Input{
			{Name: "path", Description: "the checked-out repository; default: the workspace"},
			{Name: "paths", Default: "k8s/", Description: "paths to commit, one per line or comma-separated, relative to path"},
			{Name: "message", Default: "Publish new image"},
			{Name: "author-name", Default: gitrepo.BotName},
			{Name: "author-email", Default: gitrepo.BotEmail},
			{Name: "remote", Default: "origin"},
			{Name: "branch", Description: "remote branch; default: the checked-out branch"},
			{Name: "token", Description: "https: basic auth as x-access-token"},
			{Name: "username", Description: "https: basic auth user (with password)"},
			{Name: "password"},
			{Name: "ssh-key", Description: "ssh: private key (PEM text)"},
			{Name: "ssh-known-hosts", Description: "ssh: known_hosts lines for the server; default: ~/.ssh/known_hosts"},
			{Name: "allow-empty", Default: "false", Description: "commit and push even when nothing changed"},
		},
		Outputs: []string{"commit", "pushed"},
	}
}

// Run implements Builtin.
func (GitCommitPush) Run(ctx context.Context, s *Context) error {
	auth := gitrepo.Auth{
		Token: s.Input("token"), Username: s.Input("username"), Password: s.Input("password"),
		SSHKey: s.Input("ssh-key"), SSHKnownHosts: s.Input("ssh-known-hosts"),
	}
	for _, secret := range []string{auth.Token, auth.Password, auth.SSHKey} {
		for _, line := range strings.Split(secret, "\n") {
			if line = strings.TrimSpace(line); line != "" {
				s.AddMask(line)
			}
		}
	}
	dir, err := underWorkspace(s.Workspace, s.Input("path"))
	if err != nil {
		return fmt.Errorf("git-commit-push: %w", err)
	}
	allowEmpty := false
	if v := strings.TrimSpace(s.Input("allow-empty")); v != "" {
		if allowEmpty, err = strconv.ParseBool(v); err != nil {
			return fmt.Errorf("git-commit-push: allow-empty: %q is not true or false", v)
		}
	}
	res, err := gitrepo.CommitPush(ctx, gitrepo.PublishOptions{
		Dir: dir, Paths: splitList(s.Input("paths")), Message: s.Input("message"),
		AuthorName: s.Input("author-name"), AuthorEmail: s.Input("author-email"),
		Remote: s.Input("remote"), Branch: s.Input("branch"), AllowEmpty: allowEmpty,
		Auth: auth, Logf: s.Logf,
	})
	if err != nil {
		return fmt.Errorf("git-commit-push: %w", err)
	}
	commit := "" // nothing committed: empty, so `commit || 'none'` reads naturally
	if res.Pushed {
		commit = res.Commit
	}
	s.SetOutput("commit", commit)
	s.SetOutput("pushed", strconv.FormatBool(res.Pushed))
	return nil
}
