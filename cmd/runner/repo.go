package main

import (
	"path/filepath"

	"github.com/birdflock/runner/pkg/gitrepo"
	"github.com/birdflock/runner/pkg/run"
)

// repoInfo reads github.sha, ref, actor and repository from the repository
// (a local path or a URL). A directory that is not a git repository gives
// an empty sha and ref, so that plain scripts still run.
func repoInfo(path string) (run.Repo, error) {
	if !gitrepo.IsURL(path) {
		if _, err := gitrepo.Resolve(path); err != nil {
			return run.Repo{Path: path, Repository: "local/" + filepath.Base(path)}, nil
		}
	}
	info, err := gitrepo.Resolve(path)
	if err != nil {
		return run.Repo{}, err
	}
	return run.Repo{Path: path, SHA: info.SHA, Ref: info.Ref, Actor: info.Actor, Repository: info.Repository}, nil
}
