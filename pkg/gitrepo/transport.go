package gitrepo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/capability"
	"github.com/go-git/go-git/v5/plumbing/revlist"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/client"
	"github.com/go-git/go-git/v5/plumbing/transport/server"
	"github.com/go-git/go-git/v5/utils/ioutil"
)

// go-git picks transports from a package-level table and its file transport
// runs git-upload-pack; replacing the "file" entry once, before any caller
// can fetch, is the only way to keep local fetches and pushes in-process.
func init() {
	client.InstallProtocol("file", localTransport{})
}

// ErrCheckedOut is returned when a push would move the checked-out branch
// of a non-bare local repository (git's receive.denyCurrentBranch).
var ErrCheckedOut = errors.New("refusing to update the checked-out branch of a non-bare repository")

// localTransport serves local repositories with go-git's own server. Ref
// updates are compare-and-swap against the old value the client saw, so two
// racing pushes can never silently overwrite each other.
type localTransport struct{}

func (localTransport) load(ep *transport.Endpoint) (*git.Repository, error) {
	r, err := plainOpen(ep.Path, false)
	if errors.Is(err, git.ErrRepositoryNotExists) {
		return nil, transport.ErrRepositoryNotFound
	}
	return r, err
}

func (t localTransport) NewUploadPackSession(ep *transport.Endpoint, auth transport.AuthMethod) (transport.UploadPackSession, error) {
	r, err := t.load(ep)
	if err != nil {
		return nil, err
	}
	s, err := server.NewServer(oneLoader{r.Storer}).NewUploadPackSession(ep, auth)
	if err != nil {
		return nil, err
	}
	return &uploadSession{UploadPackSession: s, st: r.Storer}, nil
}

// uploadSession adapts go-git's upload-pack server to local clones.
type uploadSession struct {
	transport.UploadPackSession
	st storer.Storer
}

// AdvertisedReferences adds allow-reachable-sha1-in-want, so a clone can
// fetch a commit no ref names (a detached HEAD), as git allows locally.
func (s *uploadSession) AdvertisedReferences() (*packp.AdvRefs, error) {
	return s.AdvertisedReferencesContext(context.Background())
}

func (s *uploadSession) AdvertisedReferencesContext(ctx context.Context) (*packp.AdvRefs, error) {
	ar, err := s.UploadPackSession.AdvertisedReferencesContext(ctx)
	if err != nil {
		return nil, err
	}
	if err := ar.Capabilities.Add(capability.AllowReachableSHA1InWant); err != nil {
		return nil, err
	}
	return ar, nil
}

// UploadPack is go-git's server's, with two changes: "have" commits this
// repository lacks are dropped (go-git fails on them, git ignores them), and
// the pack is sent without a delta search: on a local disk deltas save
// nothing and the search was half of a clone's CPU time.
func (s *uploadSession) UploadPack(ctx context.Context, req *packp.UploadPackRequest) (*packp.UploadPackResponse, error) {
	if req.IsEmpty() {
		return nil, transport.ErrEmptyUploadPackRequest
	}
	if err := req.Validate(); err != nil {
		return nil, err
	}
	if len(req.Shallows) > 0 {
		return nil, errors.New("shallow fetches of local repositories are not supported")
	}
	var known []plumbing.Hash
	for _, h := range req.Haves {
		if s.st.HasEncodedObject(h) == nil {
			known = append(known, h)
		}
	}
	haves, err := revlist.Objects(s.st, known, nil)
	if err != nil {
		return nil, err
	}
	objs, err := revlist.Objects(s.st, req.Wants, haves)
	if err != nil {
		return nil, err
	}
	pr, pw := io.Pipe()
	go func() {
		_, err := packfile.NewEncoder(pw, s.st, false).Encode(objs, 0)
		pw.CloseWithError(err)
	}()
	return packp.NewUploadPackResponseWithPackfile(req, ioutil.NewContextReadCloser(ctx, pr)), nil
}

func (t localTransport) NewReceivePackSession(ep *transport.Endpoint, auth transport.AuthMethod) (transport.ReceivePackSession, error) {
	r, err := t.load(ep)
	if err != nil {
		return nil, err
	}
	cas := &casStorer{Storer: r.Storer, expected: map[plumbing.ReferenceName]plumbing.Hash{}}
	if _, werr := r.Worktree(); werr == nil {
		if head, err := r.Storer.Reference(plumbing.HEAD); err == nil && head.Type() == plumbing.SymbolicReference {
			cas.checkedOut = head.Target()
		}
	}
	s, err := server.NewServer(oneLoader{cas}).NewReceivePackSession(ep, auth)
	if err != nil {
		return nil, err
	}
	return &receiveSession{ReceivePackSession: s, cas: cas}, nil
}

type oneLoader struct{ s storer.Storer }

func (l oneLoader) Load(*transport.Endpoint) (storer.Storer, error) { return l.s, nil }

type receiveSession struct {
	transport.ReceivePackSession
	cas *casStorer
}

func (s *receiveSession) ReceivePack(ctx context.Context, req *packp.ReferenceUpdateRequest) (*packp.ReportStatus, error) {
	s.cas.mu.Lock()
	for _, c := range req.Commands {
		s.cas.expected[c.Name] = c.Old
	}
	s.cas.mu.Unlock()
	rs, err := s.ReceivePackSession.ReceivePack(ctx, req)
	// go-git's server reports a refused ref update as text in the report
	// status; hand the client the sentinel too, so it needs no text match.
	if s.cas.refusedCheckedOut.Load() {
		return rs, fmt.Errorf("%s: %w", s.cas.checkedOut, ErrCheckedOut)
	}
	return rs, err
}

// casStorer turns the server's blind SetReference into a check-and-set.
type casStorer struct {
	storer.Storer
	checkedOut plumbing.ReferenceName
	mu         sync.Mutex
	expected   map[plumbing.ReferenceName]plumbing.Hash
	// refusedCheckedOut is set when an update of checkedOut was refused.
	refusedCheckedOut atomic.Bool
}

func (c *casStorer) SetReference(ref *plumbing.Reference) error {
	if c.checkedOut != "" && ref.Name() == c.checkedOut {
		c.refusedCheckedOut.Store(true)
		return fmt.Errorf("%s: %w", ref.Name(), ErrCheckedOut)
	}
	c.mu.Lock()
	old, ok := c.expected[ref.Name()]
	c.mu.Unlock()
	if !ok || old.IsZero() {
		return c.Storer.SetReference(ref)
	}
	return c.Storer.CheckAndSetReference(ref, plumbing.NewHashReference(ref.Name(), old))
}

// PackfileWriter keeps pushes writing one pack instead of loose objects.
func (c *casStorer) PackfileWriter() (io.WriteCloser, error) {
	pw, ok := c.Storer.(storer.PackfileWriter)
	if !ok {
		return nil, errors.New("storage cannot write packfiles")
	}
	return pw.PackfileWriter()
}
