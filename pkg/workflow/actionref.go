package workflow

import (
	"fmt"
	"regexp"
	"strings"
)

// ActionRef is a `uses:` value that names an action (steps) or a reusable
// workflow (jobs): ./path in the workspace, owner/repo[/path]@ref, or
// docker://image.
type ActionRef struct {
	Raw string
	// Local is a ./path reference; Path is then relative to the
	// workspace (for remote ones, to the repository's root).
	Local bool
	Path  string
	// Owner, Repo and Version (a tag, a branch or a commit) name a remote
	// action.
	Owner, Repo, Version string
	// Image is the image of a docker:// reference.
	Image string
}

// IsDocker reports whether the reference is docker://image.
func (r ActionRef) IsDocker() bool { return r.Image != "" }

// Name is owner/repo for a remote reference, the path for a local one.
func (r ActionRef) Name() string {
	switch {
	case r.Local:
		return r.Path
	case r.IsDocker():
		return "docker://" + r.Image
	}
	return r.Owner + "/" + r.Repo
}

var (
	ownerPattern = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$`)
	repoPattern  = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)
)

// ParseActionRef reads a `uses:` value as GitHub does.
func ParseActionRef(uses string) (ActionRef, error) {
	r := ActionRef{Raw: uses}
	switch {
	case strings.HasPrefix(uses, "docker://"):
		r.Image = strings.TrimPrefix(uses, "docker://")
		if r.Image == "" {
			return r, fmt.Errorf("docker:// names no image")
		}
		return r, nil
	case uses == "." || strings.HasPrefix(uses, "./"):
		r.Local = true
		r.Path = strings.TrimPrefix(strings.TrimPrefix(uses, "."), "/")
		if strings.Contains(r.Path, "@") {
			return r, fmt.Errorf("a local action (./path) takes no @ref")
		}
		return r, nil
	}
	name, version, ok := strings.Cut(uses, "@")
	if !ok || version == "" {
		return r, fmt.Errorf("expected ./path, owner/repo@ref, owner/repo/path@ref or docker://image")
	}
	parts := strings.Split(name, "/")
	if len(parts) < 2 || !ownerPattern.MatchString(parts[0]) || !repoPattern.MatchString(parts[1]) {
		return r, fmt.Errorf("expected owner/repo@ref or owner/repo/path@ref")
	}
	for _, p := range parts[2:] {
		if p == "" || p == "." || p == ".." {
			return r, fmt.Errorf("the path after owner/repo must not have empty, . or .. parts")
		}
	}
	r.Owner, r.Repo, r.Version = parts[0], parts[1], version
	r.Path = strings.Join(parts[2:], "/")
	return r, nil
}
