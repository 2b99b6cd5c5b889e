package render

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/nikolalohinski/gonja/v2/loaders"
)

// rootLoader resolves every template name against one root, like Jinja2's
// FileSystemLoader: gonja's own loader resolves includes relative to the
// including file. Each Inherit (one per include/extends/import level) adds
// one to depth, which bounds self-including templates.
type rootLoader struct {
	root     string
	depth    int
	maxDepth int
	maxBytes int64
}

var _ loaders.Loader = (*rootLoader)(nil)

func (l *rootLoader) Resolve(name string) (string, error) {
	if filepath.IsAbs(name) {
		return filepath.Clean(name), nil
	}
	return filepath.Join(l.root, name), nil
}

func (l *rootLoader) Read(name string) (io.Reader, error) {
	if l.depth > l.maxDepth {
		return nil, fmt.Errorf("%w (more than %d levels of include/extends/import; does %s include itself?)",
			ErrRecursion, l.maxDepth, l.rel(name))
	}
	path, err := l.Resolve(name)
	if err != nil {
		return nil, err
	}
	src, err := readTemplate(path, l.maxBytes)
	if err != nil {
		return nil, err
	}
	return bytes.NewReader(src), nil
}

func (l *rootLoader) Inherit(string) (loaders.Loader, error) {
	c := *l
	c.depth++
	return &c, nil
}

// rel names path relative to the root when it lies inside it.
func (l *rootLoader) rel(name string) string {
	if !filepath.IsAbs(name) {
		return name
	}
	if r, err := filepath.Rel(l.root, name); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return name
}

// readTemplate reads a template file, refusing files larger than maxBytes
// and text that is not UTF-8 (Jinja2 fails on those too).
func readTemplate(path string, maxBytes int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("template not found: %w", err)
	}
	defer f.Close()
	src, err := io.ReadAll(io.LimitReader(f, maxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read template: %w", err)
	}
	if int64(len(src)) > maxBytes {
		return nil, &Error{File: path, Msg: fmt.Sprintf("template is larger than %d bytes", maxBytes), Err: ErrTooLarge}
	}
	if !utf8.Valid(src) {
		line, col := invalidUTF8Pos(src)
		return nil, &Error{File: path, Line: line, Col: col, Msg: "template is not valid UTF-8 text", Err: ErrBinary}
	}
	return src, nil
}

// invalidUTF8Pos returns the 1-based line and column of the first invalid byte.
func invalidUTF8Pos(src []byte) (line, col int) {
	line, col = 1, 1
	for len(src) > 0 {
		r, size := utf8.DecodeRune(src)
		if r == utf8.RuneError && size <= 1 {
			return line, col
		}
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
		src = src[size:]
	}
	return line, col
}
