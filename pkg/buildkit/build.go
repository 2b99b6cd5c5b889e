package buildkit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/docker/cli/cli/config"
	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/exporter/containerimage/exptypes"
	"github.com/moby/buildkit/session"
	"github.com/moby/buildkit/session/auth/authprovider"
	"github.com/moby/buildkit/util/progress/progressui"
	"github.com/tonistiigi/fsutil"
	"golang.org/x/sync/errgroup"

	"github.com/birdflock/runner/pkg/registry"
)

// BuildOptions describes one Dockerfile build. Zero values are defaults.
type BuildOptions struct {
	// Context is the build context dir. Required.
	Context string
	// File is the Dockerfile path. Default: Containerfile, else Dockerfile,
	// in Context.
	File string
	// Image is the image name without tag, e.g. "birds-app-back-end" or
	// "127.0.0.1:5000/me/app". Default: "image".
	Image string
	// Tags are applied to Image. Default: ["testing"].
	Tags []string
	// BuildArgs are Dockerfile ARG values.
	BuildArgs map[string]string
	// Target is the stage to build. Default: the last one.
	Target string
	// Archive, when set, receives the image as an OCI archive (written to a
	// temporary file and renamed, so it is never half-written).
	Archive string
	// Push pushes every tag to Registry (host[:port]); plain http is used
	// for loopback registries.
	Push     bool
	Registry string
	// Insecure pushes over plain HTTP (or unverified TLS). Default false:
	// plain HTTP only for a loopback registry.
	Insecure bool
	// NoCache disables BuildKit's cache for this build. Default: cache on.
	NoCache bool
	// Progress receives BuildKit's plain progress output as a stream
	// (the engine's step log splits it into lines). Default: discarded.
	Progress io.Writer
}

// Result is what a build produced.
type Result struct {
	Names   []string // full image references that were tagged (and pushed)
	Digest  string   // manifest digest, sha256:...
	Archive string   // absolute path of the OCI archive, when asked for
}

// FindDockerfile returns the Containerfile or Dockerfile in dir.
func FindDockerfile(dir string) (string, error) {
	for _, n := range []string{"Containerfile", "Dockerfile"} {
		p := filepath.Join(dir, n)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p, nil
		}
	}
	return "", fmt.Errorf("no Containerfile or Dockerfile in %s", dir)
}

// Names returns the references the options tag: registry/image:tag.
func (o BuildOptions) Names() []string {
	img := o.Image
	if img == "" {
		img = "image"
	}
	if o.Push && o.Registry != "" && !strings.HasPrefix(img, o.Registry+"/") {
		img = strings.TrimSuffix(o.Registry, "/") + "/" + img
	}
	tags := o.Tags
	if len(tags) == 0 {
		tags = []string{"testing"}
	}
	names := make([]string, len(tags))
	for i, t := range tags {
		names[i] = img + ":" + t
	}
	return names
}

// Build runs the dockerfile.v0 frontend on c and exports the image as asked:
// an OCI archive, a push, or (neither) into the daemon's image store.
func Build(ctx context.Context, c *client.Client, o BuildOptions) (Result, error) {
	req, err := newSolveRequest(o)
	if err != nil {
		return Result{}, err
	}
	defer req.close()
	resp, err := solve(ctx, c, req.opt, o.Progress)
	if err != nil {
		return req.res, fmt.Errorf("build %s: %w", filepath.Base(req.file), err)
	}
	req.res.Digest = resp.ExporterResponse[exptypes.ExporterImageDigestKey]
	if req.tmpArchive != nil {
		if err := os.Rename(req.tmpArchive.Name(), req.res.Archive); err != nil {
			return req.res, fmt.Errorf("archive: %w", err)
		}
	}
	return req.res, nil
}

// solveRequest is BuildOptions translated into what BuildKit is asked: the
// frontend's attributes, the local mounts and the exports. Making one talks
// to no daemon.
type solveRequest struct {
	opt        client.SolveOpt
	res        Result   // Names and Archive; Digest comes from the solve
	file       string   // the Dockerfile, absolute
	tmpArchive *os.File // the archive export's file, renamed to res.Archive on success
}

// close removes the temporary archive unless it was renamed.
func (r *solveRequest) close() {
	if r.tmpArchive != nil {
		r.tmpArchive.Close() // BuildKit closes it after a successful export
		os.Remove(r.tmpArchive.Name())
	}
}

func newSolveRequest(o BuildOptions) (*solveRequest, error) {
	if o.Context == "" {
		return nil, errors.New("build: no context dir")
	}
	ctxDir, err := filepath.Abs(o.Context)
	if err != nil {
		return nil, err
	}
	if st, err := os.Stat(ctxDir); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("build context %s is not a directory", o.Context)
	}
	file := o.File
	if file == "" {
		if file, err = FindDockerfile(ctxDir); err != nil {
			return nil, err
		}
	}
	if file, err = filepath.Abs(file); err != nil {
		return nil, err
	}
	if _, err := os.Stat(file); err != nil {
		return nil, fmt.Errorf("dockerfile: %w", err)
	}
	ctxFS, err := fsutil.NewFS(ctxDir)
	if err != nil {
		return nil, fmt.Errorf("build context: %w", err)
	}
	dfFS, err := fsutil.NewFS(filepath.Dir(file))
	if err != nil {
		return nil, fmt.Errorf("dockerfile dir: %w", err)
	}
	r := &solveRequest{file: file}
	r.res.Names = o.Names()
	exports, err := r.exports(o)
	if err != nil {
		r.close()
		return nil, err
	}
	dockerCfg := config.LoadDefaultConfigFile(io.Discard)
	r.opt = client.SolveOpt{
		Frontend:      "dockerfile.v0",
		FrontendAttrs: frontendAttrs(o, file),
		LocalMounts:   map[string]fsutil.FS{"context": ctxFS, "dockerfile": dfFS},
		Exports:       exports,
		Session: []session.Attachable{authprovider.NewDockerAuthProvider(authprovider.DockerAuthProviderConfig{
			AuthConfigProvider: authprovider.LoadAuthConfig(dockerCfg),
		})},
	}
	return r, nil
}

// frontendAttrs are the dockerfile.v0 frontend's options for o.
func frontendAttrs(o BuildOptions, file string) map[string]string {
	attrs := map[string]string{"filename": filepath.Base(file)}
	if o.Target != "" {
		attrs["target"] = o.Target
	}
	if o.NoCache {
		attrs["no-cache"] = ""
	}
	keys := make([]string, 0, len(o.BuildArgs))
	for k := range o.BuildArgs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		attrs["build-arg:"+k] = o.BuildArgs[k]
	}
	return attrs
}

// exports are the image's destinations: an OCI archive (through a
// temporary file beside it, so it is never half-written), a push, or else
// the daemon's image store.
func (r *solveRequest) exports(o BuildOptions) ([]client.ExportEntry, error) {
	name := strings.Join(r.res.Names, ",")
	var exports []client.ExportEntry
	if o.Archive != "" {
		var err error
		if r.res.Archive, err = filepath.Abs(o.Archive); err != nil {
			return nil, err
		}
		if err := os.MkdirAll(filepath.Dir(r.res.Archive), 0o755); err != nil {
			return nil, fmt.Errorf("archive dir: %w", err)
		}
		f, err := os.CreateTemp(filepath.Dir(r.res.Archive), "."+filepath.Base(r.res.Archive)+".*")
		if err != nil {
			return nil, fmt.Errorf("archive: %w", err)
		}
		r.tmpArchive = f
		exports = append(exports, client.ExportEntry{
			Type:   client.ExporterOCI,
			Attrs:  map[string]string{"name": name},
			Output: func(map[string]string) (io.WriteCloser, error) { return f, nil },
		})
	}
	if o.Push {
		if o.Registry == "" && !strings.Contains(strings.SplitN(name, "/", 2)[0], ".") {
			return nil, errors.New("push: no registry")
		}
		a := map[string]string{"name": name, "push": "true"}
		if o.Insecure || registry.IsLoopbackHost(strings.SplitN(o.Registry, "/", 2)[0]) {
			a["registry.insecure"] = "true"
		}
		exports = append(exports, client.ExportEntry{Type: client.ExporterImage, Attrs: a})
	}
	if len(exports) == 0 {
		exports = append(exports, client.ExportEntry{Type: client.ExporterImage, Attrs: map[string]string{"name": name}})
	}
	return exports, nil
}

// solve runs opt on c, printing BuildKit's plain progress to progress.
func solve(ctx context.Context, c *client.Client, opt client.SolveOpt, progress io.Writer) (*client.SolveResponse, error) {
	if progress == nil {
		progress = io.Discard
	}
	disp, err := progressui.NewDisplay(progress, progressui.PlainMode)
	if err != nil {
		return nil, err
	}
	ch := make(chan *client.SolveStatus)
	eg, egctx := errgroup.WithContext(ctx)
	var resp *client.SolveResponse
	eg.Go(func() error {
		var err error
		resp, err = c.Solve(egctx, nil, opt, ch) // closes ch when done
		return err
	})
	eg.Go(func() error {
		// The display must drain ch even when ctx ends, or Solve blocks.
		_, err := disp.UpdateFrom(context.WithoutCancel(egctx), ch)
		return err
	})
	if err := eg.Wait(); err != nil {
		return nil, err
	}
	return resp, nil
}
