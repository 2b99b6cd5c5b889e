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
}

// errUnknownRef is a ref that names no branch, tag or commit.
var errUnknownRef = errors.New("no such ref")

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

// resolve turns a branch, tag, full ref or commit into a full ref (empty
// for a bare commit) and a commit hash.
func resolve(g *git.Repository, ref string) (string, plumbing.Hash, error) {
	for _, full := range []string{ref, "refs/heads/" + ref, "refs/tags/" + ref} {
		if !strings.HasPrefix(full, "refs/") {
			continue
		}
		h, err := g.ResolveRevision(plumbing.Revision(full))
		if err == nil {
			return full, *h, nil
		}
	}
	if plumbing.IsHash(ref) {
		if _, err := g.CommitObject(plumbing.NewHash(ref)); err == nil {
			return "", plumbing.NewHash(ref), nil
		}
	}
	return "", plumbing.ZeroHash, fmt.Errorf("%w: %q", errUnknownRef, ref)
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
