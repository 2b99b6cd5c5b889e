package baseimage

import (
	"context"
	"fmt"

	"github.com/birdflock/runner/pkg/registry"
)

// Seed builds every stand-in and pushes it to the registry at host
// (host:port), e.g. 127.0.0.1:5000/library/alpine:latest.
func Seed(ctx context.Context, c *registry.Client, host string, o Options) ([]registry.Pushed, error) {
	imgs, err := Build(ctx, o)
	if err != nil {
		return nil, err
	}
	var out []registry.Pushed
	for _, im := range imgs {
		p, err := c.Push(ctx, registry.FromImage(im.Image), host+"/"+im.Repo, []string{im.Tag})
		if err != nil {
			return nil, fmt.Errorf("base image %s: %w", im.Ref(), err)
		}
		out = append(out, p)
	}
	return out, nil
}
