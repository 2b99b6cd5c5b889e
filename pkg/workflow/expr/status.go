package expr

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// StatusFuncs implements success, always, failure and cancelled for a
// step or job condition: failed says whether an earlier step (or a needed
// job) failed, cancelled whether the run is being cancelled. success() is
// !failed && !cancelled, failure() is failed && !cancelled, cancelled()
// is cancelled, always() is true.
func StatusFuncs(failed, cancelled bool) map[string]Func {
	constant := func(b bool) Func { return func([]any) (any, error) { return b, nil } }
	return map[string]Func{
		"success":   constant(!failed && !cancelled),
		"failure":   constant(failed && !cancelled),
		"cancelled": constant(cancelled),
		"always":    constant(true),
	}
}

// HashFiles implements hashFiles(pattern...) over the files below root
// (GitHub uses the workspace): patterns are globs relative to root with
// *, ?, [...] and ** (dot files included), a leading ! excludes, the last
// matching pattern decides, and a pattern matching a directory matches
// everything below it. The result is the hex SHA-256 of the SHA-256
// digests of the matched files in path order, or "" when none match.
func HashFiles(root string) Func {
	return func(args []any) (any, error) {
		var pats []globPattern
		for _, a := range args {
			for _, line := range strings.Split(toString(Normalize(a)), "\n") {
				line = strings.TrimSpace(line)
				if line == "" || strings.HasPrefix(line, "#") {
					continue
				}
				neg := false
				for strings.HasPrefix(line, "!") {
					neg = !neg
					line = strings.TrimSpace(line[1:])
				}
				line = filepath.ToSlash(line)
				if path.IsAbs(line) {
					rel, err := filepath.Rel(root, filepath.FromSlash(line))
					if err != nil || strings.HasPrefix(rel, "..") {
						continue // outside the workspace: GitHub ignores it
					}
					line = filepath.ToSlash(rel)
				}
				line = strings.TrimPrefix(path.Clean(line), "./")
				pats = append(pats, globPattern{neg: neg, segs: strings.Split(line, "/")})
			}
		}
		total := sha256.New()
		n := 0
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				return nil
			}
			if !d.Type().IsRegular() {
				st, err := os.Stat(p) // follow symlinks, as GitHub does
				if err != nil || !st.Mode().IsRegular() {
					return nil
				}
			}
			rel, err := filepath.Rel(root, p)
			if err != nil {
				return err
			}
			if !globMatch(pats, strings.Split(filepath.ToSlash(rel), "/")) {
				return nil
			}
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			h := sha256.New()
			_, err = io.Copy(h, f)
			f.Close()
			if err != nil {
				return err
			}
			total.Write(h.Sum(nil))
			n++
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("hashFiles: %w", err)
		}
		if n == 0 {
			return "", nil
		}
		return hex.EncodeToString(total.Sum(nil)), nil
	}
}

type globPattern struct {
	neg  bool
	segs []string
}

// globMatch applies the patterns in order; the last one that matches the
// file (or one of its directories) decides.
func globMatch(pats []globPattern, file []string) bool {
	in := false
	for _, p := range pats {
		if p.neg == !in {
			continue // cannot change the outcome
		}
		for k := len(file); k >= 1; k-- {
			if matchSegs(p.segs, file[:k]) {
				in = !p.neg
				break
			}
		}
	}
	return in
}

func matchSegs(pat, name []string) bool {
	for len(pat) > 0 {
		if pat[0] == "**" {
			for i := 0; i <= len(name); i++ {
				if matchSegs(pat[1:], name[i:]) {
					return true
				}
			}
			return false
		}
		if len(name) == 0 {
			return false
		}
		if ok, err := path.Match(pat[0], name[0]); err != nil || !ok {
			return false
		}
		pat, name = pat[1:], name[1:]
	}
	return len(name) == 0
}
