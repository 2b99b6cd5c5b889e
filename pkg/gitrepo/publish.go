package gitrepo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
)

// The bot identity GitHub's own actions commit as.
const (
	BotName  = "github-actions[bot]"
	BotEmail = "41898282+github-actions[bot]@users.noreply.github.com"
)

var (
	// ErrConflict: the remote branch moved and changed the published paths
	// too; nothing was pushed.
	ErrConflict = errors.New("the remote changed the same paths")
	// ErrRemoteMoved: the remote branch kept moving through every retry.
	ErrRemoteMoved = errors.New("the remote branch kept moving")
	// ErrDiverged: the remote branch moved and lacks the checked-out commit
	// (it was never pushed): replaying only the paths would drop it.
	ErrDiverged = errors.New("the remote branch has diverged from the checked-out commit")
	// ErrAuth: the remote refused the credentials (or wants some).
	ErrAuth = errors.New("authentication failed")
)

// PublishOptions configure CommitPush. Dir is required; every other zero
// value has the default stated.
type PublishOptions struct {
	Dir     string   // the working tree (or a directory inside it)
	Paths   []string // relative to the top of the working tree; default ["k8s/"]
	Message string   // default "Publish new image"
	// AuthorName and AuthorEmail sign the commit as author and committer;
	// default BotName and BotEmail.
	AuthorName, AuthorEmail string
	Remote                  string // default "origin"
	Branch                  string // remote branch; default: the checked-out branch
	// AllowEmpty commits and pushes even when the paths did not change;
	// default false: nothing changed means no commit and no push.
	AllowEmpty bool
	// Retries is how often the change is replayed onto a remote head that
	// moved; default 3, negative for none.
	Retries int
	Auth    Auth
	// Logf receives progress lines; default: none.
	Logf func(format string, args ...any)
	// Now stamps the commit; default time.Now.
	Now func() time.Time
}

// PublishResult says what CommitPush did.
type PublishResult struct {
	// Commit is the commit that holds the paths' content on the remote
	// branch: the new commit, or HEAD (or the remote head that already had
	// the same content) when nothing was pushed.
	Commit   string
	Pushed   bool
	Attempts int // pushes tried
}

// CommitPush commits the working tree's content of Paths (additions,
// changes and deletions under them; nothing else, whatever is staged) on top
// of HEAD and pushes it to Branch of Remote, never forcing.
//
// When the remote branch moved since HEAD, the change is replayed onto its
// new head (the files are generated, so their working-tree content is simply
// re-applied) and pushed again, up to Retries times. If the remote's new
// commits changed any of Paths themselves, that is a conflict: ErrConflict,
// with the remote untouched (unless the remote already holds exactly this
// content, which is success with Pushed=false). If the remote's head does
// not contain HEAD (HEAD has unpushed commits and the remote moved), the
// result is ErrDiverged: a replay would lose those commits.
//
// On success the local branch (and index) point at the new commit; files a
// replay brought in from the remote are written to the working tree unless
// they have local changes.
func CommitPush(ctx context.Context, o PublishOptions) (PublishResult, error) {
	res, err := commitPush(ctx, o)
	return res, scrub(err, o.Auth.secrets()...)
}

func (o *PublishOptions) defaults() {
	if len(o.Paths) == 0 {
		o.Paths = []string{"k8s/"}
	}
	if o.Message == "" {
		o.Message = "Publish new image"
	}
	if o.AuthorName == "" {
		o.AuthorName = BotName
	}
	if o.AuthorEmail == "" {
		o.AuthorEmail = BotEmail
	}
	if o.Remote == "" {
		o.Remote = "origin"
	}
	if o.Retries == 0 {
		o.Retries = 3
	}
	if o.Retries < 0 {
		o.Retries = 0
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// publishRef is a private local ref that carries the commit being pushed,
// so a failed attempt never moves a branch.
const publishRef = plumbing.ReferenceName("refs/runner/publish")

func commitPush(ctx context.Context, o PublishOptions) (PublishResult, error) {
	o.defaults()
	r, err := plainOpen(o.Dir, true)
	if err != nil {
		return PublishResult{}, fmt.Errorf("open repository %s: %w", o.Dir, err)
	}
	wt, err := r.Worktree()
	if err != nil {
		return PublishResult{}, fmt.Errorf("open repository %s: %w", o.Dir, err)
	}
	root := wt.Filesystem.Root()
	paths, err := cleanPaths(root, o.Dir, o.Paths)
	if err != nil {
		return PublishResult{}, err
	}
	head, err := r.Head()
	if err != nil {
		return PublishResult{}, fmt.Errorf("resolve HEAD: %w", err)
	}
	branch := o.Branch
	if branch == "" {
		if !head.Name().IsBranch() {
			return PublishResult{}, errors.New("HEAD is detached: set the branch to push to")
		}
		branch = head.Name().Short()
	}
	rem, err := r.Remote(o.Remote)
	if err != nil {
		return PublishResult{}, fmt.Errorf("remote %q: %w", o.Remote, err)
	}
	if len(rem.Config().URLs) == 0 {
		return PublishResult{}, fmt.Errorf("remote %q has no URL", o.Remote)
	}
	url := rem.Config().URLs[0]
	auth, err := o.Auth.method(url)
	if err != nil {
		return PublishResult{}, err
	}
	base, err := r.CommitObject(head.Hash())
	if err != nil {
		return PublishResult{}, fmt.Errorf("read HEAD commit: %w", err)
	}
	desired, err := applyWorktree(r.Storer, base.TreeHash, root, paths)
	if err != nil {
		return PublishResult{}, fmt.Errorf("build tree of %s: %w", strings.Join(paths, ", "), err)
	}
	if desired == base.TreeHash && !o.AllowEmpty {
		o.Logf("nothing changed under %s: no commit, no push", strings.Join(paths, ", "))
		return PublishResult{Commit: base.Hash.String()}, nil
	}
	defer func() { _ = r.Storer.RemoveReference(publishRef) }()

	sig := object.Signature{Name: o.AuthorName, Email: o.AuthorEmail, When: o.Now()}
	parent, tree := base, desired
	target := fmt.Sprintf("%s %s", RedactURL(url), branch)
	for attempt := 1; ; attempt++ {
		c, err := writeCommit(r, tree, parent.Hash, o.Message, sig)
		if err != nil {
			return PublishResult{}, err
		}
		perr := push(ctx, r, o.Remote, auth, c, branch)
		if perr == nil {
			o.Logf("pushed %s to %s", c.String()[:12], target)
			res := PublishResult{Commit: c.String(), Pushed: true, Attempts: attempt}
			return res, updateLocal(r, wt, head, branch, base, c, paths, o.Logf)
		}
		if isAuthError(perr) {
			return PublishResult{}, authError("push to "+target, auth != nil)
		}
		if errors.Is(perr, ErrCheckedOut) {
			return PublishResult{}, fmt.Errorf("push to %s: %w", target, ErrCheckedOut)
		}
		tip, ferr := fetchTip(ctx, r, o.Remote, auth, branch)
		if ferr != nil {
			return PublishResult{}, fmt.Errorf("push to %s: %w (and fetching it failed: %v)", target, perr, ferr)
		}
		if attempt > o.Retries {
			if tip == parent.Hash {
				return PublishResult{}, fmt.Errorf("push to %s: %w", target, perr)
			}
			return PublishResult{}, fmt.Errorf("push to %s: %w after %d attempts (last: %v)", target, ErrRemoteMoved, attempt, perr)
		}
		if tip == parent.Hash {
			// not moved: a transient failure (e.g. a concurrent ref update
			// on the server); push the same commit again
			o.Logf("push to %s failed (%v): retrying", target, perr)
			continue
		}
		tipCommit, err := r.CommitObject(tip)
		if err != nil {
			return PublishResult{}, fmt.Errorf("read remote head %s: %w", tip, err)
		}
		if ok, err := base.IsAncestor(tipCommit); err != nil {
			return PublishResult{}, fmt.Errorf("compare with remote head %s: %w", tip, err)
		} else if !ok {
			return PublishResult{}, fmt.Errorf("push to %s: the branch moved to %s, which does not contain the checked-out commit %s "+
				"(it was never pushed); push or rebase that commit first, nothing was pushed: %w",
				target, tip.String()[:12], base.Hash.String()[:12], ErrDiverged)
		}
		changed, err := pathsDiffer(r, base.TreeHash, tipCommit.TreeHash, paths)
		if err != nil {
			return PublishResult{}, err
		}
		if len(changed) > 0 {
			same, err := pathsDiffer(r, desired, tipCommit.TreeHash, paths)
			if err != nil {
				return PublishResult{}, err
			}
			if len(same) == 0 {
				o.Logf("%s already has this content at %s: nothing to push", target, tip.String()[:12])
				return PublishResult{Commit: tip.String(), Attempts: attempt}, nil
			}
			return PublishResult{}, fmt.Errorf("push to %s: the branch moved from %s to %s and those commits changed %s too; "+
				"not overwriting them (no force push), nothing was pushed: %w",
				target, base.Hash.String()[:12], tip.String()[:12], strings.Join(changed, ", "), ErrConflict)
		}
		o.Logf("%s moved to %s: replaying %s on it", target, tip.String()[:12], strings.Join(paths, ", "))
		tree, err = applyWorktree(r.Storer, tipCommit.TreeHash, root, paths)
		if err != nil {
			return PublishResult{}, fmt.Errorf("replay %s: %w", strings.Join(paths, ", "), err)
		}
		parent = tipCommit
	}
}

// cleanPaths makes the paths relative to the top of the working tree:
// relative paths are taken from dir (the caller's directory), none may
// leave the working tree. "." stands for all of it.
func cleanPaths(root, dir string, in []string) ([]string, error) {
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, p := range in {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		full := p
		if !filepath.IsAbs(p) {
			full = filepath.Join(absDir, p)
		}
		rel, err := filepath.Rel(root, full)
		if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return nil, fmt.Errorf("path %q is outside the repository %s", p, root)
		}
		rel = filepath.ToSlash(rel)
		if rel == ".git" || strings.HasPrefix(rel, ".git/") {
			return nil, fmt.Errorf("path %q is inside .git", p)
		}
		if rel != "." {
			// "k8s/d/" names what is inside k8s/d: beyond it when it is a link.
			within := rel
			if strings.HasSuffix(p, "/") {
				within += "/."
			}
			if err := beyondSymlink(root, within); err != nil {
				return nil, fmt.Errorf("path %q: %w", p, err)
			}
		}
		out = append(out, rel)
	}
	if len(out) == 0 {
		return nil, errors.New("no paths to commit")
	}
	return out, nil
}

func writeCommit(r *git.Repository, tree, parent plumbing.Hash, msg string, sig object.Signature) (plumbing.Hash, error) {
	if !strings.HasSuffix(msg, "\n") {
		msg += "\n"
	}
	if tree.IsZero() { // every path was deleted from a tree that held only them
		var err error
		if tree, err = writeTree(r.Storer, nil); err != nil {
			return tree, err
		}
	}
	c := &object.Commit{Author: sig, Committer: sig, Message: msg, TreeHash: tree, ParentHashes: []plumbing.Hash{parent}}
	obj := r.Storer.NewEncodedObject()
	if err := c.Encode(obj); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("encode commit: %w", err)
	}
	h, err := r.Storer.SetEncodedObject(obj)
	if err != nil {
		return h, fmt.Errorf("store commit: %w", err)
	}
	return h, nil
}

func push(ctx context.Context, r *git.Repository, remote string, auth transport.AuthMethod, c plumbing.Hash, branch string) error {
	if err := r.Storer.SetReference(plumbing.NewHashReference(publishRef, c)); err != nil {
		return err
	}
	spec := config.RefSpec(fmt.Sprintf("%s:%s", publishRef, plumbing.NewBranchReferenceName(branch)))
	err := r.PushContext(ctx, &git.PushOptions{RemoteName: remote, RefSpecs: []config.RefSpec{spec}, Auth: auth})
	if errors.Is(err, git.NoErrAlreadyUpToDate) {
		return nil
	}
	return err
}

// fetchTip fetches the remote branch and returns its head. It tries three
// times: go-git's server can read a ref file while a concurrent push
// rewrites it in place and fail once.
func fetchTip(ctx context.Context, r *git.Repository, remote string, auth transport.AuthMethod, branch string) (plumbing.Hash, error) {
	track := plumbing.NewRemoteReferenceName(remote, branch)
	spec := config.RefSpec(fmt.Sprintf("+%s:%s", plumbing.NewBranchReferenceName(branch), track))
	var err error
	for try := 1; try <= 3; try++ {
		err = r.FetchContext(ctx, &git.FetchOptions{RemoteName: remote, RefSpecs: []config.RefSpec{spec}, Auth: auth, Tags: git.NoTags})
		if err == nil || errors.Is(err, git.NoErrAlreadyUpToDate) {
			ref, err := r.Reference(track, true)
			if err != nil {
				return plumbing.ZeroHash, err
			}
			return ref.Hash(), nil
		}
		if isAuthError(err) || ctx.Err() != nil {
			break
		}
		time.Sleep(time.Duration(try) * 50 * time.Millisecond)
	}
	return plumbing.ZeroHash, err
}

// authError says what to do about a refused authentication, without the
// transport's text (which may quote a URL).
func authError(op string, sent bool) error {
	if sent {
		return fmt.Errorf("%s: %w: the remote refused the credentials given", op, ErrAuth)
	}
	return fmt.Errorf("%s: %w: the remote requires credentials (set token, or username and password; ssh-key for ssh)", op, ErrAuth)
}

func isAuthError(err error) bool {
	return errors.Is(err, transport.ErrAuthenticationRequired) ||
		errors.Is(err, transport.ErrAuthorizationFailed) ||
		errors.Is(err, transport.ErrInvalidAuthMethod) ||
		err != nil && strings.Contains(err.Error(), "ssh: unable to authenticate")
}

// pathsDiffer returns the paths whose entries differ between two trees.
func pathsDiffer(r *git.Repository, a, b plumbing.Hash, paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		ea, err := entryAt(r.Storer, a, p)
		if err != nil {
			return nil, err
		}
		eb, err := entryAt(r.Storer, b, p)
		if err != nil {
			return nil, err
		}
		if (ea == nil) != (eb == nil) || (ea != nil && (ea.Hash != eb.Hash || ea.Mode != eb.Mode)) {
			out = append(out, p)
		}
	}
	return out, nil
}

// updateLocal moves the checked-out branch (or detached HEAD) to the pushed
// commit c. Files the remote changed outside paths (after a replay) are
// written to the working tree where the working tree still had HEAD's
// version; the index is reset to c.
func updateLocal(r *git.Repository, wt *git.Worktree, head *plumbing.Reference, branch string, base *object.Commit, c plumbing.Hash, paths []string, logf func(string, ...any)) error {
	nc, err := r.CommitObject(c)
	if err != nil {
		return err
	}
	if head.Name().IsBranch() && head.Name() != plumbing.NewBranchReferenceName(branch) {
		logf("left the checked-out branch %s as it was (pushed to %s)", head.Name().Short(), branch)
		return nil
	}
	if len(nc.ParentHashes) == 1 && nc.ParentHashes[0] != base.Hash {
		if err := syncFiles(wt.Filesystem.Root(), base, nc, paths, logf); err != nil {
			return fmt.Errorf("update working tree: %w", err)
		}
	}
	if err := wt.Reset(&git.ResetOptions{Commit: c, Mode: git.MixedReset}); err != nil {
		return fmt.Errorf("update local branch: %w", err)
	}
	return nil
}

func syncFiles(root string, from, to *object.Commit, paths []string, logf func(string, ...any)) error {
	ft, err := from.Tree()
	if err != nil {
		return err
	}
	tt, err := to.Tree()
	if err != nil {
		return err
	}
	changed, err := changedPaths(ft, tt)
	if err != nil {
		return err
	}
	for _, p := range changed {
		if underAny(p, paths) {
			continue
		}
		full := filepath.Join(root, filepath.FromSlash(p))
		old, _ := fileContent(ft, p)
		cur, err := os.ReadFile(full)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		if old == nil && err == nil || old != nil && !bytes.Equal(old, cur) {
			logf("kept local change of %s", p)
			continue
		}
		if err := writeFromTree(tt, root, p, full); err != nil {
			return err
		}
	}
	return nil
}

// writeFromTree writes the file p of t to full with its mode (regular,
// executable or symlink), or removes full when t has no such file; never
// through a symbolic link of the working tree (ErrBeyondSymlink).
func writeFromTree(t *object.Tree, root, p, full string) error {
	if err := beyondSymlink(root, p); err != nil {
		return err
	}
	f, err := t.File(p)
	if err != nil {
		if err := os.Remove(full); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		return nil
	}
	data, err := f.Contents()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		return err
	}
	_ = os.Remove(full) // a symlink or a read-only file is replaced, not written through
	switch f.Mode {
	case filemode.Symlink:
		return os.Symlink(data, full)
	case filemode.Executable:
		return os.WriteFile(full, []byte(data), 0o755)
	default:
		return os.WriteFile(full, []byte(data), 0o644)
	}
}

func fileContent(t *object.Tree, p string) ([]byte, error) {
	f, err := t.File(p)
	if err != nil {
		return nil, err
	}
	s, err := f.Contents()
	return []byte(s), err
}

// ErrBeyondSymlink is a path whose parent, inside the working tree, is a
// symbolic link: git refuses it ("beyond a symbolic link") and so does
// runner, since it would read or write what the link points at.
var ErrBeyondSymlink = errors.New("beyond a symbolic link")

// beyondSymlink fails when a directory on the way from root to the
// slash-separated rel (rel itself excluded) is a symbolic link.
func beyondSymlink(root, rel string) error {
	parts := strings.Split(rel, "/")
	cur := root
	for i, part := range parts[:len(parts)-1] {
		cur = filepath.Join(cur, part)
		fi, err := os.Lstat(cur)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			return fmt.Errorf("%s is %w %s", rel, ErrBeyondSymlink, strings.Join(parts[:i+1], "/"))
		}
	}
	return nil
}

func underAny(p string, paths []string) bool {
	for _, q := range paths {
		if q == "." || p == q || strings.HasPrefix(p, strings.TrimSuffix(q, "/")+"/") {
			return true
		}
	}
	return false
}
