package serve

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path"
	"regexp"
	"strconv"

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

// annotationText splits the text of a step's ::error/::warning/::notice
// ("Error: file:line:col: title: message", as pkg/run logs it); the
// message may have more lines (%0A in the workflow command).
var annotationText = regexp.MustCompile(`(?s)^(Error|Warning|Notice): (?:([^\s:]+):(\d+)(?::(\d+))?: )?(.*)$`)

// handleAnnotations is GitHub's GET /repos/{owner}/{repo}/check-runs/{id}/annotations
// for a job (its check run): the ::error, ::warning and ::notice its steps
// wrote (what `gh run view` lists under ANNOTATIONS). An annotation
// without a file is on .github, line 1, as on GitHub.
func (s *Server) handleAnnotations(w http.ResponseWriter, r *http.Request) {
	j, run, err := s.pathJob(r, "check run id")
	if err != nil {
		errorStatus(w, err)
		return
	}
	out := []map[string]any{}
	f, err := os.Open(logPath(s.cfg.State, run.ID))
	if err == nil {
		defer f.Close()
		dec := json.NewDecoder(f)
		for {
			var ev LogEvent
			if dec.Decode(&ev) != nil {
				break
			}
			if ev.Job != j.Key || ev.Kind != "annotation" {
				continue
			}
			m := annotationText.FindStringSubmatch(ev.Text)
			if m == nil {
				continue
			}
			level := map[string]string{"Error": "failure", "Warning": "warning", "Notice": "notice"}[m[1]]
			file, line, col := m[2], 1, any(nil)
			if file == "" {
				file = ".github"
			} else {
				line, _ = strconv.Atoi(m[3])
				if m[4] != "" {
					c, _ := strconv.Atoi(m[4])
					col = c
				}
			}
			out = append(out, map[string]any{"path": file, "start_line": line, "end_line": line, "start_column": col, "end_column": col,
				"annotation_level": level, "title": nil, "message": m[5], "raw_details": nil,
				"blob_href": fmt.Sprintf("%s/%s/blob/%s/%s", s.urlsFor(r).html, run.Repo, run.SHA, file)})
		}
	}
	writeJSON(w, http.StatusOK, out)
}
