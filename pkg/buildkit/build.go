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
	// Progress receives BuildKit's plain progress output, line by line.
	// Default: discarded.
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
	var res Result
	if o.Context == "" {
		return res, errors.New("build: no context dir")
	}
	ctxDir, err := filepath.Abs(o.Context)
	if err != nil {
		return res, err
	}
	if st, err := os.Stat(ctxDir); err != nil || !st.IsDir() {
		return res, fmt.Errorf("build context %s is not a directory", o.Context)
	}
	file := o.File
	if file == "" {
		if file, err = FindDockerfile(ctxDir); err != nil {
			return res, err
		}
	}
	if file, err = filepath.Abs(file); err != nil {
		return res, err
	}
	if _, err := os.Stat(file); err != nil {
		return res, fmt.Errorf("dockerfile: %w", err)
	}
	ctxFS, err := fsutil.NewFS(ctxDir)
	if err != nil {
		return res, fmt.Errorf("build context: %w", err)
	}
	dfFS, err := fsutil.NewFS(filepath.Dir(file))
	if err != nil {
		return res, fmt.Errorf("dockerfile dir: %w", err)
	}

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

	res.Names = o.Names()
	name := strings.Join(res.Names, ",")
	var exports []client.ExportEntry
	var tmpArchive string
	if o.Archive != "" {
		if res.Archive, err = filepath.Abs(o.Archive); err != nil {
			return res, err
		}
		if err := os.MkdirAll(filepath.Dir(res.Archive), 0o755); err != nil {
			return res, fmt.Errorf("archive dir: %w", err)
		}
		f, err := os.CreateTemp(filepath.Dir(res.Archive), "."+filepath.Base(res.Archive)+".*")
		if err != nil {
			return res, fmt.Errorf("archive: %w", err)
		}
		tmpArchive = f.Name()
		defer f.Close()             // BuildKit closes it after a successful export
		defer os.Remove(tmpArchive) // a no-op after the rename
		exports = append(exports, client.ExportEntry{
			Type:   client.ExporterOCI,
			Attrs:  map[string]string{"name": name},
			Output: func(map[string]string) (io.WriteCloser, error) { return f, nil },
		})
	}
	if o.Push {
		if o.Registry == "" && !strings.Contains(strings.SplitN(name, "/", 2)[0], ".") {
			return res, errors.New("push: no registry")
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

	dockerCfg := config.LoadDefaultConfigFile(io.Discard)
	opt := client.SolveOpt{
		Frontend:      "dockerfile.v0",
		FrontendAttrs: attrs,
		LocalMounts:   map[string]fsutil.FS{"context": ctxFS, "dockerfile": dfFS},
		Exports:       exports,
		Session: []session.Attachable{authprovider.NewDockerAuthProvider(authprovider.DockerAuthProviderConfig{
			AuthConfigProvider: authprovider.LoadAuthConfig(dockerCfg),
		})},
	}
	progress := o.Progress
	if progress == nil {
		progress = io.Discard
	}
	lw := &lineWriter{w: progress}
	disp, err := progressui.NewDisplay(lw, progressui.PlainMode)
	if err != nil {
		return res, err
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
	err = eg.Wait()
	lw.Flush()
	if err != nil {
		return res, fmt.Errorf("build %s: %w", filepath.Base(file), err)
	}
	res.Digest = resp.ExporterResponse[exptypes.ExporterImageDigestKey]
	if tmpArchive != "" {
		if err := os.Rename(tmpArchive, res.Archive); err != nil {
			return res, fmt.Errorf("archive: %w", err)
		}
	}
	return res, nil
}
