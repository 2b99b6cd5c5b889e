package validate

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"
)

// Options configure a Validator. The zero value validates strictly against
// DefaultKubernetesVersion.
type Options struct {
	// KubernetesVersion selects the bundled schemas: "v1.37.2", "1.37.2",
	// or "1.37" for the newest bundled patch. Default: DefaultKubernetesVersion.
	KubernetesVersion string
	// AllowUnknownFields turns strict mode off. Default false: a field the
	// schema does not declare is an error.
	AllowUnknownFields bool
	// SkipKinds lists kinds not to validate, as "Kind" or
	// "apiVersion/Kind" (e.g. "apps/v1/Deployment"). Default: none.
	SkipKinds []string
	// IgnoreMissingSchemas skips documents whose kind has no bundled schema
	// (e.g. custom resources). Default false: they are errors.
	IgnoreMissingSchemas bool
	// MaxFileSize is the largest file accepted, in bytes. Default 64 MiB.
	MaxFileSize int64
}

// DefaultMaxFileSize is Options.MaxFileSize when unset.
const DefaultMaxFileSize = 64 << 20

// Validator validates manifests. It is safe for concurrent use; schemas are
// compiled on first use and cached.
type Validator struct {
	opts    Options
	version string
	skip    map[string]bool

	once   sync.Once
	set    *schemaSet
	setErr error
}

// New checks the options and returns a Validator. Only an unknown Kubernetes
// version is an error; schemas are loaded lazily.
func New(opts Options) (*Validator, error) {
	version, err := resolveVersion(opts.KubernetesVersion)
	if err != nil {
		return nil, err
	}
	if opts.MaxFileSize <= 0 {
		opts.MaxFileSize = DefaultMaxFileSize
	}
	v := &Validator{opts: opts, version: version, skip: map[string]bool{}}
	for _, k := range opts.SkipKinds {
		if k = strings.TrimSpace(k); k != "" {
			v.skip[k] = true
		}
	}
	return v, nil
}

// KubernetesVersion is the version whose schemas this Validator uses.
func (v *Validator) KubernetesVersion() string { return v.version }

func (v *Validator) schemas() (*schemaSet, error) {
	v.once.Do(func() { v.set, v.setErr = loadSchemaSet(v.version, !v.opts.AllowUnknownFields) })
	return v.set, v.setErr
}

// Validate checks one file's contents; name is used in the report only.
func (v *Validator) Validate(name string, data []byte) Result {
	if int64(len(data)) > v.opts.MaxFileSize {
		return fileProblem(name, fmt.Sprintf("file larger than %d bytes", v.opts.MaxFileSize))
	}
	f := fileCheck{v: v, name: name, res: Result{Files: 1}}
	f.run(data)
	return f.res
}

// ValidateReader reads at most MaxFileSize bytes from r and validates them.
func (v *Validator) ValidateReader(name string, r io.Reader) Result {
	data, err := io.ReadAll(io.LimitReader(r, v.opts.MaxFileSize+1))
	if err != nil {
		return fileProblem(name, fmt.Sprintf("read: %v", err))
	}
	if int64(len(data)) > v.opts.MaxFileSize {
		return fileProblem(name, fmt.Sprintf("file larger than %d bytes", v.opts.MaxFileSize))
	}
	return v.Validate(name, data)
}

func fileProblem(name, msg string) Result {
	return Result{Files: 1, Problems: []Problem{{File: name, Message: msg}}}
}

// fileCheck is the state of validating one file, or one chunk of it.
type fileCheck struct {
	v          *Validator
	name       string
	res        Result
	docs       int // documents seen, empty ones and one with a syntax error included
	nonEmpty   int
	lineOffset int // lines before this chunk in the file
}

// shiftLines makes a chunk's node positions file-relative. Aliases are not
// followed: every node is reached once through Content.
func shiftLines(n *yaml.Node, by int) {
	n.Line += by
	for _, c := range n.Content {
		shiftLines(c, by)
	}
}

func (f *fileCheck) add(p Problem) {
	p.File = f.name
	f.res.Problems = append(f.res.Problems, p)
}

func (f *fileCheck) run(data []byte) {
	if at := binaryAt(data); at >= 0 {
		l, c := lineCol(data, at)
		f.add(Problem{Line: l, Column: c, Message: "binary file: not UTF-8 text"})
		return
	}
	chunks := splitDocuments(data)
	parts := make([]fileCheck, len(chunks))
	eachParallel(len(chunks), func(i int) {
		parts[i] = fileCheck{v: f.v, name: f.name, lineOffset: chunks[i].line}
		parts[i].stream(chunks[i].data)
	})
	// Renumber documents from chunk-relative to file-relative.
	base := 0
	for _, p := range parts {
		for _, pr := range p.res.Problems {
			if pr.Document > 0 {
				pr.Document += base
			}
			f.res.Problems = append(f.res.Problems, pr)
		}
		for _, r := range p.res.Resources {
			r.Document += base
			f.res.Resources = append(f.res.Resources, r)
		}
		base += p.docs
		f.nonEmpty += p.nonEmpty
	}
	if f.nonEmpty == 0 && len(f.res.Problems) == 0 {
		f.add(Problem{Message: "empty file: no Kubernetes object"})
	}
}

// stream checks every document of a YAML stream (or chunk of one); a
// syntax error ends it.
func (f *fileCheck) stream(data []byte) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return
		}
		f.docs++
		if err != nil {
			p := syntaxProblem(f.docs, err)
			if p.Line == 0 {
				if at := controlAt(data); at >= 0 {
					p.Line, p.Column = lineCol(data, at)
				}
			}
			if p.Line > 0 {
				p.Line += f.lineOffset
			}
			f.add(p)
			return
		}
		if isEmptyDoc(&doc) {
			continue
		}
		if f.lineOffset > 0 {
			shiftLines(&doc, f.lineOffset)
		}
		f.nonEmpty++
		f.document(f.docs, &doc)
	}
}

// binaryAt returns the offset of the first NUL or invalid UTF-8 byte, or -1.
// UTF-16 input (with a byte-order mark) is left to the YAML decoder.
func binaryAt(data []byte) int {
	if bytes.HasPrefix(data, []byte{0xFE, 0xFF}) || bytes.HasPrefix(data, []byte{0xFF, 0xFE}) {
		return -1
	}
	if i := bytes.IndexByte(data, 0); i >= 0 {
		if j := firstInvalidUTF8(data[:i]); j >= 0 {
			return j
		}
		return i
	}
	return firstInvalidUTF8(data)
}

func firstInvalidUTF8(b []byte) int {
	if utf8.Valid(b) {
		return -1
	}
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size <= 1 {
			return i
		}
		i += size
	}
	return -1
}

// controlAt returns the offset of the first character YAML forbids
// (C0 controls other than tab and newlines, DEL, C1 controls), or -1.
func controlAt(data []byte) int {
	for i, r := range string(data) {
		switch {
		case r == '\t' || r == '\n' || r == '\r' || r == 0x85:
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f):
			return i
		}
	}
	return -1
}

// lineCol turns a byte offset into a 1-based line and column (in runes).
func lineCol(data []byte, off int) (int, int) {
	line := 1 + bytes.Count(data[:off], []byte("\n"))
	start := bytes.LastIndexByte(data[:off], '\n') + 1
	return line, 1 + utf8.RuneCount(data[start:off])
}

func isEmptyDoc(doc *yaml.Node) bool {
	if len(doc.Content) == 0 {
		return true
	}
	c := doc.Content[0]
	return c.Kind == yaml.ScalarNode && c.ShortTag() == "!!null"
}

// syntaxProblem turns a yaml.v3 error ("yaml: line 3: ...") into a Problem.
func syntaxProblem(index int, err error) Problem {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	p := Problem{Document: index}
	var line int
	if n, _ := fmt.Sscanf(msg, "line %d:", &line); n == 1 {
		p.Line = line
		msg = strings.TrimSpace(msg[strings.Index(msg, ":")+1:])
	}
	p.Message = "YAML syntax error: " + msg
	return p
}

func (f *fileCheck) document(index int, doc *yaml.Node) {
	root := doc.Content[0]
	val, yprobs, lerr := toValue(doc)
	obj, isMap := val.(map[string]any)
	res := newResource(f.name, index, root.Line, obj)
	var probs []Problem
	for _, yp := range yprobs {
		probs = append(probs, Problem{Path: yp.path, Line: yp.pos.Line, Column: yp.pos.Column, Message: yp.msg})
	}
	switch {
	case lerr != nil:
		probs = append(probs, Problem{Line: lerr.pos.Line, Column: lerr.pos.Column, Message: lerr.msg})
	case !isMap:
		probs = append(probs, Problem{Line: root.Line, Column: root.Column,
			Message: fmt.Sprintf("document is a %s, not a Kubernetes object (mapping)", jsonType(val))})
	}
	if lerr != nil || !isMap {
		f.finish(res, probs)
		return
	}
	// key problems (duplicates) do not stop the check: everything else in
	// the document is reported too
	items, isList := obj["items"].([]any)
	if res.APIVersion == "v1" && res.Kind == "List" && isList {
		// kubectl's List wraps objects; each item is checked as a resource.
		f.finish(res, probs)
		for i, it := range items {
			prefix := []string{"items", strconv.Itoa(i)}
			itObj, _ := it.(map[string]any)
			n := locate(doc, prefix, false)
			itRes := newResource(f.name, index, n.Line, itObj)
			if itObj == nil {
				f.finish(itRes, []Problem{{Path: pointer(prefix), Line: n.Line, Column: n.Column,
					Message: fmt.Sprintf("list item is a %s, not a Kubernetes object (mapping)", jsonType(it))}})
				continue
			}
			f.finish(itRes, f.object(&itRes, doc, prefix, itObj))
		}
		return
	}
	f.finish(res, append(probs, f.object(&res, doc, nil, obj)...))
}

func newResource(file string, index, line int, obj map[string]any) Resource {
	res := Resource{File: file, Document: index, Line: line, Status: StatusValid}
	res.APIVersion, _ = obj["apiVersion"].(string)
	res.Kind, _ = obj["kind"].(string)
	if md, ok := obj["metadata"].(map[string]any); ok {
		res.Name, _ = md["name"].(string)
		res.Namespace, _ = md["namespace"].(string)
	}
	return res
}

// finish records a resource and its problems.
func (f *fileCheck) finish(res Resource, probs []Problem) {
	if len(probs) > 0 && res.Status == StatusValid {
		res.Status = StatusInvalid
	}
	for _, p := range probs {
		p.Document, p.Kind, p.Name = res.Document, res.Kind, res.Name
		f.add(p)
	}
	f.res.Resources = append(f.res.Resources, res)
}

// object validates one Kubernetes object found at prefix in doc. It may
// mark res skipped.
func (f *fileCheck) object(res *Resource, doc *yaml.Node, prefix []string, obj map[string]any) []Problem {
	var probs []Problem
	at := func(tokens []string, msg string) {
		full := append(slices.Clip(prefix), tokens...)
		n := locate(doc, full, false)
		probs = append(probs, Problem{Path: pointer(full), Line: n.Line, Column: n.Column, Message: msg})
	}
	for _, field := range []string{"apiVersion", "kind"} {
		if s, ok := obj[field].(string); !ok || s == "" {
			msg := "missing " + field
			if _, present := obj[field]; present {
				msg = field + " must be a non-empty string"
			}
			at([]string{field}, msg)
		}
	}
	if len(probs) > 0 {
		return probs
	}
	if f.v.skip[res.Kind] || f.v.skip[gvkKey(res.APIVersion, res.Kind)] {
		res.Status = StatusSkipped
		return nil
	}
	set, err := f.v.schemas()
	if err != nil {
		return []Problem{{Message: err.Error()}}
	}
	sch, err := set.schemaFor(res.APIVersion, res.Kind)
	if err != nil {
		return []Problem{{Message: err.Error()}}
	}
	if sch == nil {
		if f.v.opts.IgnoreMissingSchemas {
			res.Status = StatusSkipped
			return nil
		}
		at([]string{"kind"}, fmt.Sprintf("unknown kind %s %s: no schema in Kubernetes %s", res.APIVersion, res.Kind, set.version))
		return probs
	}
	err = sch.Validate(obj)
	var verr *jsonschema.ValidationError
	if !errors.As(err, &verr) {
		if err != nil {
			return []Problem{{Message: err.Error()}}
		}
		return nil
	}
	probs = schemaProblems(set, doc, prefix, verr)
	slices.SortStableFunc(probs, func(a, b Problem) int {
		if a.Line != b.Line {
			return a.Line - b.Line
		}
		if a.Column != b.Column {
			return a.Column - b.Column
		}
		return strings.Compare(a.Path, b.Path)
	})
	return probs
}

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case []any:
		return "sequence"
	case map[string]any:
		return "mapping"
	case string:
		return "string"
	case bool:
		return "boolean"
	}
	return "number"
}
