package steps

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/birdflock/runner/pkg/registry"
)

// PushImage is `uses: push-image`: pushes an OCI archive (or an image
// from another registry) under several tags; the work is pkg/registry's.
type PushImage struct{}

// Spec describes push-image.
func (PushImage) Spec() Spec {
	return Spec{
		Name:        "push-image",
		Description: "Push an image from an OCI archive or another registry under one or more tags",
		Inputs: []Input{
			{Name: "archive", Description: "OCI archive to push (e.g. backend.tar from build-image); relative to the workspace"},
			{Name: "image", Description: "image reference to copy instead of an archive (pulled through the mirrors in RUNNER_REGISTRY_MIRROR)"},
			{Name: "registry", Default: "embedded", Description: "registry and namespace, e.g. ghcr.io/owner or 127.0.0.1:5000/owner; `embedded` is runner's own registry (state dir's registry/, reused when running, else served for the push on its stable address: 127.0.0.1:5000 unless that was taken the first time, recorded in registry/home.addr)"},
			{Name: "name", Required: true, Description: "image name within the registry, e.g. birds-app-back-end"},
			{Name: "tags", Default: "latest", Description: "tags, separated by newlines, spaces or commas (e.g. latest and the commit SHA)"},
			{Name: "username", Description: "registry user; default: the docker config's credentials"},
			{Name: "password", Description: "registry password or token (masked)"},
			{Name: "insecure", Default: "false", Description: "allow plain HTTP and unverified TLS to a non-loopback registry"},
		},
		Outputs: []string{"digest", "refs", "image"},
	}
}

var tagRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$`)

// Run pushes the image and sets digest (sha256:…), refs (REPO:TAG, one a
// line) and image (REPO@DIGEST).
func (PushImage) Run(ctx context.Context, s *Context) error {
	user, pass := s.Input("username"), s.Input("password")
	if pass != "" {
		s.AddMask(pass)
		s.AddMask(base64.StdEncoding.EncodeToString([]byte(user + ":" + pass)))
	}
	insecure, err := parseBool(s.Input("insecure"), false)
	if err != nil {
		return fmt.Errorf("push-image: insecure: %w", err)
	}
	tags, err := splitTags(s.Input("tags"))
	if err != nil {
		return err
	}
	imgName := strings.Trim(strings.TrimSpace(s.Input("name")), "/")
	if imgName == "" {
		return errors.New("push-image: name is required")
	}
	if imgName != strings.ToLower(imgName) {
		return fmt.Errorf("push-image: name %q must be lower case", imgName)
	}

	reg := strings.TrimSuffix(strings.TrimSpace(s.Input("registry")), "/")
	if reg == "" || reg == "embedded" {
		addr, release, err := embeddedRegistry(ctx, s)
		if err != nil {
			return fmt.Errorf("push-image: embedded registry: %w", err)
		}
		defer release()
		reg = addr // http://host:port when Settings.Registry says so
	}
	switch {
	case strings.HasPrefix(reg, "http://"):
		reg, insecure = strings.TrimPrefix(reg, "http://"), true
	case strings.HasPrefix(reg, "https://"):
		reg = strings.TrimPrefix(reg, "https://")
	}
	if err := noUserinfo("push-image", reg, "give the inputs username and password"); err != nil {
		return err
	}
	if reg != strings.ToLower(reg) {
		return fmt.Errorf("push-image: registry %q must be lower case", reg)
	}
	repo := reg + "/" + imgName

	var creds []registry.Credential
	if user != "" || pass != "" {
		if user == "" || pass == "" {
			return errors.New("push-image: username and password go together")
		}
		host, _, _ := strings.Cut(reg, "/")
		creds = append(creds, registry.Credential{Registry: host, Username: user, Password: pass})
	}
	mirrors, err := registry.MirrorsFromEnv(s.Getenv)
	if err != nil {
		return fmt.Errorf("push-image: %w", err)
	}
	c := registry.New(registry.Options{Credentials: creds, Insecure: insecure, Mirrors: mirrors, Log: s.Log})

	src, err := openSource(ctx, c, s)
	if err != nil {
		return err
	}
	defer src.Close()
	s.Logf("pushing %s to %s (tags: %s)", src.Source, repo, strings.Join(tags, ", "))
	p, err := c.Push(ctx, src, repo, tags)
	if err != nil {
		return fmt.Errorf("push-image: %w", err)
	}
	s.SetOutput("digest", p.Digest)
	s.SetOutput("refs", strings.Join(p.Refs, "\n"))
	s.SetOutput("image", repo+"@"+p.Digest)
	return nil
}

// noUserinfo refuses a registry that holds credentials (user:token@host)
// without showing it: an error that quotes it, or a piece of it, would
// show what masking the whole token cannot catch.
func noUserinfo(step, reg, instead string) error {
	if strings.Contains(reg, "@") {
		return fmt.Errorf("%s: the registry must not hold credentials (user:password@host); %s", step, instead)
	}
	return nil
}

func openSource(ctx context.Context, c *registry.Client, s *Context) (*registry.Artifact, error) {
	archive, image := strings.TrimSpace(s.Input("archive")), strings.TrimSpace(s.Input("image"))
	switch {
	case archive != "" && image != "":
		return nil, errors.New("push-image: give archive or image, not both")
	case archive != "":
		if !filepath.IsAbs(archive) {
			archive = filepath.Join(s.Workspace, archive)
		}
		a, err := registry.OpenArchive(archive, "")
		if err != nil {
			return nil, fmt.Errorf("push-image: %w", err)
		}
		return a, nil
	case image != "":
		a, err := c.Pull(ctx, image)
		if err != nil {
			return nil, fmt.Errorf("push-image: %w", err)
		}
		return a, nil
	}
	return nil, errors.New("push-image: archive or image is required")
}
