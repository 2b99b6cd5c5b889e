package serve

import (
	"archive/zip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/birdflock/runner/pkg/serve/store"
)

// artifactRoutes serves GitHub's artifacts API under prefix.
func (s *Server) artifactRoutes(mux *http.ServeMux, prefix string) {
	mux.HandleFunc("GET "+prefix+"/runs/{id}/artifacts", s.read(s.handleArtifacts))
	mux.HandleFunc("GET "+prefix+"/artifacts", s.read(s.handleArtifacts))
	mux.HandleFunc("GET "+prefix+"/artifacts/{artifact}", s.read(s.handleArtifact))
	mux.HandleFunc("GET "+prefix+"/artifacts/{artifact}/{format}", s.read(s.handleArtifactZip))
	mux.HandleFunc("DELETE "+prefix+"/artifacts/{artifact}", s.auth(s.handleDeleteArtifact))
}

// recordArtifacts numbers the artifacts a finished run attempt (id) left in
// its run directory dir: each folder of dir/artifacts is one, as the
// built-in upload-artifact stores them.
func (s *Server) recordArtifacts(id int64, dir string) {
	root := filepath.Join(dir, "artifacts")
	entries, err := os.ReadDir(root)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			s.logf("run %d: artifacts: %v", id, err)
		}
		return
	}
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		a := &store.Artifact{Run: id, Name: e.Name(), Dir: filepath.Join(root, e.Name())}
		filepath.WalkDir(a.Dir, func(_ string, d fs.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() {
				if info, err := d.Info(); err == nil {
					a.Size += info.Size()
				}
			}
			return nil
		})
		if err := s.store.AddArtifact(a); err != nil {
			s.logf("run %d: %v", id, err)
		}
	}
}

// artifactJSON is GitHub's artifact shape. Artifacts live as long as their
// run: expires_at is null.
func (s *Server) artifactJSON(u urls, a *store.Artifact, run *store.Run) map[string]any {
	api := fmt.Sprintf("%s/actions/artifacts/%d", u.repoAPI(run.Repo), a.ID)
	return map[string]any{
		"id": a.ID, "node_id": nodeID("A", a.ID), "name": a.Name, "size_in_bytes": a.Size,
		"url": api, "archive_download_url": api + "/zip", "expired": false, "digest": nil,
		"created_at": timeJSON(a.Created), "updated_at": timeJSON(a.Created), "expires_at": nil,
		"workflow_run": map[string]any{"id": run.RunID, "repository_id": repoID(run.Repo), "head_repository_id": repoID(run.Repo),
			"head_branch": refName(run.Ref), "head_sha": run.SHA},
	}
}

// handleArtifacts lists the artifacts of a repository or of one run (all
// its attempts), newest first, by name= if given, a page at a time.
func (s *Server) handleArtifacts(w http.ResponseWriter, r *http.Request) {
	rp := s.repoOf(w, r)
	if rp == nil {
		return
	}
	f := store.ArtifactFilter{Repo: rp.name, Name: r.URL.Query().Get("name")}
	if r.PathValue("id") != "" {
		run, err := s.runOf(r)
		if err != nil {
			errorStatus(w, err)
			return
		}
		f.RunID = run.RunID
	}
	page := pageOf(r)
	f.Limit, f.Offset = page.size, (page.n-1)*page.size
	arts, total, err := s.store.Artifacts(f)
	if err != nil {
		errorStatus(w, err)
		return
	}
	u := s.urlsFor(r)
	out := []map[string]any{}
	for _, a := range arts {
		run, err := s.store.Run(a.Run)
		if err != nil {
			errorStatus(w, err)
			return
		}
		out = append(out, s.artifactJSON(u, a, run))
	}
	page.link(w, r, u, total)
	writeJSON(w, http.StatusOK, map[string]any{"total_count": total, "artifacts": out})
}

// artifactOf is the artifact a request names with its run attempt, which
// must belong to the repository of the path.
func (s *Server) artifactOf(r *http.Request) (*store.Artifact, *store.Run, error) {
	id, err := pathInt(r, "artifact", "artifact id")
	if err != nil {
		return nil, nil, err
	}
	a, err := s.store.Artifact(id)
	if err != nil {
		return nil, nil, err
	}
	run, err := s.store.Run(a.Run)
	if err != nil {
		return nil, nil, err
	}
	if !strings.EqualFold(run.Repo, r.PathValue("owner")+"/"+r.PathValue("repo")) {
		return nil, nil, fmt.Errorf("artifact %d: %w", id, ErrNotFound)
	}
	return a, run, nil
}

func (s *Server) handleArtifact(w http.ResponseWriter, r *http.Request) {
	a, run, err := s.artifactOf(r)
	if err != nil {
		errorStatus(w, err)
		return
	}
	writeJSON(w, http.StatusOK, s.artifactJSON(s.urlsFor(r), a, run))
}

// handleArtifactZip answers GitHub's way: a redirect to the artifact as a
// zip (?raw=1 here) of its files.
func (s *Server) handleArtifactZip(w http.ResponseWriter, r *http.Request) {
	if r.PathValue("format") != "zip" {
		apiError(w, http.StatusNotFound, fmt.Sprintf("archive format %q: only zip", r.PathValue("format")))
		return
	}
	a, _, err := s.artifactOf(r)
	if err != nil {
		errorStatus(w, err)
		return
	}
	if r.URL.Query().Get("raw") == "" {
		http.Redirect(w, r, s.urlsFor(r).html+r.URL.Path+"?raw=1", http.StatusFound)
		return
	}
	if _, err := os.Stat(a.Dir); err != nil {
		apiError(w, http.StatusGone, fmt.Sprintf("artifact %d: its files are gone", a.ID))
		return
	}
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s.zip"`, logFileName(a.Name)))
	if err := zipDir(w, a.Dir); err != nil {
		s.logf("artifact %d: zip: %v", a.ID, err)
	}
}

// zipDir writes the regular files under dir as a zip, by their paths
// inside it; links are left out, so nothing outside dir is read.
func zipDir(w io.Writer, dir string) error {
	zw := zip.NewWriter(w)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		info, err := f.Stat()
		if err != nil {
			return err
		}
		h, err := zip.FileInfoHeader(info)
		if err != nil {
			return err
		}
		h.Name, h.Method = filepath.ToSlash(rel), zip.Deflate
		fw, err := zw.CreateHeader(h)
		if err != nil {
			return err
		}
		_, err = io.Copy(fw, f)
		return err
	})
	if err != nil {
		return err
	}
	return zw.Close()
}

func (s *Server) handleDeleteArtifact(w http.ResponseWriter, r *http.Request) {
	a, _, err := s.artifactOf(r)
	if err == nil {
		err = s.store.DeleteArtifact(a.ID)
	}
	if err != nil {
		errorStatus(w, err)
		return
	}
	if err := os.RemoveAll(a.Dir); err != nil {
		s.logf("artifact %d: %v", a.ID, err)
	}
	w.WriteHeader(http.StatusNoContent)
}
