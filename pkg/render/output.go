package render

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
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
	outs := make([][]byte, len(jobs))
	seen := map[string]string{}
	for i, j := range jobs {
		abs, err := filepath.Abs(j.Output)
		if err != nil {
			return nil, err
		}
		if prev, dup := seen[abs]; dup {
			return nil, fmt.Errorf("templates %s and %s both render to %s", prev, j.Template, j.Output)
		}
		seen[abs] = j.Template
		var b bytes.Buffer
		if err := e.Render(&b, j.Template, vars); err != nil {
			return nil, err
		}
		outs[i] = b.Bytes()
	}

	var temps []string
	cleanup := func() {
		for _, t := range temps {
			os.Remove(t)
		}
	}
	for i, j := range jobs {
		dir := filepath.Dir(j.Output)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			cleanup()
			return nil, fmt.Errorf("output folder: %w", err)
		}
		tmp, err := writeTemp(dir, outs[i])
		if err != nil {
			cleanup()
			return nil, fmt.Errorf("write %s: %w", j.Output, err)
		}
		temps = append(temps, tmp)
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
	f, err := os.CreateTemp(dir, ".render-*.tmp")
	if err != nil {
		return "", err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(f.Name())
		return "", err
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		os.Remove(f.Name())
		return "", err
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}
