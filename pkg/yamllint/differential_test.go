package yamllint

import (
	"bytes"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// pyLintDriver lints files with yamllint's own Python API in one process,
// printing parsable lines, or "CRASH path" where yamllint raises.
const pyLintDriver = `
import sys
from yamllint import linter
from yamllint.config import YamlLintConfig
from yamllint.cli import Format
conf = YamlLintConfig(file=sys.argv[1])
for path in sys.argv[2:]:
    try:
        with open(path, newline='') as f:
            probs = list(linter.run(f, conf, path))
        for p in probs:
            print(Format.parsable(p, path))
    except Exception as e:
        print('CRASH %s' % path)
`

var mutationPieces = []string{" ", "  ", "- ", ": ", "#", " # c", "[", "]", "{", "}", ",", "?", ":", "\"", "'",
	"|", ">", "&a ", "*a", "!!str ", "\t", "---", "...", "yes", "0o7", ".5", "\r", "  - ", "key: ", "x", "\r\n",
	"é", "日本", "\u2028", "%YAML 1.1", "!", "<<: ", "          ", strings.Repeat("w", 90), "? ", "0x1F", "1e5"}

// mutate applies a few random line edits to a corpus file.
func mutate(rnd *rand.Rand, lines, all []string) string {
	lines = append([]string(nil), lines...)
	for n := 1 + rnd.Intn(6); n > 0; n-- {
		if len(lines) == 0 {
			lines = []string{""}
		}
		j := rnd.Intn(len(lines))
		l := lines[j]
		switch op := rnd.Float64(); {
		case op < 0.3:
			k := rnd.Intn(len(l) + 1)
			lines[j] = l[:k] + mutationPieces[rnd.Intn(len(mutationPieces))] + l[k:]
		case op < 0.45 && l != "":
			k := rnd.Intn(len(l))
			lines[j] = l[:k] + l[k+1:]
		case op < 0.6:
			lines = append(lines[:j], append([]string{all[rnd.Intn(len(all))]}, lines[j:]...)...)
		case op < 0.7:
			lines = append(lines[:j], lines[j+1:]...)
		case op < 0.85:
			lines[j] = strings.Repeat(" ", 1+rnd.Intn(4)) + l
		default:
			lines[j] = strings.TrimLeft(l, " ")
		}
	}
	return strings.Join(lines, "\n")
}

// TestDifferentialMutations lints randomly mutated corpus files (a fixed
// seed) with yamllint's Python code and with this package.
func TestDifferentialMutations(t *testing.T) {
	referenceYamllint(t)
	var sources [][]string
	var all []string
	for _, f := range corpusFiles(t) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(string(data), "\n")
		sources = append(sources, lines)
		all = append(all, lines...)
	}
	rnd := rand.New(rand.NewSource(7))
	dir := t.TempDir()
	var files []string
	for i := 0; i < 300; i++ {
		text := mutate(rnd, sources[rnd.Intn(len(sources))], all)
		if _, err := Decode([]byte(text)); err != nil {
			continue // split UTF-8: yamllint cannot read it either
		}
		p := filepath.Join(dir, fmt.Sprintf("m%03d.yaml", i))
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, p)
	}
	for _, cfg := range []string{"all-rules", "relaxed"} {
		cfgPath := "testdata/configs/" + cfg + ".yaml"
		cmd := exec.Command("/usr/bin/python3", append([]string{"-c", pyLintDriver, cfgPath}, files...)...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("python: %v\n%s", err, stderr.String())
		}
		crashed := map[string]bool{}
		var kept strings.Builder
		for _, line := range strings.SplitAfter(string(out), "\n") {
			if p, ok := strings.CutPrefix(line, "CRASH "); ok {
				crashed[strings.TrimSuffix(p, "\n")] = true
				continue
			}
			kept.WriteString(line)
		}
		want := splitByFile(kept.String(), files)
		conf, err := LoadConfigFile(cfgPath)
		if err != nil {
			t.Fatal(err)
		}
		same := 0
		for _, f := range files {
			if crashed[f] {
				continue
			}
			ps, err := LintFile("", f, conf)
			if err != nil {
				t.Fatal(err)
			}
			var got strings.Builder
			for _, p := range ps {
				got.WriteString(FormatProblem(FormatParsable, p, f) + "\n")
			}
			if got.String() != want[f] {
				data, _ := os.ReadFile(f)
				t.Errorf("%s %s (%q):\n--- yamllint\n%s--- runner\n%s", cfg, f, data, want[f], got.String())
				continue
			}
			same++
		}
		t.Logf("%s: %d/%d mutated files identical (%d crash yamllint)", cfg, same, len(files)-len(crashed), len(crashed))
	}
}
