package steps

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"

	"github.com/birdflock/runner/pkg/gitrepo"
)

// Checkout is the built-in `checkout` (alias actions/checkout): a go-git
// clone of the run's repository at github.sha. Its origin is the upstream
// of that repository, so git-commit-push publishes where a user's push
// would go.
type Checkout struct{}

// Spec implements Builtin.
func (Checkout) Spec() Spec {
	return Spec{
		Name:        "checkout",
		Aliases:     []string{"actions/checkout"},
		Description: "Clone the run's repository at github.sha into the workspace (go-git, full history).",
		Inputs: []Input{
			{Name: "repository", Description: "path or URL to clone; default: the repository the run was started for"},
			{Name: "ref", Description: "branch, tag or sha to check out; default: github.sha on the branch of github.ref"},
			{Name: "path", Description: "directory under the workspace; default: the workspace itself"},
			{Name: "fetch-depth", Default: "1", Description: "accepted for compatibility: the clone always has the full history"},
			{Name: "token", Description: "token for https remotes (basic auth as x-access-token)"},
			{Name: "source-ignore", Description: "globs (one per line or comma-separated), e.g. k8s/**: source-sha skips commits that changed only these; default: none (source-sha = commit)"},
		},
		Outputs: []string{"commit", "ref", "source-sha"},
	}
}

// Run implements Builtin.
func (Checkout) Run(ctx context.Context, s *Context) error {
	token := s.Input("token")
	if token != "" {
		s.AddMask(token)
	}
	repo := s.Input("repository")
	if repo == "" || repo == s.Env["GITHUB_REPOSITORY"] {
		repo = s.Run.Repo
	}
	if repo == "" {
		return errors.New("checkout: the run has no repository and `repository` is not set")
	}
	dir, err := underWorkspace(s.Workspace, s.Input("path"))
	if err != nil {
		return fmt.Errorf("checkout: %w", err)
	}
	opts := gitrepo.CloneOptions{Source: repo, Dir: dir, Clean: true, Auth: gitrepo.Auth{Token: token}}
	if ref := s.Input("ref"); ref != "" && ref != s.Run.SHA {
		opts.Rev = ref
	} else {
		opts.Rev = s.Run.SHA
		if b, ok := strings.CutPrefix(s.Run.Ref, "refs/heads/"); ok {
			opts.Branch = b
		}
	}
	if !gitrepo.IsURL(repo) || strings.HasPrefix(repo, "file://") {
		// a working clone's pushes go to its origin, not to the clone
		r, err := gitrepo.Open(ctx, repo, gitrepo.OpenOptions{})
		if err != nil {
			return fmt.Errorf("checkout: %w", err)
		}
		opts.Upstream = r.Info().Upstream
	}
	co, err := gitrepo.Clone(ctx, opts)
	if err != nil {
		return fmt.Errorf("checkout: %w", err)
	}
	source, err := co.Repo.SourceCommit(co.Commit, splitList(s.Input("source-ignore")))
	if err != nil {
		return fmt.Errorf("checkout: source-ignore: %w", err)
	}
	where := co.Ref
	if where == "" {
		where = "detached HEAD"
	}
	s.Logf("checked out %s (%s) into %s; origin %s", co.Commit, where, dir, gitrepo.RedactURL(co.Repo.Info().Upstream))
	if source != co.Commit {
		s.Logf("source commit %s (newer commits changed only %s)", source, strings.Join(splitList(s.Input("source-ignore")), ", "))
	}
	s.SetOutput("commit", co.Commit)
	s.SetOutput("ref", co.Ref)
	s.SetOutput("source-sha", source)
	return nil
}

// underWorkspace resolves p inside the workspace: an absolute p must be
// under it, and symbolic links on the way (a repository can hold them)
// are followed as if the workspace were the root of the file system, so
// the result never leaves it.
func underWorkspace(ws, p string) (string, error) {
	return underRoot(ws, p, "the workspace")
}

// underRoot resolves p inside root (see underWorkspace); what names root
// in errors.
func underRoot(root, p, what string) (string, error) {
	if root == "" {
		return "", fmt.Errorf("no %s", strings.TrimPrefix(what, "the "))
	}
	rel := p
	if filepath.IsAbs(p) {
		r, err := filepath.Rel(root, filepath.Clean(p))
		if err != nil || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) {
			return "", fmt.Errorf("path %q is not under %s %s", p, what, root)
		}
		rel = r
	} else if r := filepath.Clean(p); r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("path %q is not under %s %s", p, what, root)
	}
	full, err := securejoin.SecureJoin(root, rel)
	if err != nil {
		return "", fmt.Errorf("path %q: %w", p, err)
	}
	return full, nil
}

// splitList splits an input holding a list: one item per line or
// comma-separated, blanks dropped.
func splitList(v string) []string {
	var out []string
	for _, line := range strings.Split(v, "\n") {
		for _, item := range strings.Split(line, ",") {
			if item = strings.TrimSpace(item); item != "" {
				out = append(out, item)
			}
		}
	}
	return out
}
