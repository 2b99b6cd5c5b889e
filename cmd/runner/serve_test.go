package main

import "testing"

// --repo URLs become mirrored url: repositories, named after their last
// path element; paths stay paths.
func TestRepoFlag(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct{ flag, url, path, name string }{
		{"https://example.com/mona/birds.git", "https://example.com/mona/birds.git", "", "local/birds"},
		{"ssh://git@example.com/mona/birds", "ssh://git@example.com/mona/birds", "", "local/birds"},
		{"git@example.com:mona/birds.git", "git@example.com:mona/birds.git", "", "local/birds"},
		{"git@example.com:birds.git", "git@example.com:birds.git", "", "local/birds"},
		{"file:///srv/birds/", "file:///srv/birds/", "", "local/birds"},
		{dir, "", dir, "local/" + lastElem(dir)},
	} {
		r, err := repoFlag(c.flag)
		if err != nil || r.URL != c.url || r.Path != c.path || r.Name != c.name {
			t.Errorf("repoFlag(%q) = %+v, %v; want url %q path %q name %q", c.flag, r, err, c.url, c.path, c.name)
		}
	}
}

func lastElem(p string) string {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '/' {
			return p[i+1:]
		}
	}
	return p
}
