package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"

	"github.com/distribution/distribution/v3"
	"github.com/distribution/distribution/v3/registry/storage"
	"github.com/distribution/distribution/v3/registry/storage/driver/filesystem"
	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
)

// The layout of runner's earlier hand-written store, directly in the
// registry directory:
//
//	blobs/sha256/HEX                  layer and config blobs
//	manifests/sha256/HEX(.type)       manifests and their content type
//	repositories/NAME/_digests/HEX    manifest HEX belongs to NAME
//	repositories/NAME/_tags/TAG       the digest the tag points at
var oldStoreDirs = []string{"blobs", "manifests", "repositories"}

// unimportedDir receives what an import could not take, so that nothing is
// lost and the import is not tried again on every start.
const unimportedDir = "unimported"

// MigrateReport says what Migrate imported.
type MigrateReport struct {
	Repositories, Manifests, Tags, Blobs int
	// Skipped names the manifests and tags that could not be imported,
	// with the reason; they stay in DIR/unimported.
	Skipped []string
}

// HasOldStore reports whether dir holds content written by runner's
// earlier on-disk store that is not imported yet.
func HasOldStore(dir string) bool {
	for _, d := range oldStoreDirs {
		if fi, err := os.Stat(filepath.Join(dir, d)); err == nil && fi.IsDir() {
			return true
		}
	}
	return false
}

// migrateIfNeeded imports dir's old store, if it has one, noting the
// outcome on logw.
func migrateIfNeeded(ctx context.Context, dir string, logw io.Writer) (*MigrateReport, error) {
	if !HasOldStore(dir) {
		return nil, nil
	}
	rep, err := Migrate(ctx, dir)
	if err != nil {
		return nil, err
	}
	if rep != nil {
		fmt.Fprintf(logw, "registry: imported %d repositories, %d manifests, %d tags, %d blobs from the earlier store in %s\n",
			rep.Repositories, rep.Manifests, rep.Tags, rep.Blobs, dir)
		for _, s := range rep.Skipped {
			fmt.Fprintf(logw, "registry: not imported: %s\n", s)
		}
	}
	return rep, nil
}

// Migrate imports the images and tags that runner's earlier on-disk store
// kept in dir into distribution's storage in the same directory, then
// removes the old files (what could not be imported moves to
// DIR/unimported). It is safe to run again after an interruption, and
// concurrent callers wait for each other; with nothing to import it
// returns a nil report.
func Migrate(ctx context.Context, dir string) (*MigrateReport, error) {
	if !HasOldStore(dir) {
		return nil, nil
	}
	unlock, err := lockDir(dir, ".migrate.lock")
	if err != nil {
		return nil, err
	}
	defer unlock()
	if !HasOldStore(dir) {
		return nil, nil // another process did it
	}
	silenceDistribution()
	root, err := storageRoot(dir)
	if err != nil {
		return nil, err
	}
	d := filesystem.New(filesystem.DriverParameters{RootDirectory: root, MaxThreads: 25})
	ns, err := storage.NewRegistry(ctx, d, storage.EnableDelete)
	if err != nil {
		return nil, fmt.Errorf("registry import: %w", err)
	}
	repos, err := oldRepositories(dir)
	if err != nil {
		return nil, fmt.Errorf("registry import: %w", err)
	}
	rep := &MigrateReport{}
	for _, name := range repos {
		if err := importRepository(ctx, ns, dir, name, rep); err != nil {
			return nil, fmt.Errorf("registry import of %s: %w", name, err)
		}
		rep.Repositories++
	}
	if len(rep.Skipped) == 0 {
		for _, sub := range oldStoreDirs {
			if err := os.RemoveAll(filepath.Join(dir, sub)); err != nil {
				return nil, fmt.Errorf("registry import: %w", err)
			}
		}
		return rep, nil
	}
	if err := os.MkdirAll(filepath.Join(dir, unimportedDir), 0o755); err != nil {
		return nil, fmt.Errorf("registry import: %w", err)
	}
	for _, sub := range oldStoreDirs {
		from := filepath.Join(dir, sub)
		if _, err := os.Stat(from); err != nil {
			continue
		}
		to := filepath.Join(dir, unimportedDir, sub)
		os.RemoveAll(to)
		if err := os.Rename(from, to); err != nil {
			return nil, fmt.Errorf("registry import: %w", err)
		}
	}
	return rep, nil
}

// oldRepositories lists the repository names of the old store: the
// directories under repositories/ that hold a _digests or _tags directory.
func oldRepositories(dir string) ([]string, error) {
	root := filepath.Join(dir, "repositories")
	var repos []string
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) && p == root {
			return fs.SkipAll
		}
		if err != nil {
			return err
		}
		if e.IsDir() && (e.Name() == "_digests" || e.Name() == "_tags") {
			rel, _ := filepath.Rel(root, filepath.Dir(p))
			if name := filepath.ToSlash(rel); len(repos) == 0 || repos[len(repos)-1] != name {
				repos = append(repos, name)
			}
			return fs.SkipDir
		}
		return nil
	})
	sort.Strings(repos)
	return repos, err
}

// oldManifestHexes are the sha256 hex digests of the manifests repository
// name links in _digests, or names in its _tags when the store has them;
// sorted, without repeats.
func oldManifestHexes(dir, name string) ([]string, error) {
	base := filepath.Join(dir, "repositories", filepath.FromSlash(name))
	seen := map[string]bool{}
	ents, err := os.ReadDir(filepath.Join(base, "_digests"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), ".tmp-") {
			seen[e.Name()] = true
		}
	}
	tags, err := os.ReadDir(filepath.Join(base, "_tags"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	for _, e := range tags {
		if strings.HasPrefix(e.Name(), ".tmp-") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(base, "_tags", e.Name()))
		if err != nil {
			return nil, err
		}
		dg, err := digest.Parse(strings.TrimSpace(string(b)))
		if err != nil || dg.Algorithm() != digest.SHA256 {
			continue // importTags reports it
		}
		if _, err := os.Stat(filepath.Join(dir, "manifests", "sha256", dg.Encoded())); err == nil {
			seen[dg.Encoded()] = true
		}
	}
	return slices.Sorted(maps.Keys(seen)), nil
}

type oldManifest struct {
	dgst digest.Digest
	m    distribution.Manifest
}

func importRepository(ctx context.Context, ns distribution.Namespace, dir, name string, rep *MigrateReport) error {
	named, err := reference.WithName(name)
	if err != nil {
		rep.Skipped = append(rep.Skipped, fmt.Sprintf("repository %s: %v", name, err))
		return nil
	}
	repo, err := ns.Repository(ctx, named)
	if err != nil {
		return err
	}
	// The manifests of the repository: those linked in _digests, and those
	// its tags name (a tag may outlive its link).
	hexes, err := oldManifestHexes(dir, name)
	if err != nil {
		return err
	}
	var pending []oldManifest
	for _, hex := range hexes {
		dg := digest.NewDigestFromEncoded(digest.SHA256, hex)
		p := filepath.Join(dir, "manifests", "sha256", hex)
		body, err := os.ReadFile(p)
		if err != nil {
			rep.Skipped = append(rep.Skipped, fmt.Sprintf("%s@%s: %v", name, dg, err))
			continue
		}
		ct, _ := os.ReadFile(p + ".type")
		m, _, err := distribution.UnmarshalManifest(strings.TrimSpace(string(ct)), body)
		if err != nil {
			rep.Skipped = append(rep.Skipped, fmt.Sprintf("%s@%s: %v", name, dg, err))
			continue
		}
		pending = append(pending, oldManifest{dgst: dg, m: m})
	}
	ms, err := repo.Manifests(ctx)
	if err != nil {
		return err
	}
	// Children before the indexes that name them: repeat while a pass
	// imports something.
	for len(pending) > 0 {
		var later []oldManifest
		var lastErr = map[digest.Digest]error{}
		for _, om := range pending {
			if err := importBlobs(ctx, repo, dir, om.m, rep); err != nil {
				return err
			}
			got, err := ms.Put(ctx, om.m)
			if err != nil {
				later = append(later, om)
				lastErr[om.dgst] = err
				continue
			}
			if got != om.dgst {
				return fmt.Errorf("manifest %s stored as %s", om.dgst, got)
			}
			rep.Manifests++
		}
		if len(later) == len(pending) {
			for _, om := range later {
				rep.Skipped = append(rep.Skipped, fmt.Sprintf("%s@%s: %v", name, om.dgst, lastErr[om.dgst]))
			}
			break
		}
		pending = later
	}
	return importTags(ctx, repo, dir, name, rep)
}

// importBlobs copies the blobs m references that the old store holds
// into repo (child manifests of an index are imported as manifests).
func importBlobs(ctx context.Context, repo distribution.Repository, dir string, m distribution.Manifest, rep *MigrateReport) error {
	bs := repo.Blobs(ctx)
	for _, ref := range m.References() {
		if ref.Digest.Algorithm() != digest.SHA256 || ref.Digest.Validate() != nil {
			continue
		}
		p := filepath.Join(dir, "blobs", "sha256", ref.Digest.Encoded())
		f, err := os.Open(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		copied, err := copyBlob(ctx, bs, f, ref.Digest)
		f.Close()
		if err != nil {
			return fmt.Errorf("blob %s: %w", ref.Digest, err)
		}
		if copied {
			rep.Blobs++
		}
	}
	return nil
}

// copyBlob writes f into bs unless bs has it already, and says whether it
// did.
func copyBlob(ctx context.Context, bs distribution.BlobStore, f *os.File, dg digest.Digest) (bool, error) {
	if _, err := bs.Stat(ctx, dg); err == nil {
		return false, nil
	}
	w, err := bs.Create(ctx)
	if err != nil {
		return false, err
	}
	n, err := io.Copy(w, f)
	if err != nil {
		w.Cancel(ctx)
		return false, err
	}
	// Commit checks the digest of what was written.
	if _, err := w.Commit(ctx, distribution.Descriptor{Digest: dg, Size: n}); err != nil {
		w.Cancel(ctx)
		return false, err
	}
	return true, nil
}

func importTags(ctx context.Context, repo distribution.Repository, dir, name string, rep *MigrateReport) error {
	tdir := filepath.Join(dir, "repositories", filepath.FromSlash(name), "_tags")
	ents, err := os.ReadDir(tdir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	ms, err := repo.Manifests(ctx)
	if err != nil {
		return err
	}
	for _, e := range ents {
		tag := e.Name()
		if strings.HasPrefix(tag, ".tmp-") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(tdir, tag))
		if err != nil {
			return err
		}
		dg, err := digest.Parse(strings.TrimSpace(string(b)))
		if err != nil {
			rep.Skipped = append(rep.Skipped, fmt.Sprintf("%s:%s: %v", name, tag, err))
			continue
		}
		if ok, err := ms.Exists(ctx, dg); err != nil || !ok {
			rep.Skipped = append(rep.Skipped, fmt.Sprintf("%s:%s: manifest %s not imported", name, tag, dg))
			continue
		}
		if err := repo.Tags(ctx).Tag(ctx, tag, distribution.Descriptor{Digest: dg}); err != nil {
			rep.Skipped = append(rep.Skipped, fmt.Sprintf("%s:%s: %v", name, tag, err))
			continue
		}
		rep.Tags++
	}
	return nil
}

// lockDir takes an exclusive lock on DIR/name, waiting for another
// process that holds it.
func lockDir(dir, name string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("registry: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("registry: lock %s: %w", f.Name(), err)
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
