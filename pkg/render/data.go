package render

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/joho/godotenv"
	"github.com/nikolalohinski/gonja/v2/exec"
	"gopkg.in/yaml.v3"
)

// maxDataBytes bounds a data file; more is refused before parsing.
const maxDataBytes = 64 << 20

// LoadData reads a context file, its format taken from the extension like
// jinjanator does: .json, .yaml or .yml, .env. The top level must be a
// mapping; the mappings inside it are *exec.Dict, gonja's ordered mapping,
// with the keys in the file's order, as Python keeps them.
func LoadData(path string) (map[string]any, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("data file: %w", err)
	}
	defer f.Close()
	return ReadData(path, "", f)
}

// ReadData parses a context from r. format is json, yaml or env; empty
// means: from name's extension. name is used in errors.
func ReadData(name, format string, r io.Reader) (map[string]any, error) {
	src, err := io.ReadAll(io.LimitReader(r, maxDataBytes+1))
	if err != nil {
		return nil, fmt.Errorf("data file %s: %w", name, err)
	}
	if len(src) > maxDataBytes {
		return nil, fmt.Errorf("data file %s: %w (more than %d bytes)", name, ErrTooLarge, maxDataBytes)
	}
	if format == "" {
		format = strings.TrimPrefix(strings.ToLower(filepath.Ext(name)), ".")
	}
	switch format {
	case "json":
		return parseJSON(name, src)
	case "yaml", "yml":
		return parseYAML(name, src)
	case "env":
		m, err := godotenv.Parse(bytes.NewReader(src))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		out := make(map[string]any, len(m))
		for k, v := range m {
			out[k] = v
		}
		return out, nil
	default:
		return nil, fmt.Errorf("data file %s: unknown format %q (want json, yaml or env; or a .json, .yaml, .yml or .env file)", name, format)
	}
}

func parseJSON(path string, src []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(src))
	dec.UseNumber() // keep integers integers, as Python's json does
	var v any
	if err := dec.Decode(&v); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			line, col := offsetPos(src, se.Offset)
			return nil, &Error{File: path, Line: line, Col: col, Msg: err.Error(), Err: err}
		}
		return nil, &Error{File: path, Msg: err.Error(), Err: err}
	}
	if dec.More() {
		return nil, &Error{File: path, Msg: "extra data after the JSON value"}
	}
	m, ok := fromJSON(v).(map[string]any)
	if !ok {
		return nil, &Error{File: path, Msg: "top level must be an object"}
	}
	// a second pass over the valid document for the objects' key order
	if om, err := orderedJSON(src); err == nil {
		return om, nil
	}
	return m, nil
}

// orderedJSON decodes a JSON object whose validity is known: the objects
// inside it become ordered mappings with the keys in the file's order (a
// repeated key keeps its first place and its last value, as in Python).
func orderedJSON(src []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(src))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, errors.New("not an object")
	}
	m := map[string]any{}
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return nil, err
		}
		v, err := jsonValue(dec)
		if err != nil {
			return nil, err
		}
		m[k.(string)] = v
	}
	return m, nil
}

// jsonValue reads the next value of dec.
func jsonValue(dec *json.Decoder) (any, error) {
	t, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t {
	case json.Delim('{'):
		b := newDictBuilder(nil)
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return nil, err
			}
			v, err := jsonValue(dec)
			if err != nil {
				return nil, err
			}
			b.set(k.(string), v)
		}
		_, err := dec.Token()
		return b.d, err
	case json.Delim('['):
		l := []any{}
		for dec.More() {
			v, err := jsonValue(dec)
			if err != nil {
				return nil, err
			}
			l = append(l, v)
		}
		_, err := dec.Token()
		return l, err
	}
	return fromJSON(t), nil
}

func fromJSON(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return int(i)
		}
		if !strings.ContainsAny(string(x), ".eE") { // an int past int64: Python's int has no bound
			if b, ok := new(big.Int).SetString(string(x), 10); ok {
				return b
			}
		}
		f, _ := x.Float64()
		return f
	case map[string]any:
		for k, e := range x {
			x[k] = fromJSON(e)
		}
	case []any:
		for i, e := range x {
			x[i] = fromJSON(e)
		}
	}
	return v
}

func parseYAML(path string, src []byte) (map[string]any, error) {
	var v any
	if err := yaml.Unmarshal(src, &v); err != nil {
		return nil, &Error{File: path, Msg: err.Error(), Err: err}
	}
	if v == nil {
		return map[string]any{}, nil
	}
	m, ok := fromYAML(v).(map[string]any)
	if !ok {
		return nil, &Error{File: path, Msg: "top level must be a mapping"}
	}
	// the document's nodes give the mappings' key order
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil || len(doc.Content) != 1 {
		return m, nil
	}
	nodes := map[string]*yaml.Node{}
	for _, p := range yamlPairs(doc.Content[0], 0) {
		nodes[p[0].(string)] = p[1].(*yaml.Node)
	}
	for k, v := range m {
		m[k] = orderedYAML(nodes[k], v, 0)
	}
	return m, nil
}

// maxYAMLDepth bounds the walk of orderedYAML (yaml.v3 refuses deeper
// documents before it).
const maxYAMLDepth = 10000

// yamlPairs lists a mapping node's keys (as runner's string keys) and
// value nodes in PyYAML's order: the pairs of merged mappings (<<) first,
// then the node's own.
func yamlPairs(n *yaml.Node, depth int) [][2]any {
	for n != nil && n.Kind == yaml.AliasNode && depth < maxYAMLDepth {
		n, depth = n.Alias, depth+1
	}
	if n == nil || n.Kind != yaml.MappingNode || depth >= maxYAMLDepth {
		return nil
	}
	var merged, own [][2]any
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
			src := v
			for src.Kind == yaml.AliasNode && src.Alias != nil {
				src = src.Alias
			}
			if src.Kind == yaml.SequenceNode {
				// PyYAML merges a list of mappings last one first
				for i := len(src.Content) - 1; i >= 0; i-- {
					merged = append(merged, yamlPairs(src.Content[i], depth+1)...)
				}
			} else {
				merged = append(merged, yamlPairs(src, depth+1)...)
			}
			continue
		}
		var key any
		if err := k.Decode(&key); err != nil {
			continue
		}
		own = append(own, [2]any{fmt.Sprint(key), v})
	}
	return append(merged, own...)
}

// orderedYAML turns the mappings of v, a decoded YAML value, into ordered
// mappings, their keys in the order of n, v's node (mappings v has keys n
// does not show keep them, sorted, after the others).
func orderedYAML(n *yaml.Node, v any, depth int) any {
	for n != nil && n.Kind == yaml.AliasNode && depth < maxYAMLDepth {
		n, depth = n.Alias, depth+1
	}
	switch x := v.(type) {
	case map[string]any:
		b := newDictBuilder(&exec.Dict{Pairs: make([]*exec.Pair, 0, len(x))})
		if depth < maxYAMLDepth {
			for _, p := range yamlPairs(n, depth) {
				k := p[0].(string)
				if e, ok := x[k]; ok {
					b.set(k, orderedYAML(p[1].(*yaml.Node), e, depth+1))
				}
			}
		}
		if len(b.d.Pairs) < len(x) {
			keys := make([]string, 0, len(x))
			for k := range x {
				if _, ok := b.index[k]; !ok {
					keys = append(keys, k)
				}
			}
			sort.Strings(keys)
			for _, k := range keys {
				b.set(k, orderedYAML(nil, x[k], depth+1))
			}
		}
		return b.d
	case []any:
		for i, e := range x {
			var en *yaml.Node
			if n != nil && n.Kind == yaml.SequenceNode && i < len(n.Content) {
				en = n.Content[i]
			}
			x[i] = orderedYAML(en, e, depth+1)
		}
	case float64, string:
		// an int past int64, which yaml.v3 gives as a float or a string:
		// PyYAML's int has no bound
		if n != nil && n.Kind == yaml.ScalarNode && n.Style == 0 && yamlBigInt.MatchString(n.Value) {
			if b, ok := new(big.Int).SetString(strings.ReplaceAll(n.Value, "_", ""), 0); ok && !b.IsInt64() {
				return b
			}
		}
	}
	return v
}

// yamlBigInt matches YAML 1.1's integers in decimal, binary, octal and
// hexadecimal (Go's base prefixes; a leading 0 is octal in both).
var yamlBigInt = regexp.MustCompile(`^[-+]?(0b[01_]+|0o?[0-7_]+|[1-9][0-9_]*|0x[0-9a-fA-F_]+)$`)

// fromYAML turns maps with non-string keys into string-keyed maps, the only
// kind gonja indexes by name.
func fromYAML(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = fromYAML(e)
		}
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[fmt.Sprint(k)] = fromYAML(e)
		}
		return m
	case []any:
		for i, e := range x {
			x[i] = fromYAML(e)
		}
	}
	return v
}

// offsetPos converts a byte offset into a 1-based line and column.
func offsetPos(src []byte, off int64) (line, col int) {
	if off > int64(len(src)) {
		off = int64(len(src))
	}
	before := src[:off]
	line = bytes.Count(before, []byte("\n")) + 1
	col = int(off) - (bytes.LastIndexByte(before, '\n') + 1)
	if col < 1 {
		col = 1
	}
	return line, col
}

// ParseVars parses KEY=VALUE pairs, one a line (or one per element);
// blank lines and lines starting with # are skipped.
func ParseVars(lines ...string) (map[string]any, error) {
	out := map[string]any{}
	for _, chunk := range lines {
		for _, l := range strings.Split(chunk, "\n") {
			l = strings.TrimSuffix(l, "\r")
			t := strings.TrimSpace(l)
			if t == "" || strings.HasPrefix(t, "#") {
				continue
			}
			k, v, ok := strings.Cut(t, "=")
			k = strings.TrimSpace(k)
			if !ok || k == "" {
				return nil, fmt.Errorf("variable %q: want KEY=VALUE", t)
			}
			out[k] = strings.TrimSpace(v)
		}
	}
	return out, nil
}

// EnvVars turns KEY=VALUE environment entries into a context.
func EnvVars(environ []string) map[string]any {
	out := make(map[string]any, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k != "" {
			out[k] = v
		}
	}
	return out
}
