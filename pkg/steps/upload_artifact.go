package steps

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/bmatcuk/doublestar/v4"
)

// UploadArtifact stores files as a named artifact shared by the jobs of one
// run, like actions/upload-artifact. Paths inside the artifact are relative
// to the least common ancestor of the matched files, as GitHub does.
type UploadArtifact struct{}

func (UploadArtifact) Spec() Spec {
	return Spec{
		Name:        "upload-artifact",
		Aliases:     []string{"actions/upload-artifact"},
		Description: "Store files as a named artifact of this run.",
		Inputs: []Input{
			{Name: "name", Default: "artifact", Description: "artifact name"},
			{Name: "path", Required: true, Description: "files, directories or globs, one per line; !pattern excludes"},
			{Name: "if-no-files-found", Default: "warn", Description: "warn, error or ignore"},
			{Name: "overwrite", Default: "false", Description: "replace an artifact of the same name"},
			{Name: "include-hidden-files", Default: "false"},
			{Name: "retention-days", Description: "accepted; artifacts live as long as the run record"},
			{Name: "compression-level", Description: "accepted; artifacts are stored uncompressed"},
		},
		Outputs: []string{"artifact-id", "artifact-digest"},
	}
}

func (UploadArtifact) Run(ctx context.Context, s *Context) error {
	name := s.Input("name")
	if err := checkArtifactName(name); err != nil {
		return err
	}
	hidden := s.Input("include-hidden-files") == "true"
	var include, exclude []string
	for _, p := range lines(s.Input("path")) {
		if strings.HasPrefix(p, "!") {
			exclude = append(exclude, s.resolve(strings.TrimPrefix(p, "!")))
		} else {
			include = append(include, s.resolve(p))
		}
	}
	files := map[string]bool{}
	var roots []string
	for _, p := range include {
		matches, err := doublestar.FilepathGlob(p)
		if err != nil {
			return fmt.Errorf("path %q: %w", p, err)
		}
		for _, m := range matches {
			roots = append(roots, m)
			if err := walkFiles(m, hidden, files, map[[2]uint64]bool{}); err != nil {
				return err
			}
		}
	}
	for f := range files {
		for _, e := range exclude {
			if ok, _ := doublestar.PathMatch(e, f); ok {
				delete(files, f)
			}
		}
	}
	if len(files) == 0 {
		msg := fmt.Sprintf("no files were found with the provided path: %s", strings.Join(lines(s.Input("path")), ", "))
		switch s.Input("if-no-files-found") {
		case "error":
			return fmt.Errorf("%s; no artifact will be uploaded", msg)
		case "ignore":
		default:
			s.Logf("Warning: %s. No artifacts will be uploaded.", msg)
		}
		return nil
	}
	list := make([]string, 0, len(files))
	for f := range files {
		list = append(list, f)
	}
	sort.Strings(list)
	root := commonRoot(roots, list)

	dst := filepath.Join(s.Run.ArtifactsDir, name)
	if _, err := os.Stat(dst); err == nil && s.Input("overwrite") != "true" {
		return fmt.Errorf("an artifact named %q already exists in this run; set overwrite: true to replace it", name)
	}
	if err := os.MkdirAll(s.Run.ArtifactsDir, 0o755); err != nil {
		return fmt.Errorf("artifact %q: %w", name, err)
	}
	// Build the artifact beside its final place, then rename: a failed
	// upload leaves nothing half-written for download-artifact to find.
	tmp, err := os.MkdirTemp(s.Run.ArtifactsDir, ".upload-"+name+"-")
	if err != nil {
		return fmt.Errorf("artifact %q: %w", name, err)
	}
	defer os.RemoveAll(tmp)
	digest := sha256.New()
	var size int64
	for _, f := range list {
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, err := filepath.Rel(root, f)
		if err != nil {
			return fmt.Errorf("artifact %q: %w", name, err)
		}
		// The digest covers each file's path and the very bytes stored.
		io.WriteString(digest, rel+"\x00")
		n, err := copyFileTo(f, filepath.Join(tmp, rel), digest)
		if err != nil {
			return fmt.Errorf("artifact %q: %w", name, err)
		}
		size += n
	}
	if err := os.RemoveAll(dst); err != nil {
		return fmt.Errorf("artifact %q: replace: %w", name, err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		return fmt.Errorf("artifact %q: %w", name, err)
	}
	sum := hex.EncodeToString(digest.Sum(nil))
	s.Logf("Uploaded artifact %q: %d files, %d bytes, sha256:%s", name, len(list), size, sum)
	s.SetOutput("artifact-id", name)
	s.SetOutput("artifact-digest", sum)
	return nil
}

// checkArtifactName refuses names that are not one plain path element
// (upload and download check the same way).
func checkArtifactName(name string) error {
	if name == "" || strings.ContainsAny(name, `/\:"<>|*?`+"\x00\r\n") || name == "." || name == ".." {
		return fmt.Errorf("invalid artifact name %q", name)
	}
	return nil
}

// walkFiles adds the files under m to files, following symbolic links as
// GitHub's upload-artifact does: a link to a file counts as that file, a
// link to a directory as its files. seen holds the directories entered
// through links (device, inode), so that a link to an ancestor ends.
func walkFiles(m string, hidden bool, files map[string]bool, seen map[[2]uint64]bool) error {
	return filepath.WalkDir(m, func(f string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !hidden && f != m && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Type()&os.ModeSymlink != 0 {
			st, err := os.Stat(f)
			if err != nil {
				return fmt.Errorf("%s: %w", f, err)
			}
			if st.IsDir() {
				id := fileID(st)
				if seen[id] {
					return nil
				}
				seen[id] = true
				// The trailing separator makes WalkDir enter the link.
				return walkFiles(f+string(filepath.Separator), hidden, files, seen)
			}
		}
		if !d.IsDir() {
			files[filepath.Clean(f)] = true
		}
		return nil
	})
}

func fileID(st os.FileInfo) [2]uint64 {
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		return [2]uint64{uint64(sys.Dev), sys.Ino}
	}
	return [2]uint64{}
}

// commonRoot is the least common ancestor directory of the search results;
// a single matched file keeps just its base name.
func commonRoot(roots, files []string) string {
	dirs := make([]string, 0, len(roots))
	for _, r := range roots {
		if st, err := os.Stat(r); err == nil && st.IsDir() {
			dirs = append(dirs, r)
		} else {
			dirs = append(dirs, filepath.Dir(r))
		}
	}
	if len(dirs) == 0 {
		return filepath.Dir(files[0])
	}
	root := dirs[0]
	for _, d := range dirs[1:] {
		for !strings.HasPrefix(d+string(filepath.Separator), root+string(filepath.Separator)) && root != "/" {
			root = filepath.Dir(root)
		}
	}
	return root
}
