package serve

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// repo is a watched repository: a local one, or a mirror of a remote.
type repo struct {
	cfg  Repo
	name string
	dir  string // the git repository runs clone from

	mu sync.Mutex // serializes fetches of a mirror
	// polls counts the polls of the branch that completed (metrics and
	// tests: a poll that started after a commit has seen it).
	polls atomic.Int64
}

// errUnknownRef is a ref that names no branch or tag (GitHub's words).
var errUnknownRef = errors.New("No ref found for")

func newRepo(cfg Repo, state string) *repo {
	r := &repo{cfg: cfg, name: cfg.Name, dir: cfg.Path}
	if cfg.URL != "" {
		r.dir = filepath.Join(state, "repos", strings.ReplaceAll(cfg.Name, "/", "_")+".git")
	}
	return r
}

// open opens the repository, cloning or fetching a mirror first when the
// repo is remote and fetch is set.
func (r *repo) open(fetch bool) (*git.Repository, error) {
	if r.cfg.URL == "" {
		g, err := git.PlainOpenWithOptions(r.dir, &git.PlainOpenOptions{DetectDotGit: true})
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", r.dir, err)
		}
		return g, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	g, err := git.PlainOpen(r.dir)
	if errors.Is(err, git.ErrRepositoryNotExists) {
		g, err = git.PlainClone(r.dir, true, &git.CloneOptions{URL: r.cfg.URL, Mirror: true})
		if err != nil {
			os.RemoveAll(r.dir)
			return nil, fmt.Errorf("mirror %s: %w", r.name, err)
		}
		return g, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open mirror %s: %w", r.dir, err)
	}
	if fetch {
		err := g.Fetch(&git.FetchOptions{RefSpecs: []config.RefSpec{"+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"}, Force: true})
		if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
			return nil, fmt.Errorf("fetch %s: %w", r.name, err)
		}
	}
	return g, nil
}

// branch is the default branch: the configured one, else HEAD's.
func (r *repo) branch(g *git.Repository) string {
	if r.cfg.Branch != "" {
		return r.cfg.Branch
	}
	if head, err := g.Head(); err == nil && head.Name().IsBranch() {
		return head.Name().Short()
	}
	return "main"
}

// resolve turns a branch or tag, by short or full name (refs/heads/...,
// refs/tags/...), into its full ref and commit. The name must pass git's
// ref-name rules and be a ref of the repository: no revision syntax
// (main~1, main^{tree}, main@{0}, main:path) and no bare commit, as
// GitHub's dispatch API. A branch wins over a tag of the same name.
func resolve(g *git.Repository, ref string) (string, plumbing.Hash, error) {
	var names []plumbing.ReferenceName
	switch {
	case strings.HasPrefix(ref, "refs/heads/") || strings.HasPrefix(ref, "refs/tags/"):
		names = []plumbing.ReferenceName{plumbing.ReferenceName(ref)}
	case !strings.HasPrefix(ref, "refs/"):
		names = []plumbing.ReferenceName{plumbing.NewBranchReferenceName(ref), plumbing.NewTagReferenceName(ref)}
	}
	for _, name := range names {
		if name.Validate() != nil {
			break
		}
		r, err := g.Reference(name, true)
		if err != nil {
			continue
		}
		h, err := peel(g, r.Hash())
		if err != nil {
			return "", plumbing.ZeroHash, fmt.Errorf("%s: %w", name, err)
		}
		return name.String(), h, nil
	}
	return "", plumbing.ZeroHash, fmt.Errorf("%w: %s", errUnknownRef, ref)
}

// peel turns a commit or an annotated tag into a commit.
func peel(g *git.Repository, h plumbing.Hash) (plumbing.Hash, error) {
	if _, err := g.CommitObject(h); err == nil {
		return h, nil
	}
	t, err := g.TagObject(h)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("%s is neither a commit nor a tag", h)
	}
	c, err := t.Commit()
	if err != nil {
		return plumbing.ZeroHash, err
	}
	return c.Hash, nil
}

// workflowFile is a workflow's text at a commit.
type workflowFile struct {
	Path   string // in the repository, slash-separated
	Source []byte
}

// workflows lists the workflow files at a commit.
func (r *repo) workflows(g *git.Repository, at plumbing.Hash) ([]workflowFile, error) {
	c, err := g.CommitObject(at)
	if err != nil {
		return nil, fmt.Errorf("commit %s: %w", at, err)
	}
	tree, err := c.Tree()
	if err != nil {
		return nil, err
	}
	dirs := []string{".github/workflows", "workflows"}
	if r.cfg.Workflows != "" {
		dirs = []string{path.Clean(filepath.ToSlash(r.cfg.Workflows))}
	}
	var out []workflowFile
	for _, d := range dirs {
		sub, err := tree.Tree(d)
		if err != nil {
			continue
		}
		for _, e := range sub.Entries {
			if !e.Mode.IsFile() || !(strings.HasSuffix(e.Name, ".yaml") || strings.HasSuffix(e.Name, ".yml")) {
				continue
			}
			f, err := sub.TreeEntryFile(&e)
			if err != nil {
				return nil, err
			}
			rd, err := f.Reader()
			if err != nil {
				return nil, err
			}
			data, err := io.ReadAll(io.LimitReader(rd, 1<<20))
			rd.Close()
			if err != nil {
				return nil, err
			}
			out = append(out, workflowFile{Path: d + "/" + e.Name, Source: data})
		}
		if len(out) > 0 {
			break
		}
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Path < out[b].Path })
	return out, nil
}

// changedFiles lists the files that differ between two commits; from is
// zero for a new branch: then every file of to counts.
func changedFiles(g *git.Repository, from, to plumbing.Hash) ([]string, error) {
	toC, err := g.CommitObject(to)
	if err != nil {
		return nil, err
	}
	toTree, err := toC.Tree()
	if err != nil {
		return nil, err
	}
	var fromTree *object.Tree
	if !from.IsZero() {
		fromC, err := g.CommitObject(from)
		if err != nil {
			return nil, err
		}
		if fromTree, err = fromC.Tree(); err != nil {
			return nil, err
		}
	}
	changes, err := object.DiffTree(fromTree, toTree)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []string
	for _, ch := range changes {
		for _, n := range []string{ch.From.Name, ch.To.Name} {
			if n != "" && !seen[n] {
				seen[n] = true
				out = append(out, n)
			}
		}
	}
	sort.Strings(out)
	return out, nil
}

// actor is the author of a commit, as github.actor.
func actor(g *git.Repository, at plumbing.Hash) string {
	if c, err := g.CommitObject(at); err == nil {
		return c.Author.Name
	}
	return ""
}
