package run

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"sort"
	"strings"
	"sync"
)

// Masker replaces secret values with *** in text. It is safe for
// concurrent use: ::add-mask:: may arrive from any running step.
type Masker struct {
	mu       sync.RWMutex
	values   []string // longest first, so that a secret containing another is masked whole
	replacer *strings.Replacer
}

// Add registers a value to mask. A multi-line value is also masked line by
// line, because logs are written a line at a time. Like GitHub's runner,
// every value is also masked in the encodings a script is likely to print
// it in: Base64 (at the three byte alignments), JSON string, URI data, XML
// and expression-string escapes.
func (m *Masker) Add(v string) {
	v = strings.TrimRight(v, "\r\n")
	if strings.TrimSpace(v) == "" {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	seen := make(map[string]bool, len(m.values))
	for _, x := range m.values {
		seen[x] = true
	}
	add := func(s string) {
		if strings.TrimSpace(s) == "" || seen[s] {
			return
		}
		seen[s] = true
		m.values = append(m.values, s)
	}
	addAll := func(s string) {
		if strings.TrimSpace(s) == "" {
			return
		}
		add(s)
		for _, e := range encodings(s) {
			add(e)
		}
	}
	addAll(v)
	if strings.Contains(v, "\n") {
		for _, line := range strings.Split(v, "\n") {
			addAll(strings.TrimRight(line, "\r"))
		}
	}
	sort.SliceStable(m.values, func(i, j int) bool { return len(m.values[i]) > len(m.values[j]) })
	pairs := make([]string, 0, 2*len(m.values))
	for _, x := range m.values {
		pairs = append(pairs, x, "***")
	}
	m.replacer = strings.NewReplacer(pairs...)
}

// Mask returns s with every registered value replaced by ***.
func (m *Masker) Mask(s string) string {
	m.mu.RLock()
	r := m.replacer
	m.mu.RUnlock()
	if r == nil {
		return s
	}
	return r.Replace(s)
}

// encodings are the forms of v that actions/runner's ValueEncoders
// register: Base64StringEscape(Shift1, Shift2), JsonStringEscape,
// UriDataEscape, XmlDataEscape, ExpressionStringEscape, TrimDoubleQuotes.
func encodings(v string) []string {
	var out []string
	b := []byte(v)
	for shift := 0; shift < 3; shift++ {
		part := b
		if len(b) > shift {
			part = b[shift:]
		}
		full := base64.StdEncoding.EncodeToString(part)
		out = append(out, full)
		// Inside a longer encoding (base64 of "user:secret") the padding
		// and the last partial character differ: mask the characters
		// that depend on the value alone, when they are not too short
		// to be told from ordinary text.
		if n := len(part) * 4 / 3; n >= 8 && n < len(full) {
			out = append(out, full[:n])
		}
	}
	out = append(out, jsonEscape(v), uriEscape(v), xmlEscape.Replace(v), strings.ReplaceAll(v, "'", "''"))
	if len(v) > 8 && strings.HasPrefix(v, `"`) && strings.HasSuffix(v, `"`) {
		out = append(out, v[1:len(v)-1])
	}
	return out
}

// jsonEscape is v as inside a JSON string, escaped as Newtonsoft.Json
// does by default (no HTML escaping).
func jsonEscape(v string) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return v
	}
	s := strings.TrimSuffix(buf.String(), "\n")
	return s[1 : len(s)-1]
}

// uriEscape is .NET's Uri.EscapeDataString: every byte but the RFC 3986
// unreserved characters is percent-encoded.
func uriEscape(v string) string {
	const hex = "0123456789ABCDEF"
	var sb strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			sb.WriteByte(c)
			continue
		}
		sb.WriteByte('%')
		sb.WriteByte(hex[c>>4])
		sb.WriteByte(hex[c&15])
	}
	return sb.String()
}

var xmlEscape = strings.NewReplacer("<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&apos;", "&", "&amp;")
