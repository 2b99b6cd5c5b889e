package run

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
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

// maxLen is the length of the longest registered value, 0 without any.
func (m *Masker) maxLen() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if len(m.values) == 0 {
		return 0
	}
	return len(m.values[0])
}

// safeCut moves a cut of s at p back to the start of any registered value
// that spans it, so that both halves of a secret are never logged apart.
func (m *Masker) safeCut(s string, p int) int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	for moved := true; moved && p > 0; {
		moved = false
		for _, v := range m.values {
			lo := max(0, p-len(v)+1)
			hi := min(len(s), p+len(v)-1)
			if hi-lo < len(v) {
				continue
			}
			if i := strings.Index(s[lo:hi], v); i >= 0 && lo+i < p {
				p, moved = lo+i, true
			}
		}
	}
	return p
}

// quoted matches a quoted part of an error message, and the space before.
var quoted = regexp.MustCompile(`\s*"(?:[^"\\]|\\.)*"`)

// scrubURLErrors rewrites the text of err so that no URL error in it shows
// a URL's userinfo: url.Parse quotes the URL and parts of it (`invalid
// port ":s3cr3t" after host`), which may be a piece of a token that
// masking the whole token cannot catch.
func scrubURLErrors(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	var walk func(error)
	walk = func(e error) {
		if e == nil {
			return
		}
		if ue, ok := e.(*url.Error); ok {
			safe := redactURL(ue.URL)
			if ue.Op == "parse" {
				inner := quoted.ReplaceAllString(ue.Err.Error(), "")
				msg = strings.ReplaceAll(msg, ue.Error(), fmt.Sprintf("parse %q: %s", safe, inner))
			}
			if ue.URL != "" {
				msg = strings.ReplaceAll(msg, ue.URL, safe)
			}
		}
		switch u := e.(type) {
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		case interface{ Unwrap() []error }:
			for _, x := range u.Unwrap() {
				walk(x)
			}
		}
	}
	walk(err)
	if msg == err.Error() {
		return err
	}
	return errors.New(msg)
}
