package dotenv

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func write(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "secrets.env")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRead(t *testing.T) {
	p := write(t, `# registry credentials
REGISTRY_USERNAME=bot
export REGISTRY_PASSWORD='p@ss w0rd'
KEY="-----BEGIN KEY-----\nabc\n-----END KEY-----"
CERT="line one
line two"
EMPTY=
SPACED = value with spaces
`)
	m := map[string]string{"KEEP": "1"}
	if err := Read(p, m); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"KEEP":              "1",
		"REGISTRY_USERNAME": "bot",
		"REGISTRY_PASSWORD": "p@ss w0rd",
		"KEY":               "-----BEGIN KEY-----\nabc\n-----END KEY-----",
		"CERT":              "line one\nline two",
		"EMPTY":             "",
		"SPACED":            "value with spaces",
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %q, want %q", k, m[k], v)
		}
	}
	if len(m) != len(want) {
		t.Errorf("got %d variables, want %d: %v", len(m), len(want), m)
	}
}

// A syntax error names the file and line and never shows the text.
func TestReadErrorHidesTheText(t *testing.T) {
	p := write(t, "A=1\nB=\"multi\nline\"\nhunter2-secret-value\n")
	err := Read(p, map[string]string{})
	if err == nil {
		t.Fatal("no error")
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("error shows the file's text: %v", err)
	}
	if !strings.Contains(err.Error(), p+":4:") {
		t.Errorf("error %q does not name %s:4", err, p)
	}
}
