package render

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/joho/godotenv"
	"gopkg.in/yaml.v3"
)

// maxDataBytes bounds a data file; more is refused before parsing.
const maxDataBytes = 64 << 20

// LoadData reads a context file, its format taken from the extension like
// jinjanator does: .json, .yaml or .yml, .env. The top level must be a
// mapping.
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
	return m, nil
}

func fromJSON(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return int(i)
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
	return m, nil
}

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
