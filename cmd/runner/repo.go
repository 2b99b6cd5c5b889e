package main

import (
	"path/filepath"
	"strings"

	"github.com/go-git/go-git/v5"

	"github.com/birdflock/runner/pkg/run"
)

// repoInfo reads github.sha, ref and actor from the repository's HEAD.
// A directory that is not a git repository gives an empty sha and ref.
func repoInfo(path string) (run.Repo, error) {
	info := run.Repo{Path: path, Repository: "local/" + filepath.Base(path)}
	if strings.Contains(path, "://") {
		return info, nil
	}
	r, err := git.PlainOpenWithOptions(path, &git.PlainOpenOptions{DetectDotGit: true})
	if err != nil {
		return info, nil
	}
	head, err := r.Head()
	if err != nil {
		return info, nil
	}
	info.SHA = head.Hash().String()
	if head.Name().IsBranch() || head.Name().IsTag() {
		info.Ref = head.Name().String()
	}
	if c, err := r.CommitObject(head.Hash()); err == nil {
		info.Actor = c.Author.Name
	}
	return info, nil
}
