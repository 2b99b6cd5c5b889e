package baseimage

import (
	"context"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Libraries is a layer of the shared libraries bin loads (as ldd lists
// them), at their paths on this machine, without bin itself: what a
// glibc image has for it.
func Libraries(ctx context.Context, o Options, bin string) (v1.Layer, error) {
	t := fsTree{}
	if err := t.libraries(ctx, bin); err != nil {
		return nil, err
	}
	return t.layer(o.withDefaults().Created)
}

// nodeLayer is a layer with node at /usr/local/bin/node (where the
// official node images have it) and the shared libraries it loads, read
// from this machine (package nodejs).
func nodeLayer(ctx context.Context, o Options, node string) (v1.Layer, error) {
	t := fsTree{}
	if err := t.binaries(ctx, map[string]string{"usr/local/bin/node": node}); err != nil {
		return nil, fmt.Errorf("node layer: %w", err)
	}
	return t.layer(o.Created)
}

// Node builds the stand-in for node:24-bookworm-slim: the alpine
// stand-in's busybox and this machine's node binary (of whatever version
// it is) with its glibc libraries, node at
// /usr/local/bin/node as in the official image. What
// deploy/kubernetes/image/Containerfile starts from in the tests.
func Node(ctx context.Context, o Options, node string) (v1.Image, error) {
	o = o.withDefaults()
	base, err := alpineLayer(ctx, o)
	if err != nil {
		return nil, err
	}
	l, err := nodeLayer(ctx, o, node)
	if err != nil {
		return nil, err
	}
	return assemble(o, []v1.Layer{base, l}, []string{
		"busybox-static: " + o.Busybox + " and applet links",
		"node: " + node + " and its libraries",
	}, v1.Config{Env: []string{"PATH=" + defaultPath}, Cmd: []string{"node"}})
}
