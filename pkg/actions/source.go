package actions

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/birdflock/runner/pkg/gitrepo"
)

// EnvSource is the environment variable runner exec and runner serve
// read the actions source from when no flag or config sets it.
const EnvSource = "RUNNER_ACTIONS_SOURCE"

// DefaultURL is where remote actions come from without a Source: GitHub.
const DefaultURL = "https://github.com/{owner}/{repo}"

// ParseSource reads an actions-source setting (runner exec
// --actions-source, runner serve's actions-source): a clone URL template
// with {owner} and {repo} (scheme://…), or a local folder holding
// OWNER/REPO. "" is GitHub. A folder must exist; relative ones are made
// absolute.
func ParseSource(s string) (Source, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return Source{}, nil
	case strings.Contains(s, "://"):
		if !strings.Contains(s, "{owner}") || !strings.Contains(s, "{repo}") {
			return Source{}, fmt.Errorf("actions source %s: a URL template needs {owner} and {repo}, e.g. https://git.example.com/{owner}/{repo}", gitrepo.RedactURL(s))
		}
		u, err := url.Parse(Source{URL: s}.URLFor("owner", "repo"))
		if err != nil {
			return Source{}, fmt.Errorf("actions source %s: not a valid URL", gitrepo.RedactURL(s))
		}
		switch u.Scheme {
		case "http", "https", "ssh", "git", "file":
		default:
			return Source{}, fmt.Errorf("actions source %s: scheme %q: expected https, http, ssh, git or file", gitrepo.RedactURL(s), u.Scheme)
		}
		return Source{URL: s}, nil
	}
	abs, err := filepath.Abs(s)
	if err != nil {
		return Source{}, fmt.Errorf("actions source %s: %w", s, err)
	}
	st, err := os.Stat(abs)
	if err != nil {
		return Source{}, fmt.Errorf("actions source: %w", err)
	}
	if !st.IsDir() {
		return Source{}, fmt.Errorf("actions source %s: not a folder (expected a folder holding OWNER/REPO, or a URL template with {owner} and {repo})", abs)
	}
	return Source{Dir: abs}, nil
}

// URLFor is the clone URL of owner/repo: URL (or DefaultURL) with
// {owner} and {repo} replaced.
func (s Source) URLFor(owner, repo string) string {
	t := s.URL
	if t == "" {
		t = DefaultURL
	}
	return strings.NewReplacer("{owner}", owner, "{repo}", repo).Replace(t)
}

// String describes the source for logs, credentials redacted.
func (s Source) String() string {
	switch {
	case s.Dir != "":
		return s.Dir
	case s.URL != "":
		return gitrepo.RedactURL(s.URL)
	}
	return DefaultURL
}
