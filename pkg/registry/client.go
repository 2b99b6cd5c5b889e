package registry

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Credential is a username and password for one registry.
type Credential struct {
	Registry string // host[:port] as in image references; "docker.io" for Docker Hub
	Username string
	Password string
}

// Options configure a Client. The zero value works: anonymous or docker
// config auth, HTTPS except plain HTTP for loopback, no mirrors, retries.
type Options struct {
	// Credentials are used for the registries they name; every other
	// registry gets what the docker config holds (authn.DefaultKeychain:
	// $DOCKER_CONFIG/config.json or ~/.docker/config.json). Default none.
	Credentials []Credential
	// Insecure allows plain HTTP and unverified TLS for every registry.
	// Default false: HTTPS, plain HTTP only for loopback hosts.
	Insecure bool
	// Mirrors are tried before the registry they mirror on every pull.
	// Default none.
	Mirrors Mirrors
	// Backoff paces retries of 5xx answers and connection errors.
	// Default (zero Steps): 5 tries, waiting 0.2 s, doubling, ±10%.
	Backoff remote.Backoff
	// Transport is the base HTTP transport. Default: go-containerregistry's
	// remote.DefaultTransport (proxy from the environment).
	Transport http.RoundTripper
	// Log receives one line per image moved. Default: discarded.
	Log io.Writer
}

// Client moves images between registries, archives and layouts.
// It is safe for concurrent use.
type Client struct {
	opts      Options
	keychain  authn.Keychain
	transport http.RoundTripper
}

// New returns a Client.
func New(o Options) *Client {
	if o.Backoff.Steps == 0 {
		o.Backoff = remote.Backoff{Duration: 200e6, Factor: 2, Jitter: 0.1, Steps: 5}
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	base := o.Transport
	if base == nil {
		base = remote.DefaultTransport
	}
	if t, ok := base.(*http.Transport); ok && o.Insecure {
		t = t.Clone()
		if t.TLSClientConfig == nil {
			t.TLSClientConfig = &tls.Config{}
		}
		t.TLSClientConfig.InsecureSkipVerify = true //nolint:gosec // asked for by Options.Insecure
		base = t
	}
	return &Client{
		opts:      o,
		keychain:  keychain{creds: o.Credentials, fallback: authn.DefaultKeychain},
		transport: newTransport(base, o.Insecure, o.Mirrors.httpHosts()...),
	}
}

// keychain answers with an explicit credential for its registry and asks
// the fallback (the docker config) for every other one.
type keychain struct {
	creds    []Credential
	fallback authn.Keychain
}

func (k keychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	for _, c := range k.creds {
		if canonicalRegistry(c.Registry) == canonicalRegistry(r.RegistryStr()) && c.Username != "" {
			return authn.FromConfig(authn.AuthConfig{Username: c.Username, Password: c.Password}), nil
		}
	}
	a, err := k.fallback.Resolve(r)
	if err != nil {
		return nil, fmt.Errorf("docker config: %w", err)
	}
	return a, nil
}

func (c *Client) remoteOpts(ctx context.Context) []remote.Option {
	return []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(c.keychain),
		remote.WithTransport(c.transport),
		remote.WithRetryBackoff(c.opts.Backoff),
		remote.WithRetryStatusCodes(retryStatusCodes...),
		remote.WithRetryPredicate(retryable),
		remote.WithUserAgent("runner"),
	}
}

// ParseReference parses an image reference, honouring Options.Insecure.
func (c *Client) ParseReference(ref string) (name.Reference, error) {
	var opts []name.Option
	if c.opts.Insecure {
		opts = append(opts, name.Insecure)
	}
	r, err := name.ParseReference(ref, opts...)
	if err != nil {
		return nil, fmt.Errorf("image reference %q: %w", ref, err)
	}
	return r, nil
}

// Pushed says where an image went.
type Pushed struct {
	Digest string   // sha256:… of the manifest, the same for every tag
	Refs   []string // REPO:TAG, one per tag, in the order given
}

// Push writes a under each tag of repo (e.g. "127.0.0.1:5000/owner/app").
// Blobs are uploaded once and skipped when the registry has them already;
// every tag points at the same digest.
func (c *Client) Push(ctx context.Context, a *Artifact, repo string, tags []string) (Pushed, error) {
	if len(tags) == 0 {
		return Pushed{}, errors.New("push: no tags")
	}
	var nopts []name.Option
	if c.opts.Insecure {
		nopts = append(nopts, name.Insecure)
	}
	r, err := name.NewRepository(repo, nopts...)
	if err != nil {
		return Pushed{}, fmt.Errorf("push: repository %q: %w", repo, err)
	}
	dg, err := a.Digest()
	if err != nil {
		return Pushed{}, fmt.Errorf("push: %w", err)
	}
	todo := map[name.Reference]remote.Taggable{}
	out := Pushed{Digest: dg.String()}
	for _, t := range tags {
		tag, err := name.NewTag(r.Name()+":"+t, nopts...)
		if err != nil {
			return Pushed{}, fmt.Errorf("push: tag %q: %w", t, err)
		}
		todo[tag] = a.taggable()
		out.Refs = append(out.Refs, tag.String())
	}
	if err := remote.MultiWrite(todo, c.remoteOpts(ctx)...); err != nil {
		return Pushed{}, fmt.Errorf("push %s: %w", r.Name(), err)
	}
	for _, ref := range out.Refs {
		fmt.Fprintf(c.opts.Log, "pushed %s@%s\n", ref, out.Digest)
	}
	return out, nil
}

// Pull fetches ref, trying the mirrors of its registry first. The result
// reads lazily from the registry it came from.
func (c *Client) Pull(ctx context.Context, ref string) (*Artifact, error) {
	cands, err := c.opts.Mirrors.Rewrite(ref)
	if err != nil {
		return nil, err
	}
	if c.opts.Insecure {
		// Re-parse the last (original) reference as insecure.
		if cands[len(cands)-1], err = c.ParseReference(ref); err != nil {
			return nil, err
		}
	}
	var errs []error
	for _, r := range cands {
		desc, err := remote.Get(r, c.remoteOpts(ctx)...)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			errs = append(errs, fmt.Errorf("%s: %w", r.Name(), err))
			continue
		}
		a, err := artifactFromDescriptor(desc)
		if err != nil {
			return nil, fmt.Errorf("pull %s: %w", r.Name(), err)
		}
		a.Source = r.Name()
		fmt.Fprintf(c.opts.Log, "pulled %s@%s\n", r.Name(), desc.Digest)
		return a, nil
	}
	return nil, fmt.Errorf("pull %s: %w", ref, errors.Join(errs...))
}

func artifactFromDescriptor(d *remote.Descriptor) (*Artifact, error) {
	if d.MediaType.IsIndex() {
		idx, err := d.ImageIndex()
		if err != nil {
			return nil, err
		}
		return &Artifact{idx: idx}, nil
	}
	img, err := d.Image()
	if err != nil {
		return nil, err
	}
	return &Artifact{img: img}, nil
}

// Digest returns the manifest digest ref points at, without mirrors.
func (c *Client) Digest(ctx context.Context, ref string) (string, error) {
	r, err := c.ParseReference(ref)
	if err != nil {
		return "", err
	}
	d, err := remote.Head(r, c.remoteOpts(ctx)...)
	if err != nil {
		return "", fmt.Errorf("digest of %s: %w", r.Name(), err)
	}
	return d.Digest.String(), nil
}

// Tag points tag (e.g. "latest") at the manifest src names, in src's
// repository. Only the manifest is written; no blob moves.
func (c *Client) Tag(ctx context.Context, src, tag string) (string, error) {
	r, err := c.ParseReference(src)
	if err != nil {
		return "", err
	}
	desc, err := remote.Get(r, c.remoteOpts(ctx)...)
	if err != nil {
		return "", fmt.Errorf("tag %s: %w", r.Name(), err)
	}
	t, err := name.NewTag(r.Context().Name()+":"+tag, nameOpts(c.opts.Insecure)...)
	if err != nil {
		return "", fmt.Errorf("tag %q: %w", tag, err)
	}
	if err := remote.Tag(t, desc, c.remoteOpts(ctx)...); err != nil {
		return "", fmt.Errorf("tag %s: %w", t.Name(), err)
	}
	return t.String(), nil
}

// Copy pulls src (through mirrors) and pushes it to dst (REPO:TAG).
func (c *Client) Copy(ctx context.Context, src, dst string) (Pushed, error) {
	a, err := c.Pull(ctx, src)
	if err != nil {
		return Pushed{}, err
	}
	d, err := c.ParseReference(dst)
	if err != nil {
		return Pushed{}, err
	}
	tag := "latest"
	if t, ok := d.(name.Tag); ok {
		tag = t.TagStr()
	}
	return c.Push(ctx, a, d.Context().Name(), []string{tag})
}

func nameOpts(insecure bool) []name.Option {
	if insecure {
		return []name.Option{name.Insecure}
	}
	return nil
}
