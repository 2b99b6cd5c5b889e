package steps

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/birdflock/runner/pkg/buildkit"
	"github.com/birdflock/runner/pkg/registry"
)

// BuildImage is `uses: build-image`: a Dockerfile build on BuildKit, the
// work is pkg/buildkit's. Its Manager shares runner's own buildkitd between
// steps running at the same time; use it as a pointer (&BuildImage{}).
type BuildImage struct {
	daemons buildkit.Manager
}

// Spec describes build-image.
func (*BuildImage) Spec() Spec {
	return Spec{
		Name:        "build-image",
		Description: "Build a container image from a Containerfile/Dockerfile with BuildKit; optionally write an OCI archive and push",
		Inputs: []Input{
			{Name: "context", Default: ".", Description: "build context directory, relative to the workspace"},
			{Name: "file", Description: "Containerfile or Dockerfile, relative to the workspace; default: Containerfile, else Dockerfile, in the context"},
			{Name: "image", Required: true, Description: "image name without tag, e.g. birds-app-back-end"},
			{Name: "tags", Default: "testing", Description: "tags, separated by commas, spaces or newlines"},
			{Name: "build-args", Description: "ARG values, one KEY=VALUE a line"},
			{Name: "target", Description: "stage to build; default: the last one"},
			{Name: "archive", Description: "write the image as an OCI archive to this path (relative to the workspace), like `buildah push oci-archive:`"},
			{Name: "push", Default: "false", Description: "push every tag to registry"},
			{Name: "registry", Default: "embedded", Description: "registry (host[:port][/namespace]) to push to; `embedded` is runner's own registry"},
			{Name: "cache", Default: "true", Description: "use BuildKit's build cache (kept between runs in the state dir's buildkit/)"},
		},
		Outputs: []string{"image", "digest", "archive"},
	}
}

// Run builds the image. BuildKit's progress goes into the step log.
func (b *BuildImage) Run(ctx context.Context, s *Context) error {
	o, err := buildOptions(s)
	if err != nil {
		return err
	}
	if o.Push {
		reg := strings.TrimSuffix(strings.TrimSpace(s.Input("registry")), "/")
		if reg == "" || reg == "embedded" {
			addr, release, err := embeddedRegistry(ctx, s)
			if err != nil {
				return fmt.Errorf("build-image: embedded registry: %w", err)
			}
			defer release()
			reg = addr
		}
		if err := noUserinfo("build-image", reg, "push with push-image and its username and password instead"); err != nil {
			return err
		}
		// http:// asks for a plain-HTTP push, as in push-image.
		o.Insecure = strings.HasPrefix(reg, "http://")
		o.Registry = strings.TrimPrefix(strings.TrimPrefix(reg, "http://"), "https://")
	}

	host := s.Env["BUILDKIT_HOST"]
	if host == "" {
		host = s.Run.Settings.BuildkitHost
	}
	dopts := buildkit.DaemonOptions{Root: filepath.Join(stateDir(s), "buildkit"), Log: s.Log}
	if host == "" {
		if dopts.Mirrors, err = registry.MirrorsFromEnv(s.Getenv); err != nil {
			return fmt.Errorf("build-image: %w", err)
		}
		if dopts.Mirrors.Empty() {
			dopts.EmbeddedRegistry = stateDir(s)
		}
	}
	start := time.Now()
	conn, err := b.daemons.Connect(ctx, host, dopts)
	if err != nil {
		return fmt.Errorf("build-image: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if conn.Managed {
		s.Logf("buildkitd: runner's own at %s (state %s), registry mirrors: %s (ready in %.2fs)",
			conn.Addr, dopts.Root, mirrorList(conn.Mirrors), time.Since(start).Seconds())
	} else {
		s.Logf("buildkitd: BUILDKIT_HOST=%s", conn.Addr)
	}

	o.Progress = s.Log
	res, err := buildkit.Build(ctx, conn.Client, o)
	if err != nil {
		return fmt.Errorf("build-image: %w", conn.Explain(err))
	}
	s.SetOutput("image", res.Names[0])
	s.SetOutput("digest", res.Digest)
	s.SetOutput("archive", res.Archive)
	s.Logf("built %s (%s)", strings.Join(res.Names, ", "), res.Digest)
	if res.Archive != "" {
		s.Logf("OCI archive: %s", res.Archive)
	}
	return nil
}

func mirrorList(m registry.Mirrors) string {
	if m.Empty() {
		return "none"
	}
	return m.String()
}

// stateDir is the run's state dir, or .runner in the workspace.
func stateDir(s *Context) string {
	if s.Run.StateDir != "" {
		return s.Run.StateDir
	}
	return filepath.Join(s.Workspace, ".runner")
}

// inWorkspace resolves a relative path against the workspace.
func inWorkspace(s *Context, p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(s.Workspace, p)
}

func buildOptions(s *Context) (buildkit.BuildOptions, error) {
	var o buildkit.BuildOptions
	ctxDir := strings.TrimSpace(s.Input("context"))
	if ctxDir == "" {
		ctxDir = "."
	}
	o.Context = inWorkspace(s, ctxDir)
	o.File = inWorkspace(s, strings.TrimSpace(s.Input("file")))
	o.Image = strings.Trim(strings.TrimSpace(s.Input("image")), "/")
	if o.Image == "" {
		return o, errors.New("build-image: image is required")
	}
	if o.Image != strings.ToLower(o.Image) {
		return o, fmt.Errorf("build-image: image %q must be lower case", o.Image)
	}
	tags, err := splitTags(s.Input("tags"))
	if err != nil {
		return o, fmt.Errorf("build-image: %w", err)
	}
	o.Tags = tags
	if o.BuildArgs, err = parseKeyValues(s.Input("build-args")); err != nil {
		return o, fmt.Errorf("build-image: build-args: %w", err)
	}
	o.Target = strings.TrimSpace(s.Input("target"))
	o.Archive = inWorkspace(s, strings.TrimSpace(s.Input("archive")))
	if o.Push, err = parseBool(s.Input("push"), false); err != nil {
		return o, fmt.Errorf("build-image: push: %w", err)
	}
	cache, err := parseBool(s.Input("cache"), true)
	if err != nil {
		return o, fmt.Errorf("build-image: cache: %w", err)
	}
	o.NoCache = !cache
	return o, nil
}

// splitTags splits a list of tags separated by commas or white space,
// dropping blanks and repeats (build-image and push-image).
func splitTags(in string) ([]string, error) {
	var tags []string
	seen := map[string]bool{}
	for _, f := range strings.FieldsFunc(in, func(r rune) bool { return r == ',' || unicode.IsSpace(r) }) {
		t := strings.TrimSpace(f)
		if t == "" || seen[t] {
			continue
		}
		if !tagRE.MatchString(t) {
			return nil, fmt.Errorf("tag %q: letters, digits, _ . - only, at most 128, not starting with . or -", t)
		}
		seen[t] = true
		tags = append(tags, t)
	}
	if len(tags) == 0 {
		return nil, errors.New("no tags")
	}
	return tags, nil
}

// parseKeyValues reads KEY=VALUE lines; blank lines and # comments are
// skipped.
func parseKeyValues(in string) (map[string]string, error) {
	out := map[string]string{}
	for i, line := range strings.Split(in, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, fmt.Errorf("line %d: want KEY=VALUE, got %q", i+1, line)
		}
		out[strings.TrimSpace(k)] = v
	}
	return out, nil
}

func parseBool(v string, def bool) (bool, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return def, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("want true or false, got %q", v)
	}
	return b, nil
}
