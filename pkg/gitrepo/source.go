package gitrepo

import (
	"context"
	"errors"
	"fmt"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// SourceCommit opens repo (as Open does, without credentials) and returns
// Repo.SourceCommit(rev, ignore).
func SourceCommit(repo, rev string, ignore []string) (string, error) {
	r, err := Open(context.Background(), repo, OpenOptions{})
	if err != nil {
		return "", err
	}
	return r.SourceCommit(rev, ignore)
}

// SourceCommit returns the newest commit on the first-parent chain from rev
// that changed a path not matched by ignore, e.g. `k8s/**`: the commit whose
// sources a build is made of, the same for the bot's own manifest commits
// on top of it. A commit is compared with its first parent (a merge counts
// when it brought such a change); a root commit or one whose parent is
// missing (shallow history) counts when it has such a path at all. Empty
// ignore returns rev's commit. When every commit touches only ignored paths
// the root-most one is returned.
func (r *Repo) SourceCommit(rev string, ignore []string) (string, error) {
	g, err := CompileGlobs(ignore)
	if err != nil {
		return "", err
	}
	c, err := r.commit(rev)
	if err != nil {
		return "", err
	}
	if g.Empty() {
		return c.Hash.String(), nil
	}
	for {
		tree, err := c.Tree()
		if err != nil {
			return "", fmt.Errorf("commit %s: %w", c.Hash, err)
		}
		var parentTree *object.Tree
		var parent *object.Commit
		if c.NumParents() > 0 {
			parent, err = c.Parent(0)
			if errors.Is(err, plumbing.ErrObjectNotFound) {
				parent = nil
			} else if err != nil {
				return "", fmt.Errorf("commit %s: %w", c.Hash, err)
			}
		}
		if parent != nil {
			if parentTree, err = parent.Tree(); err != nil {
				return "", fmt.Errorf("commit %s: %w", parent.Hash, err)
			}
		}
		paths, err := changedPaths(parentTree, tree)
		if err != nil {
			return "", err
		}
		for _, p := range paths {
			if !g.Match(p) {
				return c.Hash.String(), nil
			}
		}
		if parent == nil {
			return c.Hash.String(), nil
		}
		c = parent
	}
}
