package container

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// ociArchive reads an OCI archive in place: blobs are sections of the tar
// file, so nothing is copied out before the layers are unpacked.
type ociArchive struct {
	f     *os.File
	blobs map[string]*io.SectionReader // "index.json", "blobs/sha256/<hex>"
}

// countingReader tracks the offset so tar entries can be read as
// sections of the file; Seek lets tar skip entry bodies.
type countingReader struct {
	f   *os.File
	off int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.f.Read(p)
	c.off += int64(n)
	return n, err
}

func (c *countingReader) Seek(offset int64, whence int) (int64, error) {
	n, err := c.f.Seek(offset, whence)
	if err == nil {
		c.off = n
	}
	return n, err
}

func openOCIArchive(path string) (*ociArchive, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open archive: %w", err)
	}
	a := &ociArchive{f: f, blobs: map[string]*io.SectionReader{}}
	cr := &countingReader{f: f}
	tr := tar.NewReader(cr)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("archive %s: %w", path, err)
		}
		if hdr.Typeflag != tar.TypeReg && hdr.Typeflag != tar.TypeRegA {
			continue
		}
		name := strings.TrimPrefix(hdr.Name, "./")
		a.blobs[name] = io.NewSectionReader(f, cr.off, hdr.Size)
	}
	if _, ok := a.blobs["index.json"]; !ok {
		f.Close()
		return nil, fmt.Errorf("archive %s is not an OCI archive: no index.json", path)
	}
	return a, nil
}

func (a *ociArchive) Close() error { return a.f.Close() }

// blob returns the content of digest, checked against it.
func (a *ociArchive) blob(d v1.Hash) ([]byte, error) {
	r, err := a.open(d)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	return b, r.verify()
}

func (a *ociArchive) open(d v1.Hash) (*verifier, error) {
	if d.Algorithm != "sha256" {
		return nil, fmt.Errorf("blob %s: only sha256 digests", d)
	}
	s, ok := a.blobs["blobs/sha256/"+d.Hex]
	if !ok {
		return nil, fmt.Errorf("blob %s is not in the archive", d)
	}
	return &verifier{r: io.NewSectionReader(s, 0, s.Size()), want: d.Hex, h: sha256.New()}, nil
}

// verifier hashes what is read; verify compares at the end.
type verifier struct {
	r    io.Reader
	want string
	h    interface {
		io.Writer
		Sum([]byte) []byte
	}
}

func (v *verifier) Read(p []byte) (int, error) {
	n, err := v.r.Read(p)
	v.h.Write(p[:n])
	return n, err
}

func (v *verifier) verify() error {
	if _, err := io.Copy(io.Discard, v); err != nil {
		return err
	}
	if got := hex.EncodeToString(v.h.Sum(nil)); got != v.want {
		return fmt.Errorf("blob sha256:%s has digest sha256:%s", v.want, got)
	}
	return nil
}

// image picks the image for this platform and returns its manifest and
// config.
func (a *ociArchive) image() (*v1.Manifest, *v1.ConfigFile, error) {
	b, err := io.ReadAll(io.NewSectionReader(a.blobs["index.json"], 0, a.blobs["index.json"].Size()))
	if err != nil {
		return nil, nil, err
	}
	var idx v1.IndexManifest
	if err := json.Unmarshal(b, &idx); err != nil {
		return nil, nil, fmt.Errorf("index.json: %w", err)
	}
	for depth := 0; ; depth++ {
		d, err := pickDescriptor(idx.Manifests)
		if err != nil {
			return nil, nil, err
		}
		b, err := a.blob(d.Digest)
		if err != nil {
			return nil, nil, err
		}
		if d.MediaType.IsIndex() {
			if depth > 4 {
				return nil, nil, errors.New("indexes nested too deep")
			}
			if err := json.Unmarshal(b, &idx); err != nil {
				return nil, nil, fmt.Errorf("index %s: %w", d.Digest, err)
			}
			continue
		}
		var m v1.Manifest
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, nil, fmt.Errorf("manifest %s: %w", d.Digest, err)
		}
		cb, err := a.blob(m.Config.Digest)
		if err != nil {
			return nil, nil, err
		}
		var cf v1.ConfigFile
		if err := json.Unmarshal(cb, &cf); err != nil {
			return nil, nil, fmt.Errorf("image config: %w", err)
		}
		return &m, &cf, nil
	}
}

// pickDescriptor returns the only image or index, or the one for
// linux/GOARCH; attestation manifests are ignored.
func pickDescriptor(ds []v1.Descriptor) (v1.Descriptor, error) {
	var cands []v1.Descriptor
	for _, d := range ds {
		if (d.MediaType.IsImage() || d.MediaType.IsIndex()) && !isAttestation(d) {
			cands = append(cands, d)
		}
	}
	switch len(cands) {
	case 0:
		return v1.Descriptor{}, errors.New("no image in the index")
	case 1:
		return cands[0], nil
	}
	for _, d := range cands {
		if d.Platform != nil && d.Platform.OS == "linux" && d.Platform.Architecture == runtime.GOARCH {
			return d, nil
		}
	}
	return v1.Descriptor{}, fmt.Errorf("%d images and none for linux/%s", len(cands), runtime.GOARCH)
}

// unpack applies the layers of m to root, checking each digest.
func (a *ociArchive) unpack(m *v1.Manifest, root string) error {
	for i, l := range m.Layers {
		v, err := a.open(l.Digest)
		if err != nil {
			return fmt.Errorf("layer %d: %w", i+1, err)
		}
		r, closeFn, err := decompress(l.MediaType, v)
		if err != nil {
			return fmt.Errorf("layer %d: %w", i+1, err)
		}
		err = UnpackLayer(root, r)
		closeFn()
		if err == nil {
			err = v.verify()
		}
		if err != nil {
			return fmt.Errorf("layer %d: %w", i+1, err)
		}
	}
	return nil
}

func decompress(mt types.MediaType, r io.Reader) (io.Reader, func(), error) {
	s := string(mt)
	switch {
	case strings.HasSuffix(s, "+zstd"):
		z, err := zstd.NewReader(r)
		if err != nil {
			return nil, nil, err
		}
		return z, z.Close, nil
	case strings.HasSuffix(s, "+gzip") || strings.HasSuffix(s, ".tar.gzip"):
		z, err := gzip.NewReader(r)
		if err != nil {
			return nil, nil, err
		}
		return z, func() { z.Close() }, nil
	case strings.HasSuffix(s, ".tar"):
		return r, func() {}, nil
	}
	return nil, nil, fmt.Errorf("unsupported layer media type %s", s)
}
