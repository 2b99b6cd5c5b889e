package gitrepo

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"
)

// CloneOptions say what Clone fetches and checks out. Source and Dir are
// required; every other zero value has the default stated.
type CloneOptions struct {
	Source string // local path (working clone or bare) or URL
	Dir    string // where the working tree goes; created when missing
	// Rev is what to check out: a commit sha, a branch (name or
	// refs/heads/…), a tag, or "" for the source's HEAD.
	Rev string
	// Branch is the local branch put at Rev's commit and checked out;
	// default: the branch Rev names (the source's HEAD branch for ""), or a
	// detached HEAD when Rev is a sha or a tag.
	Branch string
	// Upstream becomes the clone's origin URL (where later pushes go);
	// default: Source (made absolute for local paths).
	Upstream string
	// Clean removes whatever Dir holds first; default false: a non-empty
	// Dir is an error.
	Clean bool
	Auth  Auth // for URL sources
}

// Checkout is the result of Clone.
type Checkout struct {
	Commit string // checked-out commit
	Ref    string // refs/heads/BRANCH, or "" for a detached HEAD
	Repo   *Repo  // the new clone
}

var fullSHA = regexp.MustCompile(`^[0-9a-fA-F]{40}$`)

// Clone makes a full clone of Source in Dir and checks out Rev. Local
// sources go through the in-process transport (no git binary). On failure
// Dir is left as it was found (minus what Clean removed).
func Clone(ctx context.Context, opts CloneOptions) (*Checkout, error) {
	co, err := clone(ctx, opts)
	return co, scrub(err, opts.Auth.secrets()...)
}

func clone(ctx context.Context, opts CloneOptions) (co *Checkout, err error) {
	if opts.Source == "" || opts.Dir == "" {
		return nil, errors.New("clone: source and dir are required")
	}
	src, rev, branch := opts.Source, opts.Rev, opts.Branch
	if p, ok := localPath(src); ok {
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, err
		}
		// the server wants the repository's top; HEAD is read in place
		// because a detached one does not survive go-git's ref listing
		r, err := openLocal(abs)
		if err != nil {
			return nil, err
		}
		src = r.info.Dir
		if rev == "" || rev == "HEAD" {
			rev = r.info.SHA
			if branch == "" {
				branch = r.info.RefName
			}
		}
	}
	upstream := opts.Upstream
	if upstream == "" {
		upstream = src
	}
	created, err := prepareDir(opts.Dir, opts.Clean)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			cleanDir(opts.Dir, created)
		}
	}()
	auth, err := opts.Auth.method(src)
	if err != nil {
		return nil, err
	}
	r, err := fetchAll(ctx, opts.Dir, src, rev, auth)
	if isAuthError(err) {
		return nil, authError("clone "+RedactURL(src), auth != nil || strings.Contains(src, "@"))
	}
	if err != nil {
		return nil, fmt.Errorf("clone %s: %w", RedactURL(src), err)
	}
	hash, revBranch, err := resolveRev(r, rev)
	if err != nil {
		return nil, fmt.Errorf("clone %s: %w", RedactURL(src), err)
	}
	if branch == "" {
		branch = revBranch
	}
	wt, err := r.Worktree()
	if err != nil {
		return nil, err
	}
	co = &Checkout{Commit: hash.String()}
	if branch != "" {
		name := plumbing.NewBranchReferenceName(branch)
		if err := r.Storer.SetReference(plumbing.NewHashReference(name, hash)); err != nil {
			return nil, fmt.Errorf("set branch %s: %w", branch, err)
		}
		if err := wt.Checkout(&git.CheckoutOptions{Branch: name, Force: true}); err != nil {
			return nil, fmt.Errorf("check out %s: %w", branch, err)
		}
		co.Ref = name.String()
	} else if err := wt.Checkout(&git.CheckoutOptions{Hash: hash, Force: true}); err != nil {
		return nil, fmt.Errorf("check out %s: %w", hash, err)
	}
	if err := setOrigin(r, upstream, branch); err != nil {
		return nil, err
	}
	co.Repo, err = openLocal(opts.Dir)
	return co, err
}

// sourceHead is where a clone keeps the source's HEAD branch, as a
// symbolic ref (go-git's own clone fails on a source with a detached HEAD).
const sourceHead = plumbing.ReferenceName("refs/remotes/origin/HEAD")

// fetchAll initialises dir and fetches every branch and tag of src, plus
// the commit want (a full sha, or "") when no ref of src leads to it.
func fetchAll(ctx context.Context, dir, src, want string, auth transport.AuthMethod) (*git.Repository, error) {
	r, err := git.PlainInit(dir, false)
	if err != nil {
		return nil, err
	}
	if r, err = withBoundWorktree(r); err != nil {
		return nil, err
	}
	rem, err := r.CreateRemote(&config.RemoteConfig{Name: "origin", URLs: []string{src}})
	if err != nil {
		return nil, err
	}
	refs, err := rem.ListContext(ctx, &git.ListOptions{Auth: auth})
	if err != nil {
		return nil, err
	}
	specs := []config.RefSpec{"+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*"}
	err = rem.FetchContext(ctx, &git.FetchOptions{RefSpecs: specs, Auth: auth, Tags: git.NoTags})
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		return nil, err
	}
	for _, ref := range refs {
		if ref.Name() == plumbing.HEAD && ref.Type() == plumbing.SymbolicReference && ref.Target().IsBranch() {
			target := plumbing.NewRemoteReferenceName("origin", ref.Target().Short())
			if err := r.Storer.SetReference(plumbing.NewSymbolicReference(sourceHead, target)); err != nil {
				return nil, err
			}
		}
	}
	if fullSHA.MatchString(want) {
		if _, err := r.CommitObject(plumbing.NewHash(want)); err != nil {
			// e.g. a detached HEAD on no branch: ask for the commit itself
			spec := config.RefSpec(want + ":refs/runner/checkout")
			err := rem.FetchContext(ctx, &git.FetchOptions{RefSpecs: []config.RefSpec{spec}, Auth: auth, Tags: git.NoTags})
			if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
				return nil, fmt.Errorf("fetch commit %s: %w", want, err)
			}
		}
	}
	return r, nil
}

// resolveRev finds the commit to check out and the branch it names.
func resolveRev(r *git.Repository, rev string) (plumbing.Hash, string, error) {
	rev = strings.TrimSpace(rev)
	if rev == "" || rev == "HEAD" {
		ref, err := r.Storer.Reference(sourceHead)
		if err != nil {
			return plumbing.ZeroHash, "", fmt.Errorf("source HEAD: %w", err)
		}
		branch := ""
		if ref.Type() == plumbing.SymbolicReference {
			branch = strings.TrimPrefix(ref.Target().String(), "refs/remotes/origin/")
		}
		h, err := r.ResolveRevision(plumbing.Revision(sourceHead))
		if err != nil {
			return plumbing.ZeroHash, "", fmt.Errorf("source HEAD: %w", err)
		}
		return *h, branch, nil
	}
	if fullSHA.MatchString(rev) {
		h := plumbing.NewHash(rev)
		if _, err := r.CommitObject(h); err != nil {
			return h, "", fmt.Errorf("commit %s is not in the source repository: %w", rev, err)
		}
		return h, "", nil
	}
	name := strings.TrimPrefix(rev, "refs/heads/")
	if ref, err := r.Reference(plumbing.NewRemoteReferenceName("origin", name), true); err == nil {
		return ref.Hash(), name, nil
	}
	tag := strings.TrimPrefix(rev, "refs/tags/")
	if ref, err := r.Tag(tag); err == nil {
		h := ref.Hash()
		if t, err := r.TagObject(h); err == nil { // annotated: peel
			c, err := t.Commit()
			if err != nil {
				return h, "", fmt.Errorf("tag %s: %w", tag, err)
			}
			h = c.Hash
		}
		return h, "", nil
	}
	h, err := r.ResolveRevision(plumbing.Revision(rev))
	if err != nil {
		return plumbing.ZeroHash, "", fmt.Errorf("ref %q: not a branch, tag or commit of the source: %w", rev, err)
	}
	return *h, "", nil
}

func setOrigin(r *git.Repository, upstream, branch string) error {
	cfg, err := r.Config()
	if err != nil {
		return err
	}
	if rc, ok := cfg.Remotes["origin"]; ok {
		rc.URLs = []string{upstream}
	}
	if branch != "" {
		cfg.Branches[branch] = &config.Branch{
			Name: branch, Remote: "origin", Merge: plumbing.NewBranchReferenceName(branch),
		}
	}
	if err := r.SetConfig(cfg); err != nil {
		return fmt.Errorf("set origin: %w", err)
	}
	return nil
}

// prepareDir makes dir ready for a clone and reports whether it created it.
func prepareDir(dir string, clean bool) (bool, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return true, os.MkdirAll(dir, 0o755)
	}
	if err != nil {
		return false, err
	}
	if len(entries) > 0 && !clean {
		return false, fmt.Errorf("clone into %s: directory is not empty", dir)
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return false, err
		}
	}
	return false, nil
}

func cleanDir(dir string, created bool) {
	if created {
		_ = os.RemoveAll(dir)
		return
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		_ = os.RemoveAll(filepath.Join(dir, e.Name()))
	}
}
