package gitrepo

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/go-git/go-billy/v5/osfs"
	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/memory"
)

// Info is what the engine needs from a repository for the github context.
type Info struct {
	SHA     string // HEAD commit (github.sha)
	Ref     string // refs/heads/BRANCH; "" when HEAD is detached
	RefName string // BRANCH; "" when HEAD is detached
	// Actor is the author name of the HEAD commit, or of its newest
	// first-parent ancestor not authored by a "[bot]": without GitHub there is no
	// pusher, and the last author is who the run is for.
	Actor string
	// Repository is owner/name from the upstream URL's last two path
	// segments (".git" trimmed); for a repository without an origin remote,
	// its directory name.
	Repository string
	// Upstream is where pushes go: a working clone's origin URL; for a bare
	// repository, a clone without origin or a URL, the repository itself.
	// It is kept as configured, credentials included: show it through
	// RedactURL.
	Upstream string
	Bare     bool   // a bare repository (or a URL, which is cloned bare)
	Dir      string // absolute top directory of a local repository; "" for URLs
}

// Repo is an opened repository: a local one in place, or a URL cloned into
// memory.
type Repo struct {
	r    *git.Repository
	info Info
}

// OpenOptions configure Open. The zero value opens without credentials.
type OpenOptions struct {
	Auth Auth // for URLs only
}

// IsURL reports whether s names a remote (scheme://… or scp-like
// user@host:path) rather than a local path. file:// URLs are remote-style
// but served in-process.
func IsURL(s string) bool {
	if strings.Contains(s, "://") {
		return true
	}
	return scpLike.MatchString(s)
}

var scpLike = regexp.MustCompile(`^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[^/]`)

// localPath returns the path of a local repository reference (plain path or
// file:// URL) and whether it is one.
func localPath(s string) (string, bool) {
	if strings.HasPrefix(s, "file://") {
		return strings.TrimPrefix(s, "file://"), true
	}
	if IsURL(s) {
		return "", false
	}
	return s, true
}

// Resolve opens repo (a local working clone, a bare repository or a URL)
// and returns its Info.
func Resolve(repo string) (Info, error) {
	r, err := Open(context.Background(), repo, OpenOptions{})
	if err != nil {
		return Info{}, err
	}
	return r.Info(), nil
}

// Open opens a local repository in place (a path inside a working tree is
// fine) or clones a URL into memory, without checking anything out.
func Open(ctx context.Context, repo string, opts OpenOptions) (*Repo, error) {
	r, err := open(ctx, repo, opts)
	return r, scrub(err, opts.Auth.secrets()...)
}

func open(ctx context.Context, repo string, opts OpenOptions) (*Repo, error) {
	if p, ok := localPath(repo); ok {
		return openLocal(p)
	}
	auth, err := opts.Auth.method(repo)
	if err != nil {
		return nil, err
	}
	r, err := git.CloneContext(ctx, memory.NewStorage(), nil, &git.CloneOptions{URL: repo, Auth: auth, NoCheckout: true})
	if isAuthError(err) {
		return nil, authError("clone "+RedactURL(repo), auth != nil || strings.Contains(repo, "@"))
	}
	if err != nil {
		return nil, fmt.Errorf("clone %s: %w", RedactURL(repo), err)
	}
	info := Info{Upstream: repo, Bare: true, Repository: ownerName(repo)}
	if err := headInfo(r, &info); err != nil {
		return nil, fmt.Errorf("%s: %w", RedactURL(repo), err)
	}
	return &Repo{r: r, info: info}, nil
}

func openLocal(p string) (*Repo, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return nil, err
	}
	r, err := plainOpen(abs, false)
	if errors.Is(err, git.ErrRepositoryNotExists) { // a directory inside a working tree
		r, err = plainOpen(abs, true)
	}
	if err != nil {
		return nil, fmt.Errorf("open repository %s: %w", p, err)
	}
	info := Info{Dir: abs}
	wt, err := r.Worktree()
	switch {
	case errors.Is(err, git.ErrIsBareRepository):
		info.Bare = true
	case err != nil:
		return nil, fmt.Errorf("open repository %s: %w", p, err)
	default:
		info.Dir = wt.Filesystem.Root()
	}
	info.Upstream = info.Dir
	info.Repository = strings.TrimSuffix(filepath.Base(info.Dir), ".git")
	if !info.Bare {
		if u := remoteURL(r, "origin"); u != "" {
			if lp, ok := localPath(u); ok && !filepath.IsAbs(lp) {
				u = filepath.Join(info.Dir, lp)
			}
			info.Upstream = u
			info.Repository = ownerName(u)
		}
	}
	if err := headInfo(r, &info); err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return &Repo{r: r, info: info}, nil
}

// plainOpen opens a repository; linked worktrees (`git worktree add`) need
// their common dir for refs and objects.
func plainOpen(path string, detect bool) (*git.Repository, error) {
	r, err := git.PlainOpenWithOptions(path, &git.PlainOpenOptions{DetectDotGit: detect, EnableDotGitCommonDir: true})
	if err != nil {
		return nil, err
	}
	return withBoundWorktree(r)
}

// withBoundWorktree reopens r with its work tree on go-billy's BoundOS.
// go-git's default (ChrootOS) rewrites a symbolic link's absolute target
// into the work tree when it checks one out (link -> /etc became
// link -> WORKTREE/etc) and reads it back relative to the work tree, so a
// checkout changed the repository's links and a commit pushed the change.
// BoundOS writes and reads links as they are, and keeps every path inside
// the work tree. A bare repository is returned as it is.
func withBoundWorktree(r *git.Repository) (*git.Repository, error) {
	wt, err := r.Worktree()
	if errors.Is(err, git.ErrIsBareRepository) {
		return r, nil
	}
	if err != nil {
		return nil, err
	}
	return git.Open(r.Storer, osfs.New(wt.Filesystem.Root(), osfs.WithBoundOS()))
}

func remoteURL(r *git.Repository, name string) string {
	rem, err := r.Remote(name)
	if err != nil || len(rem.Config().URLs) == 0 {
		return ""
	}
	return rem.Config().URLs[0]
}

func headInfo(r *git.Repository, info *Info) error {
	head, err := r.Head()
	if err != nil {
		return fmt.Errorf("resolve HEAD: %w", err)
	}
	info.SHA = head.Hash().String()
	if sym, err := r.Storer.Reference(plumbing.HEAD); err == nil && sym.Type() == plumbing.SymbolicReference && sym.Target().IsBranch() {
		info.Ref = sym.Target().String()
		info.RefName = sym.Target().Short()
	}
	c, err := r.CommitObject(head.Hash())
	if err != nil {
		return fmt.Errorf("read HEAD commit: %w", err)
	}
	// A bot's commit (such as the workflow's own manifest commit) names no
	// one to run for: GitHub would name who pushed or dispatched, so take
	// the newest author along the first parents who is not a bot.
	for i := 0; i < 100 && strings.HasSuffix(c.Author.Name, "[bot]") && c.NumParents() > 0; i++ {
		p, err := c.Parent(0)
		if err != nil {
			break
		}
		c = p
	}
	info.Actor = c.Author.Name
	return nil
}

// ownerName turns a remote URL or path into owner/name: its last two path
// segments, ".git" trimmed (just the name when there is one segment).
func ownerName(u string) string {
	s := u
	if i := strings.Index(s, "://"); i >= 0 {
		s = s[i+3:]
		if j := strings.Index(s, "/"); j >= 0 {
			s = s[j+1:] // drop host
		} else {
			s = ""
		}
	} else if scpLike.MatchString(s) {
		s = s[strings.Index(s, ":")+1:]
	}
	s = strings.Trim(strings.TrimSuffix(strings.TrimRight(s, "/"), ".git"), "/")
	parts := strings.Split(s, "/")
	if len(parts) >= 2 {
		return parts[len(parts)-2] + "/" + parts[len(parts)-1]
	}
	return parts[len(parts)-1]
}

// Info returns what Open found.
func (r *Repo) Info() Info { return r.info }

// Git returns the underlying go-git repository.
func (r *Repo) Git() *git.Repository { return r.r }

// commit resolves a revision (sha, branch, tag, HEAD) to a commit.
func (r *Repo) commit(rev string) (*object.Commit, error) {
	h, err := r.r.ResolveRevision(plumbing.Revision(rev))
	if err != nil {
		return nil, fmt.Errorf("revision %q: %w", rev, err)
	}
	c, err := r.r.CommitObject(*h)
	if err != nil {
		return nil, fmt.Errorf("revision %q: %w", rev, err)
	}
	return c, nil
}

// ChangedFiles opens repo (as Open does, without credentials) and returns
// Repo.ChangedFiles(from, to): the input of on.push path filters.
func ChangedFiles(repo, from, to string) ([]string, error) {
	r, err := Open(context.Background(), repo, OpenOptions{})
	if err != nil {
		return nil, err
	}
	return r.ChangedFiles(from, to)
}

// ChangedFiles lists the paths that differ between the trees of two commits
// (both names of a rename), sorted. An empty from lists every file of to,
// as for the first push of a branch.
func (r *Repo) ChangedFiles(from, to string) ([]string, error) {
	tc, err := r.commit(to)
	if err != nil {
		return nil, err
	}
	tt, err := tc.Tree()
	if err != nil {
		return nil, err
	}
	var ft *object.Tree
	if from != "" && strings.Trim(from, "0") != "" {
		fc, err := r.commit(from)
		if err != nil {
			return nil, err
		}
		if ft, err = fc.Tree(); err != nil {
			return nil, err
		}
	}
	return changedPaths(ft, tt)
}

func changedPaths(from, to *object.Tree) ([]string, error) {
	changes, err := object.DiffTree(from, to)
	if err != nil {
		return nil, fmt.Errorf("diff trees: %w", err)
	}
	seen := map[string]bool{}
	for _, c := range changes {
		for _, n := range []string{c.From.Name, c.To.Name} {
			if n != "" {
				seen[n] = true
			}
		}
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out, nil
}
