package container

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"
)

// ImageCache keeps unpacked images, one directory per image digest:
// Dir/sha256-HEX/rootfs and Dir/sha256-HEX/config.json. A directory is
// complete once it exists under that name (it is unpacked elsewhere and
// renamed), and is never changed afterwards: containers use it as the
// read-only lower layer of an overlay, so jobs of any number of runner
// processes share one copy. Get marks a copy used (its directory's
// mtime); Prune removes the copies no overlay uses that have not been
// used for a while (`runner images prune`).
type ImageCache struct {
	Dir string
}

// CachedImage is an image unpacked in an ImageCache.
type CachedImage struct {
	Digest string // the manifest's digest (sha256:…)
	Rootfs string // read-only: never write to it
	Config v1.Config
	// Unpacked is true when this call unpacked the image (a cache miss).
	Unpacked bool
}

// Get pulls ref (with pull, or straight from its registry when nil) and
// returns its unpacked copy, unpacking it first when the cache has no copy
// of that digest. Concurrent calls for one digest unpack it once: a file
// lock per digest serialises them across processes.
func (c *ImageCache) Get(ctx context.Context, ref string, pull func(context.Context, string) (v1.Image, error)) (CachedImage, error) {
	img, err := fetchImage(ctx, ref, pull)
	if err != nil {
		return CachedImage{}, err
	}
	d, err := img.Digest()
	if err != nil {
		return CachedImage{}, fmt.Errorf("image %s: digest: %w", ref, err)
	}
	out := CachedImage{Digest: d.String()}
	dir := filepath.Join(c.Dir, d.Algorithm+"-"+d.Hex)
	out.Rootfs = filepath.Join(dir, "rootfs")
	if out.Config, err = readCachedConfig(dir); err == nil {
		now := time.Now()
		_ = os.Chtimes(dir, now, now) // last used, for Prune
		return out, nil
	}
	if err := os.MkdirAll(c.Dir, 0o700); err != nil {
		return out, fmt.Errorf("image cache: %w", err)
	}
	unlock, err := lockFile(ctx, dir+".lock")
	if err != nil {
		return out, fmt.Errorf("image cache: %w", err)
	}
	defer unlock()
	if out.Config, err = readCachedConfig(dir); err == nil {
		return out, nil // another job unpacked it while this one waited
	}
	// One name per digest, used only under the lock: what a runner killed
	// while unpacking left there is removed by the next one.
	tmp := dir + ".unpacking"
	if err := os.RemoveAll(tmp); err != nil {
		return out, fmt.Errorf("image cache: %w", err)
	}
	if err := os.Mkdir(tmp, 0o755); err != nil {
		return out, fmt.Errorf("image cache: %w", err)
	}
	defer os.RemoveAll(tmp) // after a failure; gone after the rename
	cf, err := img.ConfigFile()
	if err != nil {
		return out, fmt.Errorf("image config: %w", err)
	}
	if err := os.Mkdir(filepath.Join(tmp, "rootfs"), 0o755); err != nil {
		return out, err
	}
	if err := unpackImage(img, filepath.Join(tmp, "rootfs")); err != nil {
		return out, fmt.Errorf("image %s: %w", ref, err)
	}
	js, err := json.Marshal(cf.Config)
	if err != nil {
		return out, err
	}
	if err := os.WriteFile(filepath.Join(tmp, "config.json"), js, 0o644); err != nil {
		return out, err
	}
	if err := os.Rename(tmp, dir); err != nil {
		return out, fmt.Errorf("image cache: %w", err)
	}
	out.Config, out.Unpacked = cf.Config, true
	return out, nil
}

func readCachedConfig(dir string) (v1.Config, error) {
	var cfg v1.Config
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return cfg, err
	}
	return cfg, json.Unmarshal(b, &cfg)
}

// lockFile takes an exclusive flock on path (made if missing), waiting
// until it is free or ctx ends.
func lockFile(ctx context.Context, path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) {
			f.Close()
			return nil, err
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// LookPath finds name on pathVar (a PATH value) inside rootfs, following
// symlinks as the container would; "" when it is not there.
func LookPath(rootfs, name, pathVar string) string {
	if strings.Contains(name, "/") {
		if isExecIn(rootfs, name) {
			return name
		}
		return ""
	}
	for _, dir := range filepath.SplitList(pathVar) {
		if dir == "" || !filepath.IsAbs(dir) {
			continue
		}
		if p := filepath.Join(dir, name); isExecIn(rootfs, p) {
			return p
		}
	}
	return ""
}

func isExecIn(rootfs, p string) bool {
	hp, err := securejoin.SecureJoin(rootfs, p)
	if err != nil {
		return false
	}
	st, err := os.Stat(hp)
	return err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0
}

// CacheEntry is one unpacked image in an ImageCache.
type CacheEntry struct {
	Digest   string // sha256:…
	Dir      string
	Size     int64 // bytes of regular files
	LastUsed time.Time
	InUse    bool // the lower layer of a mounted overlay (a running container)
}

// List lists the unpacked images, most recently used first.
func (c *ImageCache) List() ([]CacheEntry, error) {
	ents, err := os.ReadDir(c.Dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("image cache: %w", err)
	}
	used, err := overlayLowers()
	if err != nil {
		return nil, err
	}
	var out []CacheEntry
	for _, e := range ents {
		algo, hex, ok := strings.Cut(e.Name(), "-")
		if !ok || !e.IsDir() || strings.Contains(hex, ".") {
			continue // locks, unpacking and pruning directories
		}
		dir := filepath.Join(c.Dir, e.Name())
		st, err := os.Stat(dir)
		if err != nil {
			continue
		}
		ce := CacheEntry{Digest: algo + ":" + hex, Dir: dir, LastUsed: st.ModTime(), InUse: used[filepath.Join(dir, "rootfs")]}
		_ = filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() {
				if fi, err := d.Info(); err == nil {
					ce.Size += fi.Size()
				}
			}
			return nil
		})
		out = append(out, ce)
	}
	slices.SortFunc(out, func(a, b CacheEntry) int { return b.LastUsed.Compare(a.LastUsed) })
	return out, nil
}

// Prune removes the unpacked images that no mounted overlay uses and that
// Get has not returned for olderThan (so that a job between its Get and
// its mount keeps its copy). Each copy is removed under its unpack lock,
// renamed first so that no reader sees half of it.
func (c *ImageCache) Prune(ctx context.Context, olderThan time.Duration) ([]CacheEntry, error) {
	list, err := c.List()
	if err != nil {
		return nil, err
	}
	var removed []CacheEntry
	for _, e := range list {
		if e.InUse || time.Since(e.LastUsed) < olderThan {
			continue
		}
		unlock, err := lockFile(ctx, e.Dir+".lock")
		if err != nil {
			return removed, fmt.Errorf("image cache: %w", err)
		}
		st, serr := os.Stat(e.Dir)
		used, uerr := overlayLowers()
		if serr != nil || uerr != nil || used[filepath.Join(e.Dir, "rootfs")] || time.Since(st.ModTime()) < olderThan {
			unlock()
			continue // gone, or used again meanwhile
		}
		gone := e.Dir + ".pruning"
		err = os.Rename(e.Dir, gone)
		if err == nil {
			err = os.RemoveAll(gone)
		}
		unlock()
		if err != nil {
			return removed, fmt.Errorf("image cache: %w", err)
		}
		removed = append(removed, e)
	}
	return removed, nil
}

// overlayLowers are the lower directories of the overlays mounted on this
// machine (this mount namespace's /proc/self/mountinfo).
func overlayLowers() (map[string]bool, error) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("mountinfo: %w", err)
	}
	out := map[string]bool{}
	for _, line := range strings.Split(string(b), "\n") {
		_, after, ok := strings.Cut(line, " - overlay ")
		if !ok {
			continue
		}
		for _, opt := range strings.Split(after, ",") {
			if v, ok := strings.CutPrefix(opt, "lowerdir="); ok {
				for _, l := range strings.Split(v, ":") {
					out[strings.ReplaceAll(l, "\\040", " ")] = true
				}
			}
		}
	}
	return out, nil
}
