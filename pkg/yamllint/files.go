package yamllint

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// MaxFileSize bounds what LintFile reads; larger files are an error.
const MaxFileSize = 64 << 20

// FindFiles expands paths as yamllint does: directories are walked (in
// sorted order, where yamllint uses the directory's own order) keeping the
// files `yaml-files` matches; other paths are kept as given.
// Relative paths resolve against dir ("" for the working directory) and
// are returned as given.
func FindFiles(dir string, paths []string, conf *Config) ([]string, error) {
	var out []string
	for _, p := range paths {
		st, err := os.Stat(resolve(dir, p))
		if err != nil || !st.IsDir() {
			out = append(out, p)
			continue
		}
		if err := walk(dir, p, conf, &out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// walk mirrors os.walk: a directory's files first, then its subdirectories.
func walk(base, dir string, conf *Config, out *[]string) error {
	entries, err := os.ReadDir(resolve(base, dir))
	if err != nil {
		return nil // os.walk skips directories it cannot list
	}
	var dirs []string
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	for _, e := range entries {
		p := dir + "/" + e.Name() // os.path.join keeps "./"
		if strings.HasSuffix(dir, "/") {
			p = dir + e.Name()
		}
		st, err := os.Stat(resolve(base, p))
		if err == nil && st.IsDir() {
			// like os.walk: symbolic links to directories are not followed
			if e.Type()&os.ModeSymlink == 0 {
				dirs = append(dirs, p)
			}
			continue
		}
		if conf.IsYAMLFile(p) {
			*out = append(*out, p)
		}
	}
	for _, d := range dirs {
		if err := walk(base, d, conf, out); err != nil {
			return err
		}
	}
	return nil
}

// LintFile reads and lints one file. The path used for `ignore` matching
// drops a leading "./", as yamllint does.
// Relative paths resolve against dir ("" for the working directory).
func LintFile(dir, path string, conf *Config) ([]Problem, error) {
	f, err := os.Open(resolve(dir, path))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("%s: larger than %d bytes: %w", path, MaxFileSize, ErrNotText)
	}
	rel := strings.TrimPrefix(path, "./")
	if conf.IsFileIgnored(rel) {
		return nil, nil
	}
	text, err := Decode(data)
	if err != nil {
		return nil, fmt.Errorf("%s:%w", path, err)
	}
	return Lint(text, conf, rel), nil
}

// RunOptions are the output options of LintPaths.
type RunOptions struct {
	Format     string // a resolved format (not "auto"); "" means standard
	NoWarnings bool   // hide warnings (they still count)
	Dir        string // base of relative paths; "" is the working directory
}

func resolve(dir, p string) string {
	if dir == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}

// Summary counts what LintPaths found.
type Summary struct {
	Files    int // files linted
	Errors   int // error-level problems (and unreadable files)
	Warnings int // warning-level problems
	MaxLevel int // 0 none, 1 warning, 2 error
}

// LintPaths lints every file FindFiles yields and prints the problems to
// w as yamllint does. A file that is not YAML text (binary, too large) is
// reported on errw and counts as an error, and linting goes on; a file
// that cannot be opened stops the run with an error, as in yamllint.
// Cancelling ctx stops it between files.
func LintPaths(ctx context.Context, w, errw io.Writer, paths []string, conf *Config, opts RunOptions) (Summary, error) {
	var sum Summary
	files, err := FindFiles(opts.Dir, paths, conf)
	if err != nil {
		return sum, err
	}
	for _, file := range files {
		if err := ctx.Err(); err != nil {
			return sum, err
		}
		sum.Files++
		problems, err := LintFile(opts.Dir, file, conf)
		if err != nil && !errors.Is(err, ErrNotText) {
			return sum, err
		}
		if err != nil {
			fmt.Fprintln(errw, err)
			sum.Errors++
			sum.MaxLevel = 2
			continue
		}
		for _, p := range problems {
			if p.Level == "error" {
				sum.Errors++
			} else {
				sum.Warnings++
			}
		}
		lvl, err := WriteProblems(w, problems, file, opts.Format, opts.NoWarnings)
		if err != nil {
			return sum, err
		}
		sum.MaxLevel = max(sum.MaxLevel, lvl)
	}
	return sum, nil
}

// ExitCode is yamllint's exit status for the highest level seen.
func ExitCode(maxLevel int, strict bool) int {
	switch {
	case maxLevel >= 2:
		return 1
	case maxLevel == 1 && strict:
		return 2
	}
	return 0
}
