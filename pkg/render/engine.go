package render

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/nikolalohinski/gonja/v2/builtins"
	"github.com/nikolalohinski/gonja/v2/config"
	"github.com/nikolalohinski/gonja/v2/exec"
	"github.com/nikolalohinski/gonja/v2/loaders"
	"github.com/nikolalohinski/gonja/v2/logging"
)

// Options configure an Engine. The zero value works.
type Options struct {
	// Root is the folder include, extends and import names resolve against,
	// like jinjanator's working directory. Default: the current directory.
	Root string
	// MaxDepth bounds nested include/extends/import levels and nested macro
	// calls. Default 64 (include) and 512 (macro calls).
	MaxDepth int
	// MaxTemplateBytes refuses larger template files. Default 16 MiB.
	MaxTemplateBytes int64
	// Lenient renders undefined variables as empty text, like jinjanate
	// --undefined. Default false: an undefined variable is an error.
	Lenient bool
	// MaxNesting refuses templates whose blocks or brackets nest deeper.
	// Default 200.
	MaxNesting int
	// MaxIterations bounds the loop iterations of one render, all loops
	// together. Default 1,000,000.
	MaxIterations int
	// MaxOutputBytes stops a render whose output grows past it. Default 256 MiB.
	MaxOutputBytes int64
}

const (
	defaultMaxDepth       = 64
	defaultMaxMacroDepth  = 512
	defaultMaxTemplate    = 16 << 20
	defaultMaxNesting     = 200
	defaultMaxOutputBytes = 256 << 20
	defaultMaxIterations  = 1_000_000
	budgetKey             = "__runner_budget"
)

// Engine renders templates with jinjanator's settings: trailing newline
// kept, undefined variables are errors, extensions do and loopcontrols, no
// autoescape. An Engine is safe for concurrent use.
type Engine struct {
	opts     Options
	maxMacro int
	cfg      *config.Config
	env      *exec.Environment

	// parsed keeps top-level templates by path, checked against the file's
	// current text on every use: rendering one template for many contexts
	// (a data file per environment, the benchmark's 1,000 manifests) then
	// parses it once. Templates that extend another are not kept, since
	// the parent is read at parse time and could change unseen.
	mu     sync.Mutex
	parsed map[string]*template
}

// maxParsed bounds the parse cache; past it the cache starts over.
const maxParsed = 256

// gonja can log through the process-wide logrus logger when its own switch
// is on; turn the switch off once (not logrus itself: other packages use it).
var silenceLogger sync.Once

// New returns an Engine.
func New(opts Options) (*Engine, error) {
	silenceLogger.Do(func() { logging.SetEnabled(false) })
	if opts.Root == "" {
		opts.Root = "."
	}
	root, err := filepath.Abs(opts.Root)
	if err != nil {
		return nil, fmt.Errorf("templates root: %w", err)
	}
	opts.Root = root
	maxMacro := defaultMaxMacroDepth
	if opts.MaxDepth <= 0 {
		opts.MaxDepth = defaultMaxDepth
	} else {
		maxMacro = opts.MaxDepth
	}
	if opts.MaxTemplateBytes <= 0 {
		opts.MaxTemplateBytes = defaultMaxTemplate
	}
	if opts.MaxIterations <= 0 {
		opts.MaxIterations = defaultMaxIterations
	}
	if opts.MaxNesting <= 0 {
		opts.MaxNesting = defaultMaxNesting
	}
	if opts.MaxOutputBytes <= 0 {
		opts.MaxOutputBytes = defaultMaxOutputBytes
	}

	cfg := config.New()
	cfg.KeepTrailingNewline = true
	cfg.StrictUndefined = !opts.Lenient
	cfg.AutoEscape = false

	e := &Engine{opts: opts, maxMacro: maxMacro, cfg: cfg}
	e.env = &exec.Environment{
		Context: exec.EmptyContext().
			Update(builtins.GlobalFunctions).
			Update(builtins.GlobalVariables),
		Filters:           exec.NewFilterSet(map[string]exec.FilterFunction{}).Update(builtins.Filters),
		Tests:             exec.NewTestSet(map[string]exec.TestFunction{}).Update(builtins.Tests),
		ControlStructures: exec.NewControlStructureSet(nil),
		Methods:           builtins.Methods,
	}
	if err := e.installCompat(); err != nil {
		return nil, fmt.Errorf("set up template engine: %w", err)
	}
	return e, nil
}

// Root returns the absolute folder template names resolve against.
func (e *Engine) Root() string { return e.opts.Root }

func (e *Engine) loader() *rootLoader {
	return &rootLoader{root: e.opts.Root, maxDepth: e.opts.MaxDepth, maxBytes: e.opts.MaxTemplateBytes}
}

// budget counts, per render, what the guards bound.
type budget struct {
	calls      int // nested macro calls now
	iterations int // loop iterations so far
}

// budgetOf finds the render's budget in a template context.
func budgetOf(ctx *exec.Context) *budget {
	v, _ := ctx.Get(budgetKey)
	if b, ok := v.(*budget); ok {
		return b
	}
	return &budget{} // a context we did not create: no shared budget
}

// template is a parsed and Jinja2-adjusted template.
type template struct {
	path   string
	source string
	t      *exec.Template
	cols   map[int]int // line -> column of its first tag, for error places
}

// parse reads, parses and rewrites one template through loader l.
func (e *Engine) parse(l loaders.Loader, name string) (*template, error) {
	path, src, err := e.read(l, name)
	if err != nil {
		return nil, err
	}
	return e.compile(l, name, path, src)
}

// parseCached is parse for a top-level template read through the root
// loader: the same text at the same path gives the same parsed template.
func (e *Engine) parseCached(l *rootLoader, name string) (*template, error) {
	path, src, err := e.read(l, name)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	t, ok := e.parsed[path]
	e.mu.Unlock()
	if ok && t.source == string(src) {
		return t, nil
	}
	if t, err = e.compile(l, name, path, src); err != nil {
		return nil, err
	}
	if t.t.Root().Parent == nil {
		e.mu.Lock()
		if e.parsed == nil || len(e.parsed) >= maxParsed {
			e.parsed = map[string]*template{}
		}
		e.parsed[path] = t
		e.mu.Unlock()
	}
	return t, nil
}

// read returns a template's display path and text.
func (e *Engine) read(l loaders.Loader, name string) (string, []byte, error) {
	path, err := l.Resolve(name)
	if err != nil {
		return "", nil, &Error{File: name, Msg: err.Error(), Err: err}
	}
	r, err := l.Read(name)
	if err != nil {
		var re *Error
		if errors.As(err, &re) {
			re.File = e.display(re.File)
			return "", nil, re
		}
		return "", nil, &Error{File: e.display(path), Msg: err.Error(), Err: err}
	}
	src, err := io.ReadAll(r)
	if err != nil {
		return "", nil, &Error{File: path, Msg: err.Error(), Err: err}
	}
	return e.display(path), src, nil
}

// compile parses and rewrites one template's text.
func (e *Engine) compile(l loaders.Loader, name, path string, src []byte) (*template, error) {
	if line, col, err := checkNesting(string(src), e.opts.MaxNesting); err != nil {
		return nil, &Error{File: path, Line: line, Col: col, Msg: err.Error(), Err: err}
	}
	t := &template{path: path, source: string(src)}
	// The parse runs the extends parser, which reads parents through the
	// loader: give it a memory view of this file so it is read only once.
	var err error
	t.t, err = exec.NewTemplate(name, e.cfg, &sourceLoader{Loader: l, name: name, src: src}, e.env)
	if err != nil {
		return nil, toError(path, t.source, nil, err)
	}
	t.cols = rewrite(t.t.Root(), path)
	return t, nil
}

// sourceLoader serves one already-read template from memory.
type sourceLoader struct {
	loaders.Loader
	name string
	src  []byte
}

func (s *sourceLoader) Read(name string) (io.Reader, error) {
	if name == s.name {
		return bytes.NewReader(escapeLiterals(s.src)), nil
	}
	r, err := s.Loader.Read(name)
	if err != nil {
		return nil, err
	}
	src, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	return bytes.NewReader(escapeLiterals(src)), nil
}

// Render renders the template called name (resolved against Root unless
// absolute) with vars as its context and writes the result to w. On error,
// w may have received part of the output: use RenderAll for files.
func (e *Engine) Render(w io.Writer, name string, vars map[string]any) error {
	return e.render(w, e.loader(), name, vars)
}

// RenderSource renders src as the template called name (include and
// extends names still resolve against Root).
func (e *Engine) RenderSource(w io.Writer, name string, src []byte, vars map[string]any) error {
	if int64(len(src)) > e.opts.MaxTemplateBytes {
		return &Error{File: name, Msg: fmt.Sprintf("template is larger than %d bytes", e.opts.MaxTemplateBytes), Err: ErrTooLarge}
	}
	if !utf8.Valid(src) {
		line, col := invalidUTF8Pos(src)
		return &Error{File: name, Line: line, Col: col, Msg: "template is not valid UTF-8 text", Err: ErrBinary}
	}
	return e.render(w, &sourceLoader{Loader: e.loader(), name: name, src: src}, name, vars)
}

func (e *Engine) render(w io.Writer, l loaders.Loader, name string, vars map[string]any) (err error) {
	file := name
	if p, rerr := l.Resolve(name); rerr == nil {
		file = e.display(p)
	}
	defer func() {
		if r := recover(); r != nil {
			err = &Error{File: file, Msg: fmt.Sprintf("template engine failed: %v", r), Err: ErrEngine}
		}
	}()
	var t *template
	if rl, ok := l.(*rootLoader); ok {
		t, err = e.parseCached(rl, name)
	} else {
		t, err = e.parse(l, name)
	}
	if err != nil {
		return err
	}
	ctx := make(map[string]any, len(vars)+1)
	for k, v := range vars {
		ctx[k] = orderedCopy(v)
	}
	ctx[budgetKey] = &budget{}
	lw := &limitWriter{w: w, left: e.opts.MaxOutputBytes}
	if err := t.t.Execute(lw, exec.NewContext(ctx)); err != nil {
		if lw.err != nil {
			return &Error{File: t.path, Msg: lw.err.Error(), Err: lw.err}
		}
		return toError(t.path, t.source, t.cols, err)
	}
	return nil
}

// RenderString renders one template file to a string.
func (e *Engine) RenderString(name string, vars map[string]any) (string, error) {
	var b strings.Builder
	if err := e.Render(&b, name, vars); err != nil {
		return "", err
	}
	return b.String(), nil
}

// limitWriter fails once more than left bytes were written, so a runaway
// loop ends with an error instead of filling memory or disk.
type limitWriter struct {
	w    io.Writer
	left int64
	err  error
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if int64(len(p)) > l.left {
		l.err = fmt.Errorf("%w: more than the limit of output bytes", ErrOutputTooLarge)
		return 0, l.err
	}
	l.left -= int64(len(p))
	return l.w.Write(p)
}

// display names a template file in errors: relative to the root when
// inside it, as the user wrote it.
func (e *Engine) display(path string) string {
	if r, err := filepath.Rel(e.opts.Root, path); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return path
}
