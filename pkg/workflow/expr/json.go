package expr

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ParseJSON decodes JSON into expression values, keeping the key order of
// objects (as fromJSON does). Numbers become float64.
func ParseJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := decodeValue(dec, 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("invalid character after top-level value")
	}
	return v, nil
}

// maxJSONDepth bounds nesting in ParseJSON (and so the recursion of every
// function that walks values).
const maxJSONDepth = 1000

func decodeValue(dec *json.Decoder, depth int) (any, error) {
	if depth > maxJSONDepth {
		return nil, fmt.Errorf("JSON nested deeper than %d", maxJSONDepth)
	}
	tok, err := dec.Token()
	if err != nil {
		if err == io.EOF {
			return nil, io.ErrUnexpectedEOF
		}
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '[':
			a := make([]any, 0, 1) // never zero-capacity: arrays compare by identity
			for dec.More() {
				e, err := decodeValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				a = append(a, e)
			}
			_, err := dec.Token() // ]
			return a, err
		case '{':
			o := &Object{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k, _ := kt.(string)
				v, err := decodeValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				if i := o.find(k); i >= 0 {
					if o.keys[i] == k { // exact duplicate: last wins, as JSON.parse
						o.vals[i] = v
					}
					continue
				}
				o.add(k, v)
			}
			_, err := dec.Token() // }
			return o, err
		}
		return nil, fmt.Errorf("unexpected %v", t)
	case json.Number:
		f, err := strconv.ParseFloat(string(t), 64)
		if err != nil && !math.IsInf(f, 0) {
			return nil, err
		}
		return f, nil
	case string, bool, nil:
		return t, nil
	}
	return nil, fmt.Errorf("unexpected token %v", tok)
}

// ToJSON prints a value as toJSON() does: indented by two spaces, keys in
// order, NaN and infinities as null.
func ToJSON(v any) string {
	var b strings.Builder
	writeJSON(&b, Normalize(v), "  ", "\n")
	return b.String()
}

// compactJSON prints a value as one line of JSON.
func compactJSON(v any) string {
	var b strings.Builder
	writeJSON(&b, Normalize(v), "", "")
	return b.String()
}

// writeJSON writes v with the given indent unit; prefix is the newline
// plus the current indentation ("" for compact output).
func writeJSON(b *strings.Builder, v any, indent, prefix string) {
	switch t := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		if t {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case float64:
		if math.IsNaN(t) || math.IsInf(t, 0) {
			b.WriteString("null")
		} else {
			b.WriteString(jsNumberString(t))
		}
	case string:
		writeJSONString(b, t)
	case filtered:
		writeJSON(b, []any(t), indent, prefix)
	case []any:
		if len(t) == 0 {
			b.WriteString("[]")
			return
		}
		inner := prefix + indent
		b.WriteByte('[')
		for i, e := range t {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(inner)
			writeJSON(b, e, indent, inner)
		}
		b.WriteString(prefix)
		b.WriteByte(']')
	case *Object:
		if t.Len() == 0 {
			b.WriteString("{}")
			return
		}
		inner := prefix + indent
		b.WriteByte('{')
		for i, k := range t.keys {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(inner)
			writeJSONString(b, k)
			b.WriteByte(':')
			if indent != "" {
				b.WriteByte(' ')
			}
			writeJSON(b, t.vals[i], indent, inner)
		}
		b.WriteString(prefix)
		b.WriteByte('}')
	default:
		writeJSON(b, Normalize(v), indent, prefix)
	}
}

// writeJSONString quotes s as JSON.stringify does (no HTML escaping).
func writeJSONString(b *strings.Builder, s string) {
	b.WriteByte('"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				b.WriteString(s[start:i])
				b.WriteString(`\ufffd`)
				i++
				start = i
				continue
			}
			i += size
			continue
		}
		b.WriteString(s[start:i])
		switch c {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			fmt.Fprintf(b, `\u%04x`, c)
		}
		i++
		start = i
	}
	b.WriteString(s[start:])
	b.WriteByte('"')
}
