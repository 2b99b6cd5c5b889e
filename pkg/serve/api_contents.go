package serve

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"path"

	"github.com/go-git/go-git/v5/plumbing/object"
)

// handleContents is GitHub's GET /repos/{owner}/{repo}/contents/{path}
// for a file (what `gh workflow view --yaml` reads): the file at ref
// (default: the repository's branch) from the git tree, base64. Folders
// and links are 404: only files are served.
func (s *Server) handleContents(w http.ResponseWriter, r *http.Request) {
	rp := s.repoOf(w, r)
	if rp == nil {
		return
	}
	g, err := rp.open(false)
	if err != nil {
		errorStatus(w, err)
		return
	}
	ref := r.URL.Query().Get("ref")
	if ref == "" {
		ref = rp.branch(g)
	}
	_, hash, err := resolve(g, ref)
	if err != nil {
		apiError(w, http.StatusNotFound, fmt.Sprintf("No commit found for the ref %s", ref))
		return
	}
	p := path.Clean("/" + r.PathValue("path"))[1:]
	c, err := g.CommitObject(hash)
	if err != nil {
		errorStatus(w, err)
		return
	}
	f, err := c.File(p)
	if errors.Is(err, object.ErrFileNotFound) || (err == nil && !f.Mode.IsFile()) || p == "" {
		apiError(w, http.StatusNotFound, "Not Found")
		return
	}
	if err != nil {
		errorStatus(w, err)
		return
	}
	data, err := f.Contents()
	if err != nil {
		errorStatus(w, err)
		return
	}
	u := s.urlsFor(r)
	api := fmt.Sprintf("%s/contents/%s?ref=%s", u.repoAPI(rp.name), p, ref)
	git := fmt.Sprintf("%s/git/blobs/%s", u.repoAPI(rp.name), f.Hash)
	html := fmt.Sprintf("%s/%s/blob/%s/%s", u.html, rp.name, ref, p)
	writeJSON(w, http.StatusOK, map[string]any{
		"type": "file", "encoding": "base64", "size": len(data), "name": path.Base(p), "path": p,
		"content": base64.StdEncoding.EncodeToString([]byte(data)), "sha": f.Hash.String(),
		"url": api, "git_url": git, "html_url": html, "download_url": nil,
		"_links": map[string]any{"self": api, "git": git, "html": html},
	})
}
