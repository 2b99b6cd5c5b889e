package yamllint

import (
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
func FindFiles(paths []string, conf *Config) ([]string, error) {
	var out []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil || !st.IsDir() {
			out = append(out, p)
			continue
		}
		if err := walk(p, conf, &out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// walk mirrors os.walk: a directory's files first, then its subdirectories.
func walk(dir string, conf *Config, out *[]string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("walk %s: %w", dir, err)
	}
	var dirs []string
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	for _, name := range names {
		p := filepath.Join(dir, name)
		if dir == "." {
			p = "./" + name // os.path.join('.', f)
		} else if !strings.HasSuffix(dir, "/") {
			p = dir + "/" + name
		} else {
			p = dir + name
		}
		st, err := os.Stat(p)
		if err == nil && st.IsDir() {
			dirs = append(dirs, p)
			continue
		}
		if conf.IsYAMLFile(p) {
			*out = append(*out, p)
		}
	}
	for _, d := range dirs {
		if err := walk(d, conf, out); err != nil {
			return err
		}
	}
	return nil
}

// LintFile reads and lints one file. The path used for `ignore` matching
// drops a leading "./", as yamllint does.
func LintFile(path string, conf *Config) ([]Problem, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("%s: file larger than %d bytes", path, MaxFileSize)
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
}

// LintPaths lints every file FindFiles yields and prints the problems to
// w. It returns the highest level seen (0, 1 warning, 2 error). A file
// that cannot be read or decoded is reported on errw and counts as an
// error; linting goes on with the next file.
func LintPaths(w, errw io.Writer, paths []string, conf *Config, opts RunOptions) (int, error) {
	files, err := FindFiles(paths, conf)
	if err != nil {
		return 0, err
	}
	maxLevel := 0
	for _, file := range files {
		problems, err := LintFile(file, conf)
		if err != nil {
			fmt.Fprintln(errw, err)
			maxLevel = 2
			continue
		}
		lvl, err := WriteProblems(w, problems, file, opts.Format, opts.NoWarnings)
		if err != nil {
			return maxLevel, err
		}
		maxLevel = max(maxLevel, lvl)
	}
	return maxLevel, nil
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
