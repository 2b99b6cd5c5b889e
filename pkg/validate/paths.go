package validate

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
)

// manifestExt reports whether a file found in a directory is a manifest.
func manifestExt(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}

// ValidatePaths validates files, directories (walked recursively for
// *.yaml, *.yml and *.json) and glob patterns. Paths that match nothing are
// reported as problems. Files are checked in parallel; the result keeps the
// order of the arguments and of the directory walk. When ctx ends, files
// not yet started are left out and ctx's error is returned with the partial
// result; otherwise the error is nil (problems are in the Result).
func (v *Validator) ValidatePaths(ctx context.Context, paths []string) (Result, error) {
	var res Result
	var files []string
	for _, p := range paths {
		found, prob := expand(p)
		if prob != "" {
			res.Problems = append(res.Problems, Problem{File: p, Message: prob})
			continue
		}
		files = append(files, found...)
	}
	results := make([]Result, len(files))
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < min(runtime.GOMAXPROCS(0), len(files)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if ctx.Err() == nil {
					results[i] = v.ValidateFile(files[i])
				}
			}
		}()
	}
	for i := range files {
		next <- i
	}
	close(next)
	wg.Wait()
	for _, r := range results {
		res.Add(r)
	}
	return res, ctx.Err()
}

// ValidateFile validates one file; a file that cannot be read is a problem.
func (v *Validator) ValidateFile(path string) Result {
	f, err := os.Open(path)
	if err != nil {
		return fileProblem(path, fmt.Sprintf("cannot read: %v", unwrapPathError(err)))
	}
	defer f.Close()
	return v.ValidateReader(path, f)
}

// expand resolves one argument into files, or says why it matched none.
func expand(p string) ([]string, string) {
	if strings.ContainsAny(p, "*?[") {
		matches, err := filepath.Glob(p)
		if err != nil {
			return nil, fmt.Sprintf("bad pattern: %v", err)
		}
		var out []string
		for _, m := range matches {
			sub, _ := expand(m)
			out = append(out, sub...)
		}
		if len(out) == 0 {
			return nil, "no file matches"
		}
		return out, ""
	}
	st, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Sprintf("cannot read: %v", unwrapPathError(err))
	}
	if !st.IsDir() {
		return []string{p}, ""
	}
	var out []string
	err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && manifestExt(path) {
			out = append(out, path)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Sprintf("cannot read: %v", unwrapPathError(err))
	}
	if len(out) == 0 {
		return nil, "no manifest (*.yaml, *.yml, *.json) in directory"
	}
	return out, ""
}

// unwrapPathError drops the path from an *fs.PathError: the problem already
// names the file.
func unwrapPathError(err error) error {
	if pe, ok := err.(*fs.PathError); ok {
		return pe.Err
	}
	return err
}
