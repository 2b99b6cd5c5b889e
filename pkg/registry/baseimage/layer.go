package baseimage

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// entry is one file system object of a layer.
type entry struct {
	typ  byte // tar.TypeDir, TypeReg, TypeSymlink
	mode int64
	data []byte
	link string
	uid  int
	gid  int
}

// fsTree collects a layer's entries by absolute path; parents are added
// as 0755 directories when the layer is written.
type fsTree map[string]*entry

func (t fsTree) dir(p string, mode int64) { t[clean(p)] = &entry{typ: tar.TypeDir, mode: mode} }

func (t fsTree) file(p string, mode int64, data []byte) {
	t[clean(p)] = &entry{typ: tar.TypeReg, mode: mode, data: data}
}

func (t fsTree) symlink(p, target string) {
	t[clean(p)] = &entry{typ: tar.TypeSymlink, mode: 0o777, link: target}
}

func clean(p string) string { return strings.TrimPrefix(path.Clean("/"+p), "/") }

// layer writes the tree as a tar with sorted names, root ownership and one
// fixed time, so equal inputs give equal digests.
func (t fsTree) layer(mtime time.Time) (v1.Layer, error) {
	all := map[string]*entry{}
	for p, e := range t {
		all[p] = e
		for d := path.Dir(p); d != "." && d != "/"; d = path.Dir(d) {
			if _, ok := t[d]; !ok {
				all[d] = &entry{typ: tar.TypeDir, mode: 0o755}
			}
		}
	}
	names := make([]string, 0, len(all))
	for p := range all {
		names = append(names, p)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, p := range names {
		e := all[p]
		h := &tar.Header{
			Typeflag: e.typ, Name: p, Linkname: e.link, Mode: e.mode,
			Uid: e.uid, Gid: e.gid, ModTime: mtime, Format: tar.FormatPAX,
		}
		if e.typ == tar.TypeDir {
			h.Name += "/"
		}
		if e.typ == tar.TypeReg {
			h.Size = int64(len(e.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("layer %s: %w", p, err)
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, fmt.Errorf("layer %s: %w", p, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(b)), nil
	}, tarball.WithMediaType(types.OCILayer))
}
