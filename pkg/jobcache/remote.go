package jobcache

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/birdflock/runner/pkg/registry"
)

// Media types of an entry in a registry: an OCI image manifest with
// artifactType ArtifactType, the empty config, entry.json as its first
// layer and each artifact file as a layer of its own (the blob is the
// file, so its digest is the file's sha256 in entry.json).
const (
	ArtifactType   = "application/vnd.runner.jobcache.v1"
	EntryMediaType = "application/vnd.runner.jobcache.entry.v1+json"
	FileMediaType  = "application/vnd.runner.jobcache.file.v1"
	emptyMediaType = "application/vnd.oci.empty.v1+json"
	// KeyAnnotation names the key an entry's manifest holds.
	KeyAnnotation = "dev.runner.jobcache.key"
	titleAnnot    = "org.opencontainers.image.title"
	maxEntryJSON  = 16 << 20 // entry.json larger than this is refused
)

// Remote shares a store's entries through a registry repository: the
// entry of KEY is the OCI artifact tagged KEY in Repo. Pull checks every
// blob's digest and size, and each file against entry.json, before the
// entry enters the local store; anything wrong is an error (the caller's
// miss with a warning), never a wrong entry.
//
// A registry that does not answer (no connection, after the client's
// retries) is not asked again for RetryAfter: the jobs of a run do not
// each wait for it.
type Remote struct {
	Repo   string           // e.g. 127.0.0.1:5000/owner/runner-cache
	Client *registry.Client // auth (docker config), mirrors, retries

	mu        sync.Mutex
	downUntil time.Time // not asked before then
	downErr   error     // why
}

// RetryAfter is how long a Remote that did not answer is left alone.
const RetryAfter = 30 * time.Second

// reachable is nil, or why the registry is not asked now.
func (r *Remote) reachable() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if time.Now().Before(r.downUntil) {
		return fmt.Errorf("%s did not answer (%v): not asked again before %s", r.Repo, r.downErr, r.downUntil.Format(time.TimeOnly))
	}
	return nil
}

// noteErr leaves the registry alone for RetryAfter when err says it did
// not answer at all (a connection error, not an HTTP error status).
func (r *Remote) noteErr(err error) {
	var ue *url.Error
	var te *transport.Error
	if err == nil || !errors.As(err, &ue) || errors.As(err, &te) || errors.Is(err, context.Canceled) {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.downUntil, r.downErr = time.Now().Add(RetryAfter), ue.Err
}

// NewRemote checks repo (a repository, no tag or digest) and returns a
// Remote with client c.
func NewRemote(repo string, c *registry.Client) (*Remote, error) {
	r, err := name.NewRepository(repo)
	if err != nil {
		return nil, fmt.Errorf("cache registry %q: want a repository such as 127.0.0.1:5000/owner/runner-cache: %w", repo, err)
	}
	return &Remote{Repo: r.Name(), Client: c}, nil
}

// String is the repository, for messages.
func (r *Remote) String() string { return r.Repo }

func (r *Remote) ref(key string) string { return r.Repo + ":" + key }

// Push uploads the entry of key in s to the registry. Blobs the registry
// has already are not sent again; two pushes of one key both succeed (the
// tag names whichever came last; both are whole entries).
func (r *Remote) Push(ctx context.Context, s *Store, key string) error {
	if !keyPattern.MatchString(key) {
		return fmt.Errorf("cache: invalid key %q", key)
	}
	if err := r.reachable(); err != nil {
		return fmt.Errorf("cache push %s: %w", key[:12], err)
	}
	dir := s.entryDir(key)
	raw, err := os.ReadFile(filepath.Join(dir, "entry.json"))
	if err != nil {
		return fmt.Errorf("cache push %s: %w", key[:12], err)
	}
	var e Entry
	if err := json.Unmarshal(raw, &e); err != nil || e.Key != key {
		return fmt.Errorf("cache push %s: unreadable entry.json", key[:12])
	}
	img := &entryImage{blobs: map[v1.Hash]blob{}}
	add := func(b blob, title string) {
		img.blobs[b.digest] = b
		img.m.Layers = append(img.m.Layers, v1.Descriptor{MediaType: b.mediaType, Size: b.size, Digest: b.digest,
			Annotations: map[string]string{titleAnnot: title}})
	}
	add(blob{mediaType: EntryMediaType, digest: sha(raw), size: int64(len(raw)), data: raw}, "entry.json")
	for _, a := range e.Artifacts {
		for _, f := range a.Files {
			p, err := entryFile(dir, a.Name, f.Path)
			if err != nil {
				return fmt.Errorf("cache push %s: %w", key[:12], err)
			}
			h, err := v1.NewHash("sha256:" + f.SHA256)
			if err != nil {
				return fmt.Errorf("cache push %s: %s: %w", key[:12], f.Path, err)
			}
			add(blob{mediaType: FileMediaType, digest: h, size: f.Size, path: p}, a.Name+"/"+f.Path)
		}
	}
	img.m.SchemaVersion, img.m.MediaType, img.m.ArtifactType = 2, types.OCIManifestSchema1, ArtifactType
	img.m.Config = v1.Descriptor{MediaType: emptyMediaType, Size: 2, Digest: sha([]byte("{}"))}
	img.m.Annotations = map[string]string{KeyAnnotation: key}
	full, err := partial.CompressedToImage(img)
	if err != nil {
		return err
	}
	if _, err := r.Client.Push(ctx, registry.FromImage(full), r.Repo, []string{key}); err != nil {
		r.noteErr(err)
		return fmt.Errorf("cache push %s: %w", key[:12], err)
	}
	return nil
}

// Pull fetches the entry of key from the registry into s: ErrMiss when
// the registry has none, another error when it cannot be read or does not
// match its digests (nothing of it is left in s).
func (r *Remote) Pull(ctx context.Context, s *Store, key string) (err error) {
	if !keyPattern.MatchString(key) {
		return fmt.Errorf("cache: invalid key %q", key)
	}
	if err := r.reachable(); err != nil {
		return fmt.Errorf("cache pull %s: %w", key[:12], err)
	}
	a, err := r.Client.Pull(ctx, r.ref(key))
	if err != nil {
		if notFound(err) {
			return ErrMiss
		}
		r.noteErr(err)
		return fmt.Errorf("cache pull %s: %w", key[:12], err)
	}
	fail := func(format string, args ...any) error {
		return fmt.Errorf("cache pull %s from %s: %s", key[:12], r.Repo, fmt.Sprintf(format, args...))
	}
	img, err := a.Image(nil)
	if err != nil {
		return fail("%v", err)
	}
	m, err := img.Manifest()
	if err != nil {
		return fail("%v", err)
	}
	if m.ArtifactType != ArtifactType || len(m.Layers) == 0 || m.Layers[0].MediaType != EntryMediaType || m.Layers[0].Size > maxEntryJSON {
		return fail("not a runner cache entry (artifactType %q)", m.ArtifactType)
	}
	var raw bytes.Buffer
	if _, err := readBlob(img, m.Layers[0], &raw); err != nil {
		return fail("entry.json: %v", err)
	}
	var e Entry
	if err := json.Unmarshal(raw.Bytes(), &e); err != nil {
		return fail("corrupted entry.json: %v", err)
	}
	if e.Key != key {
		return fail("holds key %q", e.Key)
	}
	inManifest := map[string]v1.Descriptor{}
	for _, d := range m.Layers[1:] {
		inManifest[d.Digest.String()] = d
	}
	tmp, err := os.MkdirTemp(filepath.Join(s.Dir, "tmp"), key[:12]+"-pull-")
	if err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	defer os.RemoveAll(tmp) // gone after the rename; else the half-pulled entry
	for _, art := range e.Artifacts {
		for _, f := range art.Files {
			p, err := entryFile(tmp, art.Name, f.Path)
			if err != nil {
				return fail("%v", err)
			}
			d, ok := inManifest["sha256:"+f.SHA256]
			if !ok || d.Size != f.Size {
				return fail("artifact %q: %s is not in the manifest", art.Name, f.Path)
			}
			if err := pullFile(img, d, p, fs.FileMode(f.Mode)); err != nil {
				return fail("artifact %q: %s: %v", art.Name, f.Path, err)
			}
		}
	}
	if err := os.WriteFile(filepath.Join(tmp, "entry.json"), raw.Bytes(), 0o600); err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	return s.commit(tmp, key)
}

// notFound tells a registry's "no such tag or repository" from other errors.
func notFound(err error) bool {
	var te *transport.Error
	if !errors.As(err, &te) {
		return false
	}
	if te.StatusCode == http.StatusNotFound {
		return true
	}
	for _, d := range te.Errors {
		if d.Code == transport.ManifestUnknownErrorCode || d.Code == transport.NameUnknownErrorCode {
			return true
		}
	}
	return false
}

// readBlob copies the blob d of img to w; go-containerregistry checks its
// size and digest as it is read (an error at the end on a mismatch).
func readBlob(img v1.Image, d v1.Descriptor, w io.Writer) (int64, error) {
	l, err := img.LayerByDigest(d.Digest)
	if err != nil {
		return 0, err
	}
	rc, err := l.Compressed()
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	n, err := io.Copy(w, io.LimitReader(rc, d.Size+1))
	if err == nil && n != d.Size {
		err = fmt.Errorf("%d bytes, want %d", n, d.Size)
	}
	return n, err
}

// pullFile writes blob d to p (parents made) and checks its sha256 there
// too.
func pullFile(img v1.Image, d v1.Descriptor, p string, mode fs.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	if mode == 0 {
		mode = 0o644
	}
	out, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, mode.Perm())
	if err != nil {
		return err
	}
	h := sha256.New()
	_, err = readBlob(img, d, io.MultiWriter(out, h))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil && "sha256:"+hex.EncodeToString(h.Sum(nil)) != d.Digest.String() {
		err = errors.New("does not match its digest")
	}
	return err
}

// entryFile is where file rel of artifact name lives under an entry's
// directory; both come from entry.json, so they are checked first.
func entryFile(dir, art, rel string) (string, error) {
	if art == "" || art == "." || art == ".." || strings.ContainsAny(art, "/\\\x00") {
		return "", fmt.Errorf("invalid artifact name %q", art)
	}
	if !fs.ValidPath(rel) || rel == "." {
		return "", fmt.Errorf("artifact %q: invalid path %q", art, rel)
	}
	return filepath.Join(dir, "artifacts", art, filepath.FromSlash(rel)), nil
}

func sha(b []byte) v1.Hash {
	s := sha256.Sum256(b)
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(s[:])}
}

// entryImage is an entry as a go-containerregistry image (partial's
// compressed core): its manifest, and its blobs read from the store.
type entryImage struct {
	m     v1.Manifest
	blobs map[v1.Hash]blob
}

func (i *entryImage) RawConfigFile() ([]byte, error) { return []byte("{}"), nil }
func (i *entryImage) MediaType() (types.MediaType, error) {
	return types.OCIManifestSchema1, nil
}
func (i *entryImage) RawManifest() ([]byte, error) { return json.Marshal(i.m) }
func (i *entryImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if b, ok := i.blobs[h]; ok {
		return b, nil
	}
	return nil, fmt.Errorf("cache entry: no blob %s", h)
}

// blob is one layer of an entry: entry.json in memory or a file of the
// store. Uncompressed and compressed are the same bytes.
type blob struct {
	mediaType types.MediaType
	digest    v1.Hash
	size      int64
	data      []byte
	path      string
}

func (b blob) Digest() (v1.Hash, error)            { return b.digest, nil }
func (b blob) DiffID() (v1.Hash, error)            { return b.digest, nil }
func (b blob) Size() (int64, error)                { return b.size, nil }
func (b blob) MediaType() (types.MediaType, error) { return b.mediaType, nil }
func (b blob) Compressed() (io.ReadCloser, error) {
	if b.path == "" {
		return io.NopCloser(bytes.NewReader(b.data)), nil
	}
	return os.Open(b.path)
}
