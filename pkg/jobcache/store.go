package jobcache

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// DefaultMaxBytes is the store's default size cap: 2 GiB.
const DefaultMaxBytes = 2 << 30

// ParseSize reads a size cap: 500M, 2G, 1048576 (bytes; K, M, G are
// powers of 1024, a trailing B is allowed).
func ParseSize(s string) (int64, error) {
	in := s
	s = strings.TrimSpace(strings.TrimSuffix(strings.ToUpper(strings.TrimSpace(s)), "B"))
	mult := int64(1)
	if n := len(s); n > 0 {
		switch s[n-1] {
		case 'K':
			mult, s = 1<<10, s[:n-1]
		case 'M':
			mult, s = 1<<20, s[:n-1]
		case 'G':
			mult, s = 1<<30, s[:n-1]
		}
	}
	v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("size %q: want bytes, or a number with K, M or G", in)
	}
	return v * mult, nil
}

// ErrMiss is Get's error when the store has no entry for a key.
var ErrMiss = errors.New("no cache entry")

// Entry is what a successful job left under its key.
type Entry struct {
	Key        string            `json:"key"`
	Job        string            `json:"job"` // the leg's key in its run, e.g. "build (1.22)"
	Workflow   string            `json:"workflow"`
	Run        int               `json:"run"` // the run that stored it
	Conclusion string            `json:"conclusion"`
	Outputs    map[string]string `json:"outputs"`
	Summary    string            `json:"summary,omitempty"` // its part of the step summary, masked
	Artifacts  []Artifact        `json:"artifacts,omitempty"`
	Parts      []Part            `json:"parts"`
	Created    time.Time         `json:"created"`
	Size       int64             `json:"size"` // bytes of its files
	// LastUsed is when it was stored or last restored (LRU order); read
	// from the entry's "used" file, not stored in entry.json.
	LastUsed time.Time `json:"-"`
}

// Artifact is one artifact of an entry: its files with their sha256, so a
// corrupted or truncated copy is noticed on restore.
type Artifact struct {
	Name  string `json:"name"`
	Files []File `json:"files"`
}

// File is one file of an artifact.
type File struct {
	Path   string `json:"path"` // slash-separated, relative to the artifact
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	Mode   uint32 `json:"mode"`
}

// Store is the cache under a directory (STATE/cache): entries/<key>/ holds
// entry.json, used and artifacts/<name>/…; tmp/ holds entries being
// written, each renamed into place whole, so a reader never sees half an
// entry and two runs storing one key both succeed (the second finds the
// first's and drops its own).
type Store struct {
	Dir      string
	MaxBytes int64 // size cap; <= 0: DefaultMaxBytes
	// Remote, when set, shares the entries through a registry: a local
	// miss is looked up there, a stored entry is pushed (remote.go).
	Remote *Remote
}

var keyPattern = regexp.MustCompile(`^[0-9a-f]{64}$`)

// Open makes the store's directories.
func Open(dir string, maxBytes int64) (*Store, error) {
	for _, d := range []string{"entries", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			return nil, fmt.Errorf("cache: %w", err)
		}
	}
	return &Store{Dir: dir, MaxBytes: maxBytes}, nil
}

// Salt is the store's secret for SecretDigest, made on first use (0600).
func (s *Store) Salt() ([]byte, error) {
	p := filepath.Join(s.Dir, "salt")
	if b, err := os.ReadFile(p); err == nil && len(b) == 32 {
		return b, nil
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	if err := writeAtomic(p, b, 0o600); err != nil {
		return nil, fmt.Errorf("cache salt: %w", err)
	}
	// Two processes may race: the file that won is the salt.
	if got, err := os.ReadFile(p); err == nil && len(got) == 32 {
		return got, nil
	}
	return b, nil
}

func (s *Store) entryDir(key string) string { return filepath.Join(s.Dir, "entries", key) }

// Get reads the entry of key: ErrMiss when there is none, another error
// when it is unreadable or does not belong to the key (the caller treats
// both as a miss, the second with a warning).
func (s *Store) Get(key string) (*Entry, error) {
	if !keyPattern.MatchString(key) {
		return nil, fmt.Errorf("cache: invalid key %q", key)
	}
	data, err := os.ReadFile(filepath.Join(s.entryDir(key), "entry.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrMiss
	}
	if err != nil {
		return nil, fmt.Errorf("cache entry %s: %w", key[:12], err)
	}
	var e Entry
	if err := json.Unmarshal(data, &e); err != nil {
		return nil, fmt.Errorf("cache entry %s: corrupted entry.json: %w", key[:12], err)
	}
	if e.Key != key {
		return nil, fmt.Errorf("cache entry %s: holds key %q", key[:12], e.Key)
	}
	e.LastUsed = s.lastUsed(key, e.Created)
	return &e, nil
}

// Touch marks key as used now (LRU).
func (s *Store) Touch(key string) {
	_ = writeAtomic(filepath.Join(s.entryDir(key), "used"), []byte(time.Now().UTC().Format(time.RFC3339Nano)), 0o600)
}

func (s *Store) lastUsed(key string, created time.Time) time.Time {
	b, err := os.ReadFile(filepath.Join(s.entryDir(key), "used"))
	if err == nil {
		if t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(string(b))); err == nil {
			return t
		}
	}
	return created
}

// Restore copies artifact a of entry key into dst (made; must not exist),
// checking every file's size and sha256. On any mismatch dst is removed
// and the error says which file.
func (s *Store) Restore(key string, a Artifact, dst string) (err error) {
	// The name comes from entry.json: one plain path element only.
	if a.Name == "" || a.Name == "." || a.Name == ".." || strings.ContainsAny(a.Name, "/\\\x00") || filepath.Base(dst) != a.Name {
		return fmt.Errorf("cache entry %s: invalid artifact name %q", key[:12], a.Name)
	}
	src := filepath.Join(s.entryDir(key), "artifacts", a.Name)
	tmp, err := os.MkdirTemp(filepath.Dir(dst), ".restore-"+a.Name+"-")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	for _, f := range a.Files {
		if !fs.ValidPath(f.Path) {
			return fmt.Errorf("cache entry %s: artifact %q: invalid path %q", key[:12], a.Name, f.Path)
		}
		n, sum, err := copyFile(filepath.Join(src, filepath.FromSlash(f.Path)), filepath.Join(tmp, filepath.FromSlash(f.Path)), fs.FileMode(f.Mode))
		if err != nil {
			return fmt.Errorf("cache entry %s: artifact %q: %w", key[:12], a.Name, err)
		}
		if n != f.Size || sum != f.SHA256 {
			return fmt.Errorf("cache entry %s: artifact %q: %s does not match its digest (%d bytes, want %d)", key[:12], a.Name, f.Path, n, f.Size)
		}
	}
	return os.Rename(tmp, dst)
}

// Put stores e under e.Key with the artifacts given as name → directory.
// An entry already there is kept (same key, same inputs). Then the store
// is pruned to its cap, least recently used first.
func (s *Store) Put(e Entry, artifacts map[string]string) (err error) {
	if !keyPattern.MatchString(e.Key) {
		return fmt.Errorf("cache: invalid key %q", e.Key)
	}
	if _, err := os.Stat(filepath.Join(s.entryDir(e.Key), "entry.json")); err == nil {
		s.Touch(e.Key)
		return nil
	}
	tmp, err := os.MkdirTemp(filepath.Join(s.Dir, "tmp"), e.Key[:12]+"-")
	if err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	defer os.RemoveAll(tmp) // gone after the rename; else the half-built entry
	names := make([]string, 0, len(artifacts))
	for n := range artifacts {
		names = append(names, n)
	}
	sort.Strings(names)
	e.Artifacts, e.Size = nil, 0
	for _, name := range names {
		a := Artifact{Name: name}
		root := artifacts[name]
		dstRoot := filepath.Join(tmp, "artifacts", name)
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			if !d.Type().IsRegular() {
				return fmt.Errorf("%s: not a regular file", p)
			}
			rel, err := filepath.Rel(root, p)
			if err != nil {
				return err
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			n, sum, err := copyFile(p, filepath.Join(dstRoot, rel), info.Mode().Perm())
			if err != nil {
				return err
			}
			a.Files = append(a.Files, File{Path: filepath.ToSlash(rel), Size: n, SHA256: sum, Mode: uint32(info.Mode().Perm())})
			e.Size += n
			return nil
		})
		if err != nil {
			return fmt.Errorf("cache: artifact %q: %w", name, err)
		}
		e.Artifacts = append(e.Artifacts, a)
	}
	// What entry.json holds counts too: an entry without artifacts is
	// not free.
	e.Size += int64(len(e.Summary))
	for k, v := range e.Outputs {
		e.Size += int64(len(k) + len(v))
	}
	if e.Created.IsZero() {
		e.Created = time.Now().UTC()
	}
	data, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(tmp, "entry.json"), data, 0o600); err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	return s.commit(tmp, e.Key)
}

// commit renames an entry built whole in tmp into place as key's, marked
// used now, then prunes the store to its cap. An entry already there is
// kept (another run stored the same key first).
func (s *Store) commit(tmp, key string) error {
	if err := os.WriteFile(filepath.Join(tmp, "used"), []byte(time.Now().UTC().Format(time.RFC3339Nano)), 0o600); err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	if err := os.Rename(tmp, s.entryDir(key)); err != nil {
		if _, serr := os.Stat(filepath.Join(s.entryDir(key), "entry.json")); serr == nil {
			return nil // another run stored the same key first
		}
		return fmt.Errorf("cache: %w", err)
	}
	_, err := s.Prune(s.max())
	return err
}

func (s *Store) max() int64 {
	if s.MaxBytes <= 0 {
		return DefaultMaxBytes
	}
	return s.MaxBytes
}

// List is the store's entries, most recently used first. Unreadable
// entries are listed with only their key.
func (s *Store) List() ([]*Entry, error) {
	des, err := os.ReadDir(filepath.Join(s.Dir, "entries"))
	if err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	var out []*Entry
	for _, d := range des {
		if !keyPattern.MatchString(d.Name()) {
			continue
		}
		e, err := s.Get(d.Name())
		if err != nil {
			e = &Entry{Key: d.Name(), Conclusion: "unreadable"}
		}
		out = append(out, e)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].LastUsed.After(out[j].LastUsed) })
	return out, nil
}

// Remove deletes the entries whose key starts with prefix (at least 4 hex
// digits) and returns their keys.
func (s *Store) Remove(prefix string) ([]string, error) {
	if len(prefix) < 4 || strings.Trim(prefix, "0123456789abcdef") != "" {
		return nil, fmt.Errorf("cache: %q: give at least 4 hex digits of a key", prefix)
	}
	des, err := os.ReadDir(filepath.Join(s.Dir, "entries"))
	if err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	var removed []string
	for _, d := range des {
		if keyPattern.MatchString(d.Name()) && strings.HasPrefix(d.Name(), prefix) {
			if err := s.remove(d.Name()); err != nil {
				return removed, err
			}
			removed = append(removed, d.Name())
		}
	}
	return removed, nil
}

// remove renames the entry away first, so a reader never sees it half
// deleted.
func (s *Store) remove(key string) error {
	gone := filepath.Join(s.Dir, "tmp", "rm-"+key+"-"+randHex())
	if err := os.Rename(s.entryDir(key), gone); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("cache: %w", err)
	}
	return os.RemoveAll(gone)
}

// Prune removes least recently used entries until the store holds at most
// maxBytes (0: remove all), and unreadable entries. It returns the
// removed entries.
func (s *Store) Prune(maxBytes int64) ([]*Entry, error) {
	list, err := s.List()
	if err != nil {
		return nil, err
	}
	var total int64
	var removed []*Entry
	for _, e := range list { // most recently used first: keep while it fits
		if e.Conclusion != "unreadable" && total+e.Size <= maxBytes && maxBytes > 0 {
			total += e.Size
			continue
		}
		if err := s.remove(e.Key); err != nil {
			return removed, err
		}
		removed = append(removed, e)
	}
	return removed, nil
}

func randHex() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// copyFile copies src to dst (parents made) and returns its size and hex
// sha256.
func copyFile(src, dst string, mode fs.FileMode) (int64, string, error) {
	in, err := os.Open(src)
	if err != nil {
		return 0, "", err
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return 0, "", err
	}
	if mode == 0 {
		mode = 0o644
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, mode.Perm())
	if err != nil {
		return 0, "", err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(out, h), in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return n, hex.EncodeToString(h.Sum(nil)), err
}

// writeAtomic writes a file through a temporary beside it and a rename.
func writeAtomic(path string, data []byte, mode fs.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
