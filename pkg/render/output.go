package render

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
)

// Job is one template rendered into one file.
type Job struct {
	Template string // name, resolved like Render's
	Output   string // file path
}

// FilesOptions say what RenderFiles does around the writes.
type FilesOptions struct {
	// Clean lists folders whose *.yaml files are removed (except the ones
	// being written) once every template rendered. Default: none.
	Clean []string
}

// RenderFiles renders every job with vars and only then writes the
// results: temp files in each output's folder, renamed into place at the
// end. If any template fails, no output file or folder changes and the
// error names the template file, line and column.
func (e *Engine) RenderFiles(jobs []Job, vars map[string]any, opts FilesOptions) ([]string, error) {
	seen := map[string]string{}
	dirs := map[string]bool{}
	for _, j := range jobs {
		abs, err := filepath.Abs(j.Output)
		if err != nil {
			return nil, err
		}
		if prev, dup := seen[abs]; dup {
			return nil, fmt.Errorf("templates %s and %s both render to %s", prev, j.Template, j.Output)
		}
		seen[abs] = j.Template
		dirs[filepath.Dir(j.Output)] = true
	}
	outs := make([][]byte, len(jobs))
	if err := parallel(len(jobs), func(i int) error {
		var b bytes.Buffer
		if err := e.Render(&b, jobs[i].Template, vars); err != nil {
			return err
		}
		outs[i] = b.Bytes()
		return nil
	}); err != nil {
		return nil, err
	}

	temps := make([]string, len(jobs))
	cleanup := func() {
		for _, t := range temps {
			if t != "" {
				os.Remove(t)
			}
		}
	}
	for dir := range dirs {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("output folder: %w", err)
		}
	}
	if err := parallel(len(jobs), func(i int) error {
		tmp, err := writeTemp(filepath.Dir(jobs[i].Output), outs[i])
		if err != nil {
			return fmt.Errorf("write %s: %w", jobs[i].Output, err)
		}
		temps[i] = tmp
		return nil
	}); err != nil {
		cleanup()
		return nil, err
	}
	for _, dir := range opts.Clean {
		stale, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
		if err != nil {
			cleanup()
			return nil, err
		}
		for _, f := range stale {
			abs, _ := filepath.Abs(f)
			if _, keep := seen[abs]; keep {
				continue
			}
			if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
				cleanup()
				return nil, fmt.Errorf("clean %s: %w", f, err)
			}
		}
	}
	written := make([]string, len(jobs))
	for i, j := range jobs {
		if err := os.Rename(temps[i], j.Output); err != nil {
			cleanup()
			return nil, fmt.Errorf("write %s: %w", j.Output, err)
		}
		written[i] = j.Output
	}
	return written, nil
}

// parallel runs fn(0..n-1) on GOMAXPROCS workers and returns the error of
// the lowest index that failed, so the report does not depend on timing.
func parallel(n int, fn func(i int) error) error {
	errs := make([]error, n)
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(n, runtime.GOMAXPROCS(0)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				errs[i] = fn(i)
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// WriteFileAtomic replaces path with data through a temp file and rename,
// so readers never see a half-written file.
func WriteFileAtomic(path string, data []byte) error {
	tmp, err := writeTemp(filepath.Dir(path), data)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

func writeTemp(dir string, data []byte) (string, error) {
	// OpenFile with the final mode instead of CreateTemp + Chmod: one
	// syscall less per file, which shows on 1,000 manifests.
	for range 100 {
		name := filepath.Join(dir, ".render-"+strconv.FormatUint(rand.Uint64(), 36)+".tmp")
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if errors.Is(err, os.ErrExist) {
			continue
		}
		if err != nil {
			return "", err
		}
		if _, err := f.Write(data); err != nil {
			f.Close()
			os.Remove(name)
			return "", err
		}
		if err := f.Close(); err != nil {
			os.Remove(name)
			return "", err
		}
		return name, nil
	}
	return "", errors.New("cannot create a temp file in " + dir)
}
