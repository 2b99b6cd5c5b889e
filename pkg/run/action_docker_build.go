package run

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"

	"github.com/birdflock/runner/pkg/actions"
	"github.com/birdflock/runner/pkg/buildkit"
	"github.com/birdflock/runner/pkg/container"
	"github.com/birdflock/runner/pkg/registry"
)

// A Docker action whose runs.image is a Dockerfile (a path in the action)
// is built with BuildKit from the action's directory, once: the image is
// kept as an OCI archive in STATE/docker-actions/<key>.tar, key being the
// sha256 of the action's commit (remote) or of its files (./path) and the
// Dockerfile's path. Later uses unpack it into the image cache (by
// digest, once) and run it like a pulled image.

// dockerActionImage is the image of a Docker action whose runs.image is a
// Dockerfile; nil for docker://IMAGE (pulled by runDocker).
func (jr *legRun) dockerActionImage(ctx context.Context, act *actions.Action, out *lineWriter) (*container.CachedImage, error) {
	archive, unlock, err := jr.dockerActionArchive(ctx, act, out)
	if archive == "" || err != nil {
		return nil, err
	}
	defer unlock()
	a, err := registry.OpenArchive(archive, "")
	if err != nil {
		return nil, err
	}
	defer a.Close()
	cache := &container.ImageCache{Dir: filepath.Join(jr.r.state, "images")}
	img, err := cache.Get(ctx, archive, func(context.Context, string) (v1.Image, error) { return a.Image(nil) })
	if err != nil {
		return nil, err
	}
	return &img, nil
}

// dockerActionArchive is the OCI archive of a Docker action whose
// runs.image is a Dockerfile, built once, and the unlock of its lock,
// held until the caller is done with it; "" for docker://IMAGE.
func (jr *legRun) dockerActionArchive(ctx context.Context, act *actions.Action, out *lineWriter) (archive string, unlock func(), err error) {
	r, image := jr.r, act.Meta.Runs.Image
	raw := strings.TrimSpace(image.Raw)
	if strings.HasPrefix(raw, "docker://") {
		return "", func() {}, nil
	}
	place := func(err error) error {
		return fmt.Errorf("%s:%d:%d: runs.image: %w", act.Meta.File, image.Line, image.Col, err)
	}
	file, err := securejoin.SecureJoin(act.Dir, raw)
	if err != nil {
		return "", nil, place(err)
	}
	if fi, err := os.Stat(file); err != nil || !fi.Mode().IsRegular() {
		return "", nil, place(fmt.Errorf("%s is not a file in the action", raw))
	}
	key, err := dockerActionKey(act, raw)
	if err != nil {
		return "", nil, place(err)
	}
	dir := filepath.Join(r.state, "docker-actions")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", nil, err
	}
	archive = filepath.Join(dir, key+".tar")
	// Held while the archive is used: `runner images prune` takes the
	// lock before it deletes one.
	unlock, err = flockWait(ctx, archive+".lock")
	if err != nil {
		return "", nil, err
	}
	if _, err := os.Stat(archive); err == nil {
		now := time.Now()
		_ = os.Chtimes(archive, now, now) // last used, for `runner images prune`
		jr.emitTo(out, fmt.Sprintf("Image of %s built before (%s)", raw, key[:12]))
	} else if err := jr.buildDockerAction(ctx, act.Dir, file, archive, out); err != nil {
		unlock()
		return "", nil, place(err)
	}
	return archive, unlock, nil
}

// buildDockerAction builds file with the action's directory as context
// into an OCI archive, on BUILDKIT_HOST (Settings) or runner's own
// buildkitd with runner's registry mirrors, as build-image does.
func (jr *legRun) buildDockerAction(ctx context.Context, ctxDir, file, archive string, out io.Writer) error {
	r := jr.r
	host := r.opts.Settings.BuildkitHost
	dopts := buildkit.DaemonOptions{Root: filepath.Join(r.state, "buildkit"), Log: out}
	if host == "" {
		m, err := registry.ParseMirrors(r.opts.Settings.RegistryMirror)
		if err != nil {
			return fmt.Errorf("registry mirrors: %w", err)
		}
		dopts.Mirrors = m
		if m.Empty() {
			dopts.EmbeddedRegistry = r.state
		}
	}
	conn, err := r.top().daemons.Connect(ctx, host, dopts)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	res, err := buildkit.Build(ctx, conn.Client, buildkit.BuildOptions{
		Context: ctxDir, File: file, Image: "runner-docker-action", Tags: []string{"build"},
		Archive: archive, Progress: out,
	})
	if err != nil {
		return conn.Explain(err)
	}
	_, _ = fmt.Fprintf(out, "built %s (%s)\n", filepath.Base(file), res.Digest)
	return nil
}

// dockerActionKey names the image of a Dockerfile action: the commit of a
// remote action, the content (paths, modes, bytes, link targets) of a
// ./path one, and the Dockerfile's path.
func dockerActionKey(act *actions.Action, dockerfile string) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "dockerfile %s\n", dockerfile)
	if act.Commit != "" {
		fmt.Fprintf(h, "commit %s %s/%s %s\n", act.Commit, act.Ref.Owner, act.Ref.Repo, act.Ref.Path)
		return hex.EncodeToString(h.Sum(nil)), nil
	}
	err := filepath.WalkDir(act.Dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(act.Dir, p)
		if d.IsDir() && d.Name() == ".git" {
			return filepath.SkipDir
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%q %o\n", rel, fi.Mode())
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			t, err := os.Readlink(p)
			if err != nil {
				return err
			}
			fmt.Fprintf(h, "-> %q\n", t)
		case fi.Mode().IsRegular():
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			defer f.Close()
			fmt.Fprintf(h, "%d\n", fi.Size())
			if _, err := io.Copy(h, f); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("hash the action's files: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// flockWait takes an exclusive lock on path (created), polling so that
// ctx can end the wait.
func flockWait(ctx context.Context, path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	for {
		if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err == nil {
			return func() { f.Close() }, nil
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
