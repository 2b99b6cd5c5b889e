package run

import (
	"encoding/base64"
	"strings"
	"testing"
)

func TestMasker(t *testing.T) {
	var m Masker
	if got := m.Mask("nothing"); got != "nothing" {
		t.Fatalf("empty masker changed text: %q", got)
	}
	m.Add("abc")
	m.Add("abcdef")
	m.Add("line1\nline2\n")
	m.Add("   ")
	for in, want := range map[string]string{
		"x abcdef y":  "x *** y",
		"abc abcde":   "*** ***de",
		"line2 alone": "*** alone",
		"   ":         "   ",
	} {
		if got := m.Mask(in); got != want {
			t.Errorf("Mask(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseEnvFile(t *testing.T) {
	got, err := parseEnvFile("A=1\nB<<EOF\nx\ny=z\nEOF\r\nC==eq\n\n")
	if err != nil {
		t.Fatal(err)
	}
	want := [][2]string{{"A", "1"}, {"B", "x\ny=z"}, {"C", "=eq"}}
	if len(got) != len(want) {
		t.Fatalf("got %q", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("entry %d = %q, want %q", i, got[i], want[i])
		}
	}
	for _, bad := range []string{"NOEQUALS\n", "A<<EOF\nnever closed\n", "=x\n"} {
		if _, err := parseEnvFile(bad); err == nil {
			t.Errorf("parseEnvFile(%q) accepted bad input", bad)
		}
	}
}

func TestParseCommand(t *testing.T) {
	c, ok := parseCommand("::error file=a.go,line=3,col=4,title=T%3Ax::bad%0Athing")
	if !ok || c.Name != "error" || c.Props["file"] != "a.go" || c.Props["line"] != "3" || c.Props["title"] != "T:x" || c.Value != "bad\nthing" {
		t.Fatalf("got %+v %v", c, ok)
	}
	if c, ok := parseCommand("  ::add-mask::s3cret"); !ok || c.Name != "add-mask" || c.Value != "s3cret" {
		t.Fatalf("got %+v %v", c, ok)
	}
	for _, no := range []string{"plain", ":: ::", "::nope", "echo ::x::"} {
		if c, ok := parseCommand(no); ok {
			t.Errorf("parseCommand(%q) = %+v, want not a command", no, c)
		}
	}
}

func TestMaskerEncodings(t *testing.T) {
	var m Masker
	secret := "pa\"ss\\word-long\nsecond line&<x>"
	m.Add(secret)
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	for _, in := range []string{
		`{"TOK": "pa\"ss\\word-long\nsecond line&<x>"}`, // toJSON(secrets)
		"pa%22ss%5Cword-long%0Asecond%20line%26%3Cx%3E",
		b64(secret),
		b64("user:" + secret + ":tail"),  // shifted by 2 bytes
		b64("users:" + secret + ":tail"), // aligned
		b64("use:" + secret),             // shifted by 1 byte
		"pa&quot;ss\\word-long",
	} {
		got := m.Mask(in)
		if !strings.Contains(got, "***") || strings.Contains(got, "word-long") {
			t.Errorf("Mask(%q) = %q, want the encoded secret masked", in, got)
		}
	}
	// The part of a base64 blob that comes from the secret alone is gone.
	got := m.Mask(b64("user:" + secret + ":tail"))
	if strings.Contains(got, b64(secret[1:])[:16]) {
		t.Errorf("base64 middle left: %q", got)
	}
	if got := m.Mask("ordinary text"); got != "ordinary text" {
		t.Errorf("ordinary text changed: %q", got)
	}
}
