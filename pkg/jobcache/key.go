// Package jobcache is runner's content-addressed job cache: a key is a
// sha256 over the named parts of everything that can change a job's result
// (key.go), and the store keeps what a successful job left for its
// dependents under that key (store.go): outputs, artifacts, its part of the
// step summary; remote.go shares entries between machines through a
// registry as OCI artifacts. The run package decides what goes into a key
// and when a hit replaces a run (pkg/run/cache*.go).
package jobcache

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/birdflock/runner/pkg/gitrepo"
)

// Part is one named input of a key. Value is what the key hashes: a digest
// or a short text that may be shown (never a secret: secrets enter as
// SecretDigest).
type Part struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Key is a job's cache key and the parts it was computed from.
type Key struct {
	Sum   string `json:"key"` // hex sha256
	Parts []Part `json:"parts"`
}

// NewKey hashes parts, sorted by name, in a canonical encoding: each name
// and value length-prefixed, so no two different part lists collide by
// concatenation.
func NewKey(parts []Part) Key {
	ps := append([]Part(nil), parts...)
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].Name < ps[j].Name })
	h := sha256.New()
	io.WriteString(h, "runner-jobcache-v1\x00")
	for _, p := range ps {
		writeField(h, p.Name)
		writeField(h, p.Value)
	}
	return Key{Sum: hex.EncodeToString(h.Sum(nil)), Parts: ps}
}

func writeField(w io.Writer, s string) {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(s)))
	w.Write(n[:])
	io.WriteString(w, s)
}

// Short is the key's first 12 hex digits, for the console.
func (k Key) Short() string {
	if len(k.Sum) < 12 {
		return k.Sum
	}
	return k.Sum[:12]
}

// Digest is "sha256:" and the hex sha256 of s.
func Digest(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// SecretDigest is an HMAC-SHA256 of a secret's value under the store's
// salt: equal values give equal parts, and the part tells nothing about
// the value (no offline guessing of a short secret from a printed key
// without the salt, which stays in the state dir, mode 0600).
func SecretDigest(salt []byte, value string) string {
	m := hmac.New(sha256.New, salt)
	io.WriteString(m, value)
	return "hmac-sha256:" + hex.EncodeToString(m.Sum(nil))
}

// TreeDigest is the content of the tree of commit rev in the repository at
// repo, restricted to the files the patterns match (all when none): the
// commit's tree hash without patterns, else a sha256 over the mode, path
// and blob hash of each matching file, in path order.
func TreeDigest(repo, rev string, patterns []string) (string, error) {
	g, err := gitrepo.CompileGlobs(patterns)
	if err != nil {
		return "", err
	}
	r, err := git.PlainOpenWithOptions(repo, &git.PlainOpenOptions{DetectDotGit: true, EnableDotGitCommonDir: true})
	if err != nil {
		return "", fmt.Errorf("%s: %w", repo, err)
	}
	h, err := r.ResolveRevision(plumbing.Revision(rev))
	if err != nil {
		return "", fmt.Errorf("%s: commit %s: %w", repo, rev, err)
	}
	c, err := r.CommitObject(*h)
	if err != nil {
		return "", fmt.Errorf("%s: commit %s: %w", repo, rev, err)
	}
	if g.Empty() {
		return "git-tree:" + c.TreeHash.String(), nil
	}
	t, err := c.Tree()
	if err != nil {
		return "", err
	}
	sum := sha256.New()
	n := 0
	err = t.Files().ForEach(func(f *object.File) error {
		if g.Match(f.Name) {
			n++
			fmt.Fprintf(sum, "%o %s\x00%s\n", uint32(f.Mode), f.Name, f.Hash)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("sha256:%s (%d files)", hex.EncodeToString(sum.Sum(nil)), n), nil
}

var (
	exeOnce   sync.Once
	exeDigest string
	exeErr    error
)

// ExecutableDigest is a sha256 of the running runner binary: runner's
// version and its built-in actions' versions at once (any change to either
// is a different binary). Computed once per process.
func ExecutableDigest() (string, error) {
	exeOnce.Do(func() {
		p, err := os.Executable()
		if err != nil {
			exeErr = err
			return
		}
		f, err := os.Open(p)
		if err != nil {
			exeErr = err
			return
		}
		defer f.Close()
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			exeErr = err
			return
		}
		exeDigest = "sha256:" + hex.EncodeToString(h.Sum(nil))
	})
	return exeDigest, exeErr
}

// Explain renders the key's parts, one a line, then the key.
func (k Key) Explain() string {
	var b strings.Builder
	for _, p := range k.Parts {
		fmt.Fprintf(&b, "  %s: %s\n", p.Name, p.Value)
	}
	fmt.Fprintf(&b, "key: %s\n", k.Sum)
	return b.String()
}
