package actions

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	"github.com/go-git/go-git/v5/storage/memory"

	"github.com/birdflock/runner/pkg/gitrepo"
)

// Fetched is a remote action's repository in the cache, and how it got
// there.
type Fetched struct {
	// Root is the read-only tree: StateDir/actions/<owner>/<repo>/<commit>
	// (or dir-<sha256> for a plain folder).
	Root string
	// Commit is the commit the version resolved to; "" for a plain folder.
	Commit string
	// Digest is a plain folder's content hash, sha256:…; "" for git.
	Digest string
	// Source is where it came from: a URL (credentials redacted) or a
	// folder.
	Source string
	// Cached is set when the source could not be reached and the version
	// was resolved as it was the last time (Note says so, and why).
	Cached bool
	Note   string
}

var (
	fullSHA  = regexp.MustCompile(`^[0-9a-fA-F]{40}$`)
	shortSHA = regexp.MustCompile(`^[0-9a-fA-F]{7,39}$`)
	namePart = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)
)

// listTimeout bounds asking the source for its refs: an unreachable host
// that drops packets would otherwise hold the job until its timeout.
const listTimeout = 30 * time.Second

// Fetch returns a read-only folder holding owner/repo at version (a tag, a
// branch or a commit) and the commit it resolved to ("" for a plain
// folder of Source.Dir).
func (r *Resolver) Fetch(ctx context.Context, owner, repo, version, token string) (root, commit string, err error) {
	f, err := r.FetchRepo(ctx, owner, repo, version, token)
	if err != nil {
		return "", "", err
	}
	return f.Root, f.Commit, nil
}

// FetchRepo is Fetch with the details. The source is asked every time
// (one ref listing: tags move, and the answer says the token may read the
// repository); a commit already in the cache is not fetched again. When
// the source cannot be reached (not: refuses), a version resolved before
// from the same source is resolved as then, and the result says so. token
// is sent as HTTP basic auth (x-access-token) to URL sources whose
// template carries no credentials of its own; it never appears in errors.
func (r *Resolver) FetchRepo(ctx context.Context, owner, repo, version, token string) (*Fetched, error) {
	name := owner + "/" + repo + "@" + version
	for _, p := range []string{owner, repo} {
		if !namePart.MatchString(p) || p == "." || p == ".." {
			return nil, fmt.Errorf("%s: %q is not a valid owner or repository name", name, p)
		}
	}
	if strings.TrimSpace(version) == "" || strings.ContainsAny(version, " \t\n") {
		return nil, fmt.Errorf("%s: expected a tag, a branch or a full commit SHA after @", name)
	}
	if r.StateDir == "" {
		return nil, fmt.Errorf("%s: remote actions need a state dir to be cached in", name)
	}
	base := filepath.Join(r.StateDir, "actions", strings.ToLower(owner), strings.ToLower(repo))
	unlock, err := lockDir(ctx, base)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	defer unlock()
	if r.Source.Dir != "" {
		f, err := r.fromDir(ctx, base, owner, repo, version)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		return f, nil
	}
	url := r.Source.URLFor(owner, repo)
	var auth transport.AuthMethod
	if token != "" && (strings.HasPrefix(url, "https://") || strings.HasPrefix(url, "http://")) && gitrepo.RedactURL(url) == url {
		auth = &githttp.BasicAuth{Username: gitrepo.TokenUser, Password: token}
	}
	f, err := fetchGit(ctx, base, url, version, auth, true)
	if err != nil {
		return nil, scrubbed(fmt.Errorf("%s: %w", name, err), token)
	}
	if f.Note != "" {
		f.Note = scrubbed(errors.New(f.Note), token).Error()
	}
	return f, nil
}

// fromDir takes owner/repo from the local folder Source.Dir: the folder
// OWNER/REPO@VERSION, else OWNER/REPO (or OWNER/REPO.git), a git
// repository (bare or not: version is resolved in it) or a plain folder
// (copied as it is, whatever the version).
func (r *Resolver) fromDir(ctx context.Context, base, owner, repo, version string) (*Fetched, error) {
	for _, cand := range []string{repo + "@" + version, repo, repo + ".git"} {
		p, err := filepath.EvalSymlinks(filepath.Join(r.Source.Dir, owner, cand))
		if err != nil {
			continue
		}
		if st, err := os.Stat(p); err != nil || !st.IsDir() {
			continue
		}
		if !strings.Contains(cand, "@") {
			if _, err := git.PlainOpen(p); err == nil {
				return fetchGit(ctx, base, p, version, nil, false)
			}
		}
		root, digest, err := copyFolder(p, base)
		if err != nil {
			return nil, fmt.Errorf("copy %s: %w", p, err)
		}
		return &Fetched{Root: root, Digest: digest, Source: p}, nil
	}
	return nil, fmt.Errorf("no folder %s/%s in the actions source %s (a git repository or a plain folder)", owner, repo, r.Source.Dir)
}

// fetchGit resolves version at url and makes sure its commit's tree is in
// base. remote: url is a network source, whose cached resolutions serve
// when it cannot be reached.
func fetchGit(ctx context.Context, base, url, version string, auth transport.AuthMethod, remote bool) (*Fetched, error) {
	source := gitrepo.RedactURL(url)
	listCtx, cancel := context.WithTimeout(ctx, listTimeout)
	refs, err := git.NewRemote(memory.NewStorage(), &config.RemoteConfig{Name: "origin", URLs: []string{url}}).
		ListContext(listCtx, &git.ListOptions{Auth: auth, PeelingOption: git.AppendPeeled})
	cancel()
	if err != nil {
		if remote && unreachable(ctx, err) {
			if f := cachedResolution(base, source, version); f != nil {
				f.Note += fmt.Sprintf(" (%s cannot be reached: %v)", source, err)
				return f, nil
			}
		}
		if isAuthError(err) {
			if auth != nil {
				return nil, fmt.Errorf("%s: the source refused the token (the GITHUB_TOKEN secret)", source)
			}
			return nil, fmt.Errorf("%s: the source requires credentials (a private repository, or none of that name): give a GITHUB_TOKEN secret", source)
		}
		if errors.Is(err, transport.ErrRepositoryNotFound) {
			return nil, fmt.Errorf("%s: no such repository", source)
		}
		return nil, fmt.Errorf("list the refs of %s: %w", source, err)
	}
	hash, refName, err := pick(refs, version, source)
	if err != nil {
		return nil, err
	}
	if dst := filepath.Join(base, hash.String()); exists(dst) {
		if refName != "" {
			if err := record(base, source, version, hash.String()); err != nil {
				return nil, err
			}
		}
		return &Fetched{Root: dst, Commit: hash.String(), Source: source}, nil
	}
	mirror, err := openMirror(filepath.Join(base, "mirror.git"))
	if err != nil {
		return nil, err
	}
	// A remote that is not stored: the mirror's config keeps no URL (a
	// template may carry credentials) and the source may change.
	rem := git.NewRemote(mirror.Storer, &config.RemoteConfig{Name: "origin", URLs: []string{url}})
	fetch := func(specs ...config.RefSpec) error {
		err := rem.FetchContext(ctx, &git.FetchOptions{RefSpecs: specs, Auth: auth, Tags: git.NoTags, Force: true})
		if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
			return fmt.Errorf("fetch %s from %s: %w", version, source, err)
		}
		return nil
	}
	commit := hash
	if refName != "" {
		if err := fetch(config.RefSpec("+" + refName + ":" + refName)); err != nil {
			return nil, err
		}
		ref, err := mirror.Reference(refName, true)
		if err != nil {
			return nil, fmt.Errorf("%s after fetching it: %w", refName, err)
		}
		if commit, err = peel(mirror, ref.Hash()); err != nil {
			return nil, fmt.Errorf("%s: %w", refName, err)
		}
	} else {
		if _, err := mirror.CommitObject(commit); err != nil {
			if err := fetch("+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"); err != nil {
				return nil, err
			}
		}
		if _, err := mirror.CommitObject(commit); err != nil {
			// on no branch or tag: ask for the commit itself (servers
			// that allow it)
			_ = fetch(config.RefSpec(commit.String() + ":refs/runner/" + commit.String()))
		}
		if _, err := mirror.CommitObject(commit); err != nil {
			return nil, fmt.Errorf("commit %s is not in %s", commit, source)
		}
	}
	root, err := materialize(mirror, commit, base)
	if err != nil {
		return nil, fmt.Errorf("commit %s: %w", commit, err)
	}
	if refName != "" {
		if err := record(base, source, version, commit.String()); err != nil {
			return nil, err
		}
	}
	return &Fetched{Root: root, Commit: commit.String(), Source: source}, nil
}

// pick finds version among a source's refs as GitHub does: a full commit
// SHA as it is, else a tag, then a branch (refs/tags/…, refs/heads/… when
// spelled out). It returns the commit when the listing gives it (a
// lightweight tag, a branch, a peeled annotated tag), else the tag object.
func pick(refs []*plumbing.Reference, version, source string) (plumbing.Hash, plumbing.ReferenceName, error) {
	if fullSHA.MatchString(version) {
		return plumbing.NewHash(strings.ToLower(version)), "", nil
	}
	byName := map[string]plumbing.Hash{}
	for _, ref := range refs {
		if ref.Type() == plumbing.HashReference {
			byName[ref.Name().String()] = ref.Hash()
		}
	}
	names := []string{"refs/tags/" + version, "refs/heads/" + version}
	if strings.HasPrefix(version, "refs/") {
		names = []string{version}
	}
	for _, n := range names {
		h, ok := byName[n]
		if !ok {
			continue
		}
		if p, ok := byName[n+"^{}"]; ok {
			h = p
		}
		return h, plumbing.ReferenceName(n), nil
	}
	if shortSHA.MatchString(version) {
		return plumbing.ZeroHash, "", fmt.Errorf("%q looks like a shortened commit SHA, which is not supported (as on GitHub): use the full 40-character SHA", version)
	}
	return plumbing.ZeroHash, "", fmt.Errorf("%q is not a tag, a branch or a full commit SHA of %s", version, source)
}

// peel follows annotated tags to their commit.
func peel(r *git.Repository, h plumbing.Hash) (plumbing.Hash, error) {
	for range 10 {
		t, err := r.TagObject(h)
		if errors.Is(err, plumbing.ErrObjectNotFound) {
			if _, err := r.CommitObject(h); err != nil {
				return h, fmt.Errorf("%s is not a commit: %w", h, err)
			}
			return h, nil
		}
		if err != nil {
			return h, err
		}
		if t.TargetType != plumbing.CommitObject && t.TargetType != plumbing.TagObject {
			return h, fmt.Errorf("tag %s points at a %s, not a commit", t.Name, t.TargetType)
		}
		h = t.Target
	}
	return h, errors.New("tags nested too deep")
}

func openMirror(dir string) (*git.Repository, error) {
	r, err := git.PlainOpen(dir)
	if errors.Is(err, git.ErrRepositoryNotExists) {
		r, err = git.PlainInit(dir, true)
	}
	if err != nil {
		return nil, fmt.Errorf("mirror %s: %w", dir, err)
	}
	return r, nil
}

// cachedResolution is version's commit as resolved from source before (a
// full SHA is its own), when that commit's tree is in the cache.
func cachedResolution(base, source, version string) *Fetched {
	commit, note := strings.ToLower(version), "the commit is in the cache"
	if !fullSHA.MatchString(version) {
		e, ok := readIndex(base)[source][version]
		if !ok {
			return nil
		}
		commit = e.Commit
		note = fmt.Sprintf("used the cached resolution of %s from %s", version, e.Resolved.Format(time.RFC3339))
	}
	root := filepath.Join(base, commit)
	if !fullSHA.MatchString(commit) || !exists(root) {
		return nil
	}
	return &Fetched{Root: root, Commit: commit, Source: source, Cached: true, Note: note}
}

// unreachable tells a source that could not be asked (network, server
// error) from one that answered no (credentials, no such repository) and
// from a cancelled run.
func unreachable(ctx context.Context, err error) bool {
	return ctx.Err() == nil && !isAuthError(err) &&
		!errors.Is(err, transport.ErrRepositoryNotFound) &&
		!errors.Is(err, transport.ErrEmptyRemoteRepository)
}

func isAuthError(err error) bool {
	return errors.Is(err, transport.ErrAuthenticationRequired) ||
		errors.Is(err, transport.ErrAuthorizationFailed) ||
		errors.Is(err, transport.ErrInvalidAuthMethod)
}

// scrubbed returns err with URL credentials and the token hidden.
func scrubbed(err error, secrets ...string) error {
	msg := gitrepo.RedactURL(err.Error())
	for _, s := range secrets {
		if s = strings.TrimSpace(s); s != "" {
			msg = strings.ReplaceAll(msg, s, "***")
		}
	}
	if msg == err.Error() {
		return err
	}
	return errors.New(msg)
}
