package ondisk

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	ggcr "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// maxManifestSize bounds a manifest upload; real ones are a few KiB.
const maxManifestSize = 16 << 20

var (
	// The distribution spec's grammar; it also keeps names inside the store.
	repoRE = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$`)
	tagRE  = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$`)
)

// Store is a registry kept in one directory:
//
//	blobs/sha256/HEX                  layer and config blobs
//	manifests/sha256/HEX(.type)       manifests and their content type
//	repositories/NAME/_digests/HEX    manifest HEX belongs to NAME
//	repositories/NAME/_tags/TAG       digest the tag points at
//
// Every file is written through a rename, so several processes may serve
// the same directory. Nothing is cached in memory.
type Store struct {
	dir   string
	blobs blobStore
	mu    sync.Mutex // orders manifest writes within this process
}

// Open creates the directory layout under dir if needed.
func Open(dir string) (*Store, error) {
	for _, d := range []string{"blobs", "manifests", "repositories"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, fmt.Errorf("registry store: %w", err)
		}
	}
	return &Store{dir: dir, blobs: blobStore{dir: filepath.Join(dir, "blobs")}}, nil
}

// Dir is the store's directory.
func (s *Store) Dir() string { return s.dir }

// Handler serves the distribution API at the site root. logger receives
// one line per request; nil discards them.
func (s *Store) Handler(logger *log.Logger) http.Handler {
	if logger == nil {
		logger = log.New(io.Discard, "", 0)
	}
	blobs := ggcr.New(ggcr.WithBlobHandler(s.blobs), ggcr.Logger(logger))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		kind, repo, ref := route(r.URL.Path)
		var rerr *regError
		switch kind {
		case "manifests":
			rerr = s.manifest(w, r, repo, ref)
		case "tags":
			rerr = s.tags(w, r, repo)
		case "catalog":
			rerr = s.catalog(w, r)
		default:
			blobs.ServeHTTP(w, r)
			return
		}
		if rerr != nil {
			logger.Printf("%s %s %d %s %s", r.Method, r.URL.Path, rerr.Status, rerr.Code, rerr.Message)
			rerr.write(w)
			return
		}
		logger.Printf("%s %s", r.Method, r.URL.Path)
	})
}

// route splits /v2/NAME/manifests/REF, /v2/NAME/tags/list and /v2/_catalog.
func route(p string) (kind, repo, ref string) {
	if p == "/v2/_catalog" {
		return "catalog", "", ""
	}
	el := strings.Split(strings.TrimPrefix(p, "/v2/"), "/")
	if !strings.HasPrefix(p, "/v2/") || len(el) < 3 {
		return "", "", ""
	}
	n := len(el)
	switch {
	case el[n-2] == "manifests":
		return "manifests", strings.Join(el[:n-2], "/"), el[n-1]
	case el[n-2] == "tags" && el[n-1] == "list":
		return "tags", strings.Join(el[:n-2], "/"), ""
	}
	return "", "", ""
}

type stored struct {
	digest      v1.Hash
	contentType string
	body        []byte
}

func (s *Store) manifestPath(h v1.Hash) string {
	return filepath.Join(s.dir, "manifests", h.Algorithm, h.Hex)
}

func (s *Store) repoPath(repo string, parts ...string) string {
	return filepath.Join(append([]string{s.dir, "repositories", filepath.FromSlash(repo)}, parts...)...)
}

// resolve finds the manifest a tag or digest names within repo.
func (s *Store) resolve(repo, ref string) (*stored, *regError) {
	if !repoRE.MatchString(repo) {
		return nil, errNameInvalid(repo)
	}
	if _, err := os.Stat(s.repoPath(repo, "_digests")); err != nil {
		return nil, errNameUnknown
	}
	var h v1.Hash
	if strings.Contains(ref, ":") {
		var err error
		if h, err = parseDigest(ref); err != nil {
			return nil, errDigestInvalid
		}
	} else {
		if !tagRE.MatchString(ref) {
			return nil, errTagInvalid(ref)
		}
		b, err := os.ReadFile(s.repoPath(repo, "_tags", ref))
		if err != nil {
			return nil, errManifestUnknown
		}
		if h, err = parseDigest(strings.TrimSpace(string(b))); err != nil {
			return nil, internal(fmt.Errorf("tag %s: %w", ref, err))
		}
	}
	if _, err := os.Stat(s.repoPath(repo, "_digests", h.Hex)); err != nil {
		return nil, errManifestUnknown
	}
	body, err := os.ReadFile(s.manifestPath(h))
	if err != nil {
		return nil, errManifestUnknown
	}
	ct, err := os.ReadFile(s.manifestPath(h) + ".type")
	if err != nil {
		return nil, internal(err)
	}
	return &stored{digest: h, contentType: string(ct), body: body}, nil
}

func parseDigest(s string) (v1.Hash, error) {
	h, err := v1.NewHash(s)
	if err != nil {
		return h, err
	}
	if h.Algorithm != "sha256" {
		return h, fmt.Errorf("unsupported digest algorithm %q", h.Algorithm)
	}
	return h, nil
}

func (s *Store) manifest(w http.ResponseWriter, r *http.Request, repo, ref string) *regError {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		m, rerr := s.resolve(repo, ref)
		if rerr != nil {
			return rerr
		}
		w.Header().Set("Docker-Content-Digest", m.digest.String())
		w.Header().Set("Content-Type", m.contentType)
		w.Header().Set("Content-Length", strconv.Itoa(len(m.body)))
		w.WriteHeader(http.StatusOK)
		if r.Method == http.MethodGet {
			_, _ = w.Write(m.body)
		}
		return nil
	case http.MethodPut:
		return s.putManifest(w, r, repo, ref)
	case http.MethodDelete:
		return s.deleteManifest(w, repo, ref)
	}
	return errUnsupported
}

func (s *Store) putManifest(w http.ResponseWriter, r *http.Request, repo, ref string) *regError {
	if !repoRE.MatchString(repo) {
		return errNameInvalid(repo)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxManifestSize+1))
	if err != nil {
		return internal(err)
	}
	if len(body) > maxManifestSize {
		return &regError{http.StatusRequestEntityTooLarge, "SIZE_INVALID", "manifest too large"}
	}
	h, _, _ := v1.SHA256(bytes.NewReader(body))
	tag := ""
	if strings.Contains(ref, ":") {
		want, err := parseDigest(ref)
		if err != nil {
			return errDigestInvalid
		}
		if want != h {
			return &regError{http.StatusBadRequest, "DIGEST_INVALID", "manifest digest does not match " + ref}
		}
	} else {
		if !tagRE.MatchString(ref) {
			return errTagInvalid(ref)
		}
		tag = ref
	}
	var head struct {
		MediaType types.MediaType `json:"mediaType"`
	}
	if err := json.Unmarshal(body, &head); err != nil {
		return &regError{http.StatusBadRequest, "MANIFEST_INVALID", err.Error()}
	}
	ct := types.MediaType(r.Header.Get("Content-Type"))
	if ct == "" || ct == "application/octet-stream" {
		ct = head.MediaType
	}
	if ct == "" {
		return &regError{http.StatusBadRequest, "MANIFEST_INVALID", "manifest has no media type"}
	}
	if rerr := s.checkReferences(repo, ct, body); rerr != nil {
		return rerr
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	mp := s.manifestPath(h)
	if _, err := os.Stat(mp); err != nil {
		// The type file first: a manifest file is only visible with its type.
		if err := writeFile(mp+".type", []byte(ct)); err != nil {
			return internal(err)
		}
		if err := writeFile(mp, body); err != nil {
			return internal(err)
		}
	}
	if err := writeFile(s.repoPath(repo, "_digests", h.Hex), nil); err != nil {
		return internal(err)
	}
	if tag != "" {
		if err := writeFile(s.repoPath(repo, "_tags", tag), []byte(h.String())); err != nil {
			return internal(err)
		}
	}
	w.Header().Set("Docker-Content-Digest", h.String())
	w.Header().Set("Location", "/v2/"+repo+"/manifests/"+h.String())
	w.WriteHeader(http.StatusCreated)
	return nil
}

func writeFile(path string, b []byte) error {
	return writeAtomic(path, func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	})
}

// checkReferences refuses a manifest whose blobs or child manifests are
// missing, as distribution does: a later pull would fail otherwise.
func (s *Store) checkReferences(repo string, ct types.MediaType, body []byte) *regError {
	switch {
	case ct.IsIndex():
		im, err := v1.ParseIndexManifest(bytes.NewReader(body))
		if err != nil {
			return &regError{http.StatusBadRequest, "MANIFEST_INVALID", err.Error()}
		}
		for _, d := range im.Manifests {
			if !d.MediaType.IsIndex() && !d.MediaType.IsImage() {
				continue
			}
			if _, err := os.Stat(s.repoPath(repo, "_digests", d.Digest.Hex)); err != nil {
				return &regError{http.StatusBadRequest, "MANIFEST_UNKNOWN", "child manifest " + d.Digest.String() + " not found"}
			}
		}
	case ct.IsImage():
		m, err := v1.ParseManifest(bytes.NewReader(body))
		if err != nil {
			return &regError{http.StatusBadRequest, "MANIFEST_INVALID", err.Error()}
		}
		for _, d := range append([]v1.Descriptor{m.Config}, m.Layers...) {
			if !d.MediaType.IsDistributable() {
				continue
			}
			if !s.blobs.exists(d.Digest) {
				return &regError{http.StatusBadRequest, "MANIFEST_BLOB_UNKNOWN", "blob " + d.Digest.String() + " not found"}
			}
		}
	}
	return nil
}

func (s *Store) deleteManifest(w http.ResponseWriter, repo, ref string) *regError {
	m, rerr := s.resolve(repo, ref)
	if rerr != nil {
		return rerr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if strings.Contains(ref, ":") {
		// Deleting by digest removes the manifest from the repository and
		// every tag that points at it; the content-addressed file stays.
		tags, _ := s.listTags(repo)
		for _, t := range tags {
			b, _ := os.ReadFile(s.repoPath(repo, "_tags", t))
			if strings.TrimSpace(string(b)) == m.digest.String() {
				os.Remove(s.repoPath(repo, "_tags", t))
			}
		}
		if err := os.Remove(s.repoPath(repo, "_digests", m.digest.Hex)); err != nil {
			return internal(err)
		}
	} else if err := os.Remove(s.repoPath(repo, "_tags", ref)); err != nil {
		return internal(err)
	}
	w.WriteHeader(http.StatusAccepted)
	return nil
}

func (s *Store) listTags(repo string) ([]string, error) {
	ents, err := os.ReadDir(s.repoPath(repo, "_tags"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	var tags []string
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), ".tmp-") {
			tags = append(tags, e.Name())
		}
	}
	sort.Strings(tags)
	return tags, nil
}

func (s *Store) tags(w http.ResponseWriter, r *http.Request, repo string) *regError {
	if r.Method != http.MethodGet {
		return errUnsupported
	}
	if !repoRE.MatchString(repo) {
		return errNameInvalid(repo)
	}
	if _, err := os.Stat(s.repoPath(repo, "_digests")); err != nil {
		return errNameUnknown
	}
	tags, err := s.listTags(repo)
	if err != nil {
		return internal(err)
	}
	if tags == nil {
		tags = []string{}
	}
	tags, rerr := paginate(r, tags)
	if rerr != nil {
		return rerr
	}
	return writeJSON(w, struct {
		Name string   `json:"name"`
		Tags []string `json:"tags"`
	}{repo, tags})
}

func (s *Store) catalog(w http.ResponseWriter, r *http.Request) *regError {
	if r.Method != http.MethodGet {
		return errUnsupported
	}
	root := filepath.Join(s.dir, "repositories")
	repos := []string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "_digests" {
			rel, _ := filepath.Rel(root, filepath.Dir(p))
			repos = append(repos, filepath.ToSlash(rel))
			return fs.SkipDir
		}
		if d.IsDir() && d.Name() == "_tags" {
			return fs.SkipDir
		}
		return nil
	})
	if err != nil {
		return internal(err)
	}
	sort.Strings(repos)
	repos, rerr := paginate(r, repos)
	if rerr != nil {
		return rerr
	}
	return writeJSON(w, struct {
		Repositories []string `json:"repositories"`
	}{repos})
}

// paginate applies the spec's `last` and `n` query parameters to a sorted list.
func paginate(r *http.Request, list []string) ([]string, *regError) {
	q := r.URL.Query()
	if last := q.Get("last"); last != "" {
		i := sort.SearchStrings(list, last)
		if i < len(list) && list[i] == last {
			i++
		}
		list = list[i:]
	}
	if ns := q.Get("n"); ns != "" {
		n, err := strconv.Atoi(ns)
		if err != nil || n < 0 {
			return nil, &regError{http.StatusBadRequest, "PAGINATION_NUMBER_INVALID", "invalid n"}
		}
		if n < len(list) {
			list = list[:n]
		}
	}
	return list, nil
}

func writeJSON(w http.ResponseWriter, v any) *regError {
	b, err := json.Marshal(v)
	if err != nil {
		return internal(err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
	return nil
}
