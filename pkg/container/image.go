package container

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// unpackArchiveFile applies the image of an OCI archive to root and
// returns its config.
func unpackArchiveFile(path, root string) (v1.Config, error) {
	a, err := openOCIArchive(path)
	if err != nil {
		return v1.Config{}, err
	}
	defer a.Close()
	m, cf, err := a.image()
	if err != nil {
		return v1.Config{}, fmt.Errorf("archive %s: %w", path, err)
	}
	if err := a.unpack(m, root); err != nil {
		return v1.Config{}, fmt.Errorf("archive %s: %w", path, err)
	}
	return cf.Config, nil
}

// fetchImage pulls ref with pull, or with pullImage when pull is nil.
func fetchImage(ctx context.Context, ref string, pull func(context.Context, string) (v1.Image, error)) (v1.Image, error) {
	if pull != nil {
		return pull(ctx, ref)
	}
	return pullImage(ref, remote.WithContext(ctx))
}

// unpackRef pulls ref (with pull, or pullImage when nil) and applies its
// layers to root.
func unpackRef(ctx context.Context, ref string, pull func(context.Context, string) (v1.Image, error), root string) (v1.Config, error) {
	img, err := fetchImage(ctx, ref, pull)
	if err != nil {
		return v1.Config{}, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return v1.Config{}, fmt.Errorf("image config: %w", err)
	}
	if err := unpackImage(img, root); err != nil {
		return v1.Config{}, err
	}
	return cf.Config, nil
}

func isAttestation(d v1.Descriptor) bool {
	return d.Annotations["vnd.docker.reference.type"] == "attestation-manifest"
}

// pullImage fetches ref for this machine's platform, with the docker
// config's credentials; loopback registries are reached over plain http.
func pullImage(ref string, opts ...remote.Option) (v1.Image, error) {
	var nopts []name.Option
	if host := strings.SplitN(ref, "/", 2)[0]; isLoopbackHost(host) {
		nopts = append(nopts, name.Insecure)
	}
	r, err := name.ParseReference(ref, nopts...)
	if err != nil {
		return nil, fmt.Errorf("image %q: %w", ref, err)
	}
	opts = append([]remote.Option{
		remote.WithAuthFromKeychain(authn.DefaultKeychain),
		remote.WithPlatform(v1.Platform{OS: "linux", Architecture: runtime.GOARCH}),
	}, opts...)
	img, err := remote.Image(r, opts...)
	if err != nil {
		return nil, fmt.Errorf("pull %s: %w", ref, err)
	}
	return img, nil
}

// isLoopbackHost reports whether a registry host[:port] is this machine;
// "127.example.com" is not.
func isLoopbackHost(hostport string) bool {
	h := hostport
	if host, _, err := net.SplitHostPort(hostport); err == nil {
		h = host
	}
	h = strings.Trim(h, "[]")
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// unpackImage applies every layer of img to root, lowest first.
func unpackImage(img v1.Image, root string) error {
	layers, err := img.Layers()
	if err != nil {
		return fmt.Errorf("image layers: %w", err)
	}
	for i, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			return fmt.Errorf("layer %d: %w", i+1, err)
		}
		err = UnpackLayer(root, rc)
		rc.Close()
		if err != nil {
			return fmt.Errorf("layer %d: %w", i+1, err)
		}
	}
	return nil
}
