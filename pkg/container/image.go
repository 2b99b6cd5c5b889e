package container

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// openArchive unpacks an OCI archive's layout into dir and returns its image
// for this machine's platform.
func openArchive(archive, dir string) (v1.Image, error) {
	f, err := os.Open(archive)
	if err != nil {
		return nil, fmt.Errorf("open archive: %w", err)
	}
	defer f.Close()
	if err := untarLayout(f, dir); err != nil {
		return nil, fmt.Errorf("archive %s: %w", archive, err)
	}
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("archive %s is not an OCI archive: %w", archive, err)
	}
	img, err := pickImage(idx)
	if err != nil {
		return nil, fmt.Errorf("archive %s: %w", archive, err)
	}
	return img, nil
}

// untarLayout extracts the plain files of an OCI layout tar.
func untarLayout(r io.Reader, dir string) error {
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		n, err := cleanEntry(hdr.Name)
		if err != nil {
			return err
		}
		p := filepath.Join(dir, filepath.FromSlash(n))
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, 0o755); err != nil {
				return err
			}
		case tar.TypeReg, tar.TypeRegA:
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return err
			}
			out, err := os.OpenFile(p, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
			if err != nil {
				return err
			}
			_, err = io.Copy(out, tr)
			if cerr := out.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		default:
			return fmt.Errorf("%w: %q is not a file or directory", ErrUnsafeLayer, hdr.Name)
		}
	}
}

// pickImage returns the only image of idx, or the one for linux/GOARCH,
// looking into nested indexes.
func pickImage(idx v1.ImageIndex) (v1.Image, error) {
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	var imgs []v1.Descriptor
	for _, d := range m.Manifests {
		if d.MediaType.IsIndex() {
			sub, err := idx.ImageIndex(d.Digest)
			if err != nil {
				return nil, err
			}
			return pickImage(sub)
		}
		if d.MediaType.IsImage() && !isAttestation(d) {
			imgs = append(imgs, d)
		}
	}
	switch {
	case len(imgs) == 0:
		return nil, errors.New("no image in the index")
	case len(imgs) == 1:
		return idx.Image(imgs[0].Digest)
	}
	for _, d := range imgs {
		if d.Platform != nil && d.Platform.OS == "linux" && d.Platform.Architecture == runtime.GOARCH {
			return idx.Image(d.Digest)
		}
	}
	return nil, fmt.Errorf("%d images and none for linux/%s", len(imgs), runtime.GOARCH)
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

func isLoopbackHost(host string) bool {
	h := host
	if i := strings.LastIndex(h, ":"); i >= 0 && !strings.HasSuffix(h, "]") {
		h = h[:i]
	}
	h = strings.Trim(h, "[]")
	return h == "localhost" || strings.HasPrefix(h, "127.") || h == "::1"
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
