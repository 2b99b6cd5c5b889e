package actions

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	securejoin "github.com/cyphar/filepath-securejoin"

	"github.com/birdflock/runner/pkg/workflow"
)

// Source says where remote actions come from.
type Source struct {
	// URL is a clone URL template with {owner} and {repo}, such as
	// https://git.example.com/{owner}/{repo}. Empty: GitHub's.
	URL string
	// Dir is a local folder holding OWNER/REPO, each a git repository or
	// a plain folder. It wins over URL when set.
	Dir string
}

// Resolver finds actions. The zero value resolves ./path actions only.
type Resolver struct {
	// StateDir is runner's state dir; remote actions are cached under
	// StateDir/actions by commit.
	StateDir string
	Source   Source
}

// Action is a resolved action: its metadata and where it lives.
type Action struct {
	Ref workflow.ActionRef
	// Dir is the folder of action.yml (github.action_path).
	Dir string
	// Meta is the parsed action.yml.
	Meta *workflow.Action
	// Commit is the commit a remote action was resolved to; empty for a
	// local one.
	Commit string
	// Fetched says where a remote action came from; nil for a local one.
	Fetched *Fetched
}

// Resolve finds the action ref names and reads its metadata. workspace is
// the job's workspace (for ./path); token, when not empty, authenticates
// the clone of a remote action.
func (r *Resolver) Resolve(ctx context.Context, ref workflow.ActionRef, workspace, token string) (*Action, error) {
	switch {
	case ref.IsDocker():
		return nil, fmt.Errorf("%s: a docker:// image is run by its step, not resolved as an action", ref.Raw)
	case ref.Local:
		dir, err := securejoin.SecureJoin(workspace, ref.Path)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", ref.Raw, err)
		}
		meta, err := Load(dir, ref.Raw)
		if err != nil {
			return nil, err
		}
		return &Action{Ref: ref, Dir: dir, Meta: meta}, nil
	}
	f, err := r.FetchRepo(ctx, ref.Owner, ref.Repo, ref.Version, token)
	if err != nil {
		return nil, err
	}
	dir, err := securejoin.SecureJoin(f.Root, ref.Path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ref.Raw, err)
	}
	meta, err := Load(dir, ref.Raw)
	if err != nil {
		return nil, err
	}
	return &Action{Ref: ref, Dir: dir, Meta: meta, Commit: f.Commit, Fetched: f}, nil
}

// Load reads the action.yml (or action.yaml) in dir. name is how the
// action is named in errors when it has no metadata file.
func Load(dir, name string) (*workflow.Action, error) {
	file, data, err := ReadMetadata(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("%s: no action.yml or action.yaml in %s", name, dir)
	case err != nil:
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	meta, errs := workflow.ParseAction(file, data)
	if len(errs) > 0 {
		return nil, errs
	}
	return meta, nil
}

// ReadMetadata reads the action.yml, else the action.yaml, in dir and
// returns its path and contents; fs.ErrNotExist when there is neither.
func ReadMetadata(dir string) (file string, data []byte, err error) {
	for _, base := range []string{"action.yml", "action.yaml"} {
		file = filepath.Join(dir, base)
		data, err = os.ReadFile(file)
		if !errors.Is(err, fs.ErrNotExist) {
			return file, data, err
		}
	}
	return "", nil, err
}
