package ondisk

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestRoute(t *testing.T) {
	for _, tc := range []struct{ path, kind, repo, ref string }{
		{"/v2/_catalog", "catalog", "", ""},
		{"/v2/library/alpine/manifests/latest", "manifests", "library/alpine", "latest"},
		{"/v2/a/b/c/manifests/sha256:abc", "manifests", "a/b/c", "sha256:abc"},
		{"/v2/owner/app/tags/list", "tags", "owner/app", ""},
		{"/v2/owner/app/blobs/sha256:abc", "", "", ""},
		{"/v2/", "", "", ""},
		{"/other/x/manifests/y", "", "", ""},
	} {
		k, r, ref := route(tc.path)
		if k != tc.kind || r != tc.repo || ref != tc.ref {
			t.Errorf("%s: %q %q %q", tc.path, k, r, ref)
		}
	}
}

// Whatever the request path, a name the store accepts stays inside it.
func FuzzNamesStayInside(f *testing.F) {
	for _, s := range []string{"/v2/a/manifests/b", "/v2/../x/manifests/t", "/v2/a/./b/manifests/..", "/v2/a//b/tags/list"} {
		f.Add(s)
	}
	s := &Store{dir: "/store"}
	root := filepath.Join("/store", "repositories") + string(filepath.Separator)
	f.Fuzz(func(t *testing.T, p string) {
		kind, repo, ref := route(p)
		if kind == "" || kind == "catalog" || !repoRE.MatchString(repo) {
			return
		}
		for _, q := range []string{s.repoPath(repo, "_digests", "x"), s.repoPath(repo, "_tags", ref)} {
			if tagRE.MatchString(ref) || strings.HasSuffix(q, "x") {
				if !strings.HasPrefix(filepath.Clean(q), root) {
					t.Fatalf("%q -> %q escapes", p, q)
				}
			}
		}
		if tagRE.MatchString(ref) && (ref == "." || ref == "..") {
			t.Fatalf("tag %q accepted", ref)
		}
	})
}
