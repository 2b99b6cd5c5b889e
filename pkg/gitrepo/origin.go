package gitrepo

import (
	"fmt"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
)

// SetOrigin makes the repository at dir (a copy of another repository's
// git directory, bare or not, in dir/.git) a working clone whose origin
// is url: core.bare off, remote origin's URL set, its fetch refspecs kept
// (the default ones for a new remote). A clone of it then pushes where
// the original's clones push (a remote job leg's checkout: pkg/run).
func SetOrigin(dir, url string) error {
	r, err := git.PlainOpen(dir)
	if err != nil {
		return fmt.Errorf("set origin of %s: %w", dir, err)
	}
	cfg, err := r.Config()
	if err != nil {
		return fmt.Errorf("set origin of %s: %w", dir, err)
	}
	cfg.Core.IsBare = false
	rc := cfg.Remotes["origin"]
	if rc == nil {
		rc = &config.RemoteConfig{Name: "origin", Fetch: []config.RefSpec{config.RefSpec(fmt.Sprintf(config.DefaultFetchRefSpec, "origin"))}}
		cfg.Remotes["origin"] = rc
	}
	rc.URLs = []string{url}
	if err := r.SetConfig(cfg); err != nil {
		return fmt.Errorf("set origin of %s: %w", dir, err)
	}
	return nil
}
