package baseimage

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// RunnerOptions say which runner binary goes into the image, and where
// Debian's bash is.
type RunnerOptions struct {
	Options
	Binary string // runner's binary, built with CGO_ENABLED=0; required
	Bash   string // default /bin/bash
	// CACerts is a bundle of CA certificates for HTTPS clones and pulls in
	// the pod; default /etc/ssl/certs/ca-certificates.crt when present.
	CACerts string
	// Node, when set, is a node binary put at /usr/local/bin/node with
	// its libraries (a layer of its own), so that JavaScript actions run
	// in the pods as on GitHub's runners, which bring their node.
	Node string
}

// Runner builds the image of the Kubernetes executor's job pods
// (docs/kubernetes.md): the alpine layer (busybox as sh and the usual
// tools), Debian's bash with its libraries, and runner's static binary at
// /usr/local/bin/runner, which runs one job leg (`runner job --stdio`).
func Runner(ctx context.Context, o RunnerOptions) (v1.Image, error) {
	o.Options = o.Options.withDefaults()
	if o.Bash == "" {
		o.Bash = "/bin/bash"
	}
	if o.CACerts == "" {
		if _, err := os.Stat("/etc/ssl/certs/ca-certificates.crt"); err == nil {
			o.CACerts = "/etc/ssl/certs/ca-certificates.crt"
		}
	}
	if o.Binary == "" {
		return nil, fmt.Errorf("runner image: no runner binary given")
	}
	bin, err := os.ReadFile(o.Binary)
	if err != nil {
		return nil, fmt.Errorf("runner image: %w", err)
	}
	base, err := alpineLayer(ctx, o.Options)
	if err != nil {
		return nil, err
	}
	t := fsTree{}
	if err := t.binaries(ctx, map[string]string{"bin/bash": o.Bash}); err != nil {
		return nil, fmt.Errorf("runner image: %w", err)
	}
	t.file("usr/local/bin/runner", 0o755, bin)
	if o.CACerts != "" {
		b, err := os.ReadFile(o.CACerts)
		if err != nil {
			return nil, fmt.Errorf("runner image: %w", err)
		}
		t.file("etc/ssl/certs/ca-certificates.crt", 0o644, b)
	}
	t.dir("home/runner", 0o755)
	l, err := t.layer(o.Created)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(bin)
	layers := []v1.Layer{base, l}
	history := []string{
		"busybox-static: " + o.Busybox + " and applet links",
		"runner (sha256 " + hex.EncodeToString(sum[:8]) + "), " + o.Bash + " and its libraries",
	}
	if o.Node != "" {
		nl, err := nodeLayer(ctx, o.Options, o.Node)
		if err != nil {
			return nil, fmt.Errorf("runner image: %w", err)
		}
		layers, history = append(layers, nl), append(history, "node: "+o.Node+" and its libraries")
	}
	return assemble(o.Options, layers, history, v1.Config{
		Env:        []string{"PATH=" + defaultPath, "HOME=/home/runner"},
		Entrypoint: []string{"/usr/local/bin/runner"},
		WorkingDir: "/home/runner",
	})
}
