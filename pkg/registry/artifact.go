package registry

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/match"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Annotations an OCI layout's index.json uses to name its entries.
const (
	AnnotationRefName   = "org.opencontainers.image.ref.name" // e.g. "testing"
	AnnotationImageName = "io.containerd.image.name"          // e.g. "docker.io/x/y:testing" (BuildKit)
)

// Artifact is one image or image index to push, tag or write out: from an
// OCI archive, an OCI layout, a registry, or built in memory. Close
// releases what opening it took (e.g. an unpacked archive).
type Artifact struct {
	img     v1.Image
	idx     v1.ImageIndex
	cleanup func() error
	// Source says where it came from, for messages.
	Source string
}

// FromImage wraps an in-memory or other v1.Image.
func FromImage(img v1.Image) *Artifact { return &Artifact{img: img} }

// FromIndex wraps a v1.ImageIndex.
func FromIndex(idx v1.ImageIndex) *Artifact { return &Artifact{idx: idx} }

func (a *Artifact) taggable() remote.Taggable {
	if a.idx != nil {
		return a.idx
	}
	return a.img
}

// Digest is the manifest digest (what a registry answers for any tag).
func (a *Artifact) Digest() (v1.Hash, error) {
	if a.idx != nil {
		return a.idx.Digest()
	}
	return a.img.Digest()
}

// Index returns the image index, if the artifact is one.
func (a *Artifact) Index() (v1.ImageIndex, bool) { return a.idx, a.idx != nil }

// Image returns the image; for an index, the entry for platform (default:
// linux and this machine's architecture).
func (a *Artifact) Image(platform *v1.Platform) (v1.Image, error) {
	if a.img != nil {
		return a.img, nil
	}
	if platform == nil {
		platform = &v1.Platform{OS: "linux", Architecture: runtime.GOARCH}
	}
	im, err := a.idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	for _, d := range im.Manifests {
		if d.MediaType.IsImage() && d.Platform != nil && d.Platform.Satisfies(*platform) {
			return a.idx.Image(d.Digest)
		}
	}
	return nil, fmt.Errorf("no image for %s/%s in index", platform.OS, platform.Architecture)
}

// Close releases the artifact's temporary files; safe to call twice.
func (a *Artifact) Close() error {
	if a.cleanup == nil {
		return nil
	}
	err := a.cleanup()
	a.cleanup = nil
	return err
}

// OpenLayout opens the entry of the OCI layout in dir that ref names (its
// ref-name or image-name annotation); ref "" takes the only entry.
func OpenLayout(dir, ref string) (*Artifact, error) {
	p, err := layout.FromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("oci layout %s: %w", dir, err)
	}
	a, err := openLayout(p, ref)
	if err != nil {
		return nil, fmt.Errorf("oci layout %s: %w", dir, err)
	}
	a.Source = dir
	return a, nil
}

func openLayout(p layout.Path, ref string) (*Artifact, error) {
	idx, err := p.ImageIndex()
	if err != nil {
		return nil, err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	var picked []v1.Descriptor
	var names []string
	for _, d := range im.Manifests {
		n := d.Annotations[AnnotationRefName]
		if n == "" {
			n = d.Annotations[AnnotationImageName]
		}
		names = append(names, n)
		if ref == "" || d.Annotations[AnnotationRefName] == ref || d.Annotations[AnnotationImageName] == ref {
			picked = append(picked, d)
		}
	}
	switch {
	case len(picked) == 0 && ref == "":
		return nil, errors.New("index.json lists no image")
	case len(picked) == 0:
		return nil, fmt.Errorf("no image named %q (have %s)", ref, strings.Join(names, ", "))
	case len(picked) > 1:
		return nil, fmt.Errorf("%d images (%s): name one", len(picked), strings.Join(names, ", "))
	}
	d := picked[0]
	switch {
	case d.MediaType.IsIndex():
		ii, err := idx.ImageIndex(d.Digest)
		if err != nil {
			return nil, err
		}
		return &Artifact{idx: ii}, nil
	case d.MediaType.IsImage():
		img, err := idx.Image(d.Digest)
		if err != nil {
			return nil, err
		}
		return &Artifact{img: img}, nil
	}
	return nil, fmt.Errorf("unsupported media type %s", d.MediaType)
}

// layoutEntry matches the files an OCI layout consists of; anything else in
// an archive (e.g. a docker manifest.json) is ignored.
var layoutEntry = regexp.MustCompile(`^(oci-layout|index\.json|blobs/[a-z0-9]+/[a-f0-9]{32,128})$`)

// OpenArchive opens an OCI archive (a tar of an OCI layout, as BuildKit's
// `type=oci` exporter and `buildah push oci-archive:` write) by unpacking
// it into a temporary directory that Close removes. ref picks the entry as
// in OpenLayout. A docker-save tarball (manifest.json, no index.json) is
// read as well; there ref is a "repo:tag" it lists, "" for the only one.
func OpenArchive(file, ref string) (*Artifact, error) {
	dir, err := os.MkdirTemp("", "runner-oci-")
	if err != nil {
		return nil, err
	}
	cleanup := func() error { return os.RemoveAll(dir) }
	docker, err := untarLayout(file, dir)
	if err != nil {
		cleanup()
		return nil, fmt.Errorf("oci archive %s: %w", file, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "index.json")); err != nil && docker {
		cleanup()
		return openDockerArchive(file, ref)
	}
	p, err := layout.FromPath(dir)
	if err != nil {
		cleanup()
		return nil, fmt.Errorf("oci archive %s: not an OCI layout: %w", file, err)
	}
	a, err := openLayout(p, ref)
	if err != nil {
		cleanup()
		return nil, fmt.Errorf("oci archive %s: %w", file, err)
	}
	a.cleanup = cleanup
	a.Source = file
	return a, nil
}

func openDockerArchive(file, ref string) (*Artifact, error) {
	var tag *name.Tag
	if ref != "" {
		t, err := name.NewTag(ref)
		if err != nil {
			return nil, fmt.Errorf("docker archive %s: %w", file, err)
		}
		tag = &t
	}
	img, err := tarball.ImageFromPath(file, tag)
	if err != nil {
		return nil, fmt.Errorf("docker archive %s: %w", file, err)
	}
	return &Artifact{img: img, Source: file}, nil
}

// untarLayout unpacks only the layout's own files (regular files with
// fixed, clean names), so a hostile archive cannot write elsewhere. It
// reports whether the tar has a docker-save manifest.json.
func untarLayout(file, dir string) (docker bool, err error) {
	f, err := os.Open(file)
	if err != nil {
		return false, err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return docker, nil
		}
		if err != nil {
			return false, fmt.Errorf("read tar: %w", err)
		}
		n := path.Clean(strings.TrimPrefix(h.Name, "./"))
		if n == "manifest.json" {
			docker = true
		}
		if h.Typeflag != tar.TypeReg || !layoutEntry.MatchString(n) {
			continue
		}
		dst := filepath.Join(dir, filepath.FromSlash(n))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return false, err
		}
		out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
		if err != nil {
			return false, err
		}
		_, err = io.Copy(out, tr)
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return false, fmt.Errorf("unpack %s: %w", n, err)
		}
	}
}

// WriteLayout adds a to the OCI layout in dir (created if missing) under
// the ref-name refName, replacing an entry of that name.
func WriteLayout(dir string, a *Artifact, refName string) error {
	p, err := layout.FromPath(dir)
	if err != nil {
		if p, err = layout.Write(dir, empty.Index); err != nil {
			return fmt.Errorf("oci layout %s: %w", dir, err)
		}
	}
	var opts []layout.Option
	m := match.Annotation(AnnotationRefName, refName)
	if refName != "" {
		opts = append(opts, layout.WithAnnotations(map[string]string{AnnotationRefName: refName}))
	} else {
		m = func(v1.Descriptor) bool { return false }
	}
	if a.idx != nil {
		err = p.ReplaceIndex(a.idx, m, opts...)
	} else {
		err = p.ReplaceImage(a.img, m, opts...)
	}
	if err != nil {
		return fmt.Errorf("oci layout %s: %w", dir, err)
	}
	return nil
}

// WriteArchive writes a as an OCI archive to file, named refName in its
// index.json. The file appears complete or not at all.
func WriteArchive(file string, a *Artifact, refName string) error {
	dir, err := os.MkdirTemp("", "runner-oci-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := WriteLayout(dir, a, refName); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(file), ".oci-archive-*")
	if err != nil {
		return err
	}
	err = tarDir(tmp, dir)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), file)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("oci archive %s: %w", file, err)
	}
	return nil
}

// tarDir writes dir's regular files as a tar with sorted names and zero
// times, so the same layout gives the same bytes.
func tarDir(w io.Writer, dir string) error {
	var files []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			rel, _ := filepath.Rel(dir, p)
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		return err
	}
	sort.Strings(files)
	tw := tar.NewWriter(w)
	for _, rel := range files {
		if err := addFile(tw, filepath.Join(dir, rel), rel); err != nil {
			return err
		}
	}
	return tw.Close()
}

func addFile(tw *tar.Writer, src, name string) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: fi.Size(), Typeflag: tar.TypeReg, Format: tar.FormatPAX}); err != nil {
		return err
	}
	_, err = io.Copy(tw, f)
	return err
}
