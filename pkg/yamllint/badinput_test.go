package yamllint

import (
	"bytes"
	"context"
	"errors"
	"math/rand"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestBadInputBinary(t *testing.T) {
	rnd := rand.New(rand.NewSource(1))
	bin := make([]byte, 4096)
	rnd.Read(bin)
	copy(bin, "---\nkey: value\n")
	bin[15] = 0xff // invalid UTF-8 on line 3, column 1
	p := writeFile(t, "blob.yaml", bin)
	_, err := LintFile("", p, DefaultConfig())
	if !errors.Is(err, ErrNotText) {
		t.Fatalf("err = %v, want ErrNotText", err)
	}
	if !strings.Contains(err.Error(), p+":3:1: invalid UTF-8 byte 0xff") {
		t.Fatalf("err = %v, want file:line:col", err)
	}

	// valid UTF-8 with a NUL: YAML forbids it
	nul := writeFile(t, "nul.yaml", []byte("---\na: b\x00c\n"))
	_, err = LintFile("", nul, DefaultConfig())
	if !errors.Is(err, ErrNotText) || !strings.Contains(err.Error(), ":2:5: unacceptable character #x0000") {
		t.Fatalf("err = %v", err)
	}

	// LintPaths reports it, counts it as an error and goes on
	good := writeFile(t, "good.yaml", []byte("---\nkey:  value\n"))
	var out, errw bytes.Buffer
	sum, err := LintPaths(context.Background(), &out, &errw, []string{p, good}, DefaultConfig(), RunOptions{Format: FormatParsable})
	if err != nil {
		t.Fatal(err)
	}
	if sum.MaxLevel != 2 || sum.Errors != 2 || !strings.Contains(errw.String(), "invalid UTF-8") {
		t.Fatalf("sum = %+v, stderr %q", sum, errw.String())
	}
	if out.String() != good+":2:6: [error] too many spaces after colon (colons)\n" {
		t.Fatalf("out = %q", out.String())
	}
}

func TestBadInputEmpty(t *testing.T) {
	for _, content := range []string{"", "\n", "\r\n", " ", "#"} {
		p := writeFile(t, "empty.yaml", []byte(content))
		if _, err := LintFile("", p, DefaultConfig()); err != nil {
			t.Fatalf("%q: %v", content, err)
		}
	}
	ps, _ := LintFile("", writeFile(t, "e.yaml", nil), DefaultConfig())
	if len(ps) != 0 {
		t.Fatalf("empty file: %v", ps)
	}
}

// allocated runs f and returns the bytes it allocated.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func TestBadInputTenMegabytes(t *testing.T) {
	var b strings.Builder
	i := 0
	for b.Len() < 10<<20 {
		b.WriteString(strings.ReplaceAll(manifestTemplates[i%3], "%[1]s", "user"))
		i++
	}
	text := strings.ReplaceAll(b.String(), "%[2]s", "back-end")
	lines := strings.Count(text, "\n")
	text += "key:  value\n" // one problem, on the last line
	p := writeFile(t, "big.yaml", []byte(text))
	conf, _ := ParseConfig(pipelineConfig)
	var ps []Problem
	var err error
	alloc := allocated(func() { ps, err = LintFile("", p, conf) })
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 1 || ps[0].Line != lines+1 || ps[0].Rule != "colons" {
		t.Fatalf("problems = %v", ps)
	}
	if limit := uint64(100 * len(text)); alloc > limit { // linear, not quadratic
		t.Errorf("allocated %d MB for %d MB of input", alloc>>20, len(text)>>20)
	}
}

func TestBadInputDeepNesting(t *testing.T) {
	const depth = 100000
	cases := []struct {
		name, text string
		want       string // parsable output without the file name
	}{
		{"flow sequences", strings.Repeat("[", depth) + strings.Repeat("]", depth) + "\n",
			`1:1: [warning] missing document start "---" (document-start)`},
		{"flow mappings", "---\n" + strings.Repeat("{a: ", depth) + "1" + strings.Repeat("}", depth) + "\n",
			"2:81: [error] line too long (500001 > 80 characters) (line-length)"},
		{"block sequences", "---\n" + strings.Repeat("- ", depth) + "x\n",
			"2:81: [error] line too long (200001 > 80 characters) (line-length)"},
		{"unclosed", "---\n" + strings.Repeat("[", depth) + "\n",
			"3:1: [error] syntax error: expected the node content, but found '<stream end>' (syntax)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			text, err := Decode([]byte(c.text))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range Lint(text, DefaultConfig(), "") {
				got = append(got, strings.TrimPrefix(FormatProblem(FormatParsable, p, ""), ":"))
			}
			if strings.Join(got, "\n") != c.want {
				t.Fatalf("got %q, want %q", got, c.want)
			}
		})
	}
}

func TestBadInputAliasBomb(t *testing.T) {
	data, err := os.ReadFile("testdata/corpus/alias-bomb.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// a 9-level bomb: 9^9 strings if anything expanded it
	bomb := string(data) + "h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]\ni: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]\n"
	text, _ := Decode([]byte(bomb))
	var ps []Problem
	alloc := allocated(func() { ps = Lint(text, DefaultConfig(), "") })
	if len(ps) != 0 {
		t.Fatalf("problems = %v", ps)
	}
	if alloc > 10<<20 {
		t.Fatalf("allocated %d bytes", alloc)
	}
	// the configuration loader resolves aliases without expanding them
	conf := bomb + "rules: {truthy: {allowed-values: *i}}\n"
	alloc = allocated(func() { _, err = ParseConfig(conf) })
	if err == nil || !strings.Contains(err.Error(), `option "allowed-values" of "truthy" should only contain values in`) {
		t.Fatalf("err = %v", err)
	}
	if alloc > 10<<20 {
		t.Fatalf("allocated %d bytes", alloc)
	}
}

func TestWalkDoesNotFollowDirectoryLinks(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "a"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "a", "x.yaml"), []byte("---\nx: 1\n"), 0o644)
	if err := os.Symlink("..", filepath.Join(dir, "a", "loop")); err != nil {
		t.Fatal(err)
	}
	os.Symlink("x.yaml", filepath.Join(dir, "a", "y.yaml"))
	files, err := FindFiles(dir, []string{"."}, DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(files, " ") != "./a/x.yaml ./a/y.yaml" {
		t.Fatalf("files = %v", files)
	}
}
