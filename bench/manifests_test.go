package bench

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/birdflock/runner/pkg/render"
	"github.com/birdflock/runner/pkg/validate"
	"github.com/birdflock/runner/pkg/yamllint"
)

const lintConfig = "{extends: default, rules: {line-length: {max: 120}}}"

// users × 6 bird-flock templates ≈ 1,000 manifests.
const users = 167

func repoRoot(b *testing.B) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(file))
}

// BenchmarkManifests renders, lints and validates ~1,000 manifests in
// process, then does the same rendering and linting with python3-jinja2 and
// Debian's yamllint, and reports the ratio (target ≥ 10× faster).
func BenchmarkManifests(b *testing.B) {
	root := filepath.Join(repoRoot(b), "examples", "bird-flock")
	templates, _ := filepath.Glob(filepath.Join(root, "templates", "*.j2"))
	if len(templates) != 6 {
		b.Fatalf("want the 6 bird-flock templates, found %d", len(templates))
	}
	for _, tool := range []string{"/usr/bin/python3", "/usr/bin/yamllint"} {
		if _, err := os.Stat(tool); err != nil {
			b.Fatalf("reference tool missing (make deps installs it): %v", err)
		}
	}
	eng, err := render.New(render.Options{Root: root})
	if err != nil {
		b.Fatal(err)
	}
	conf, err := yamllint.ParseConfig(lintConfig)
	if err != nil {
		b.Fatal(err)
	}
	val, err := validate.New(validate.Options{})
	if err != nil {
		b.Fatal(err)
	}

	ours := func() int {
		n := 0
		for u := 0; u < users; u++ {
			vars := map[string]any{"username": fmt.Sprintf("user%d", u), "version": fmt.Sprintf("%040x", u)}
			for _, t := range templates {
				name := filepath.Base(t)
				out, err := eng.RenderString("templates/"+name, vars)
				if err != nil {
					b.Fatal(err)
				}
				text, err := yamllint.Decode([]byte(out))
				if err != nil {
					b.Fatal(err)
				}
				if probs := yamllint.Lint(text, conf, name); len(probs) > 0 {
					b.Fatalf("lint problems in %s: %v", name, probs)
				}
				if res := val.Validate(name, []byte(out)); !res.Valid() {
					b.Fatalf("invalid %s: %v", name, res.Problems)
				}
				n++
			}
		}
		return n
	}

	// The reference: python3-jinja2 renders the same files to disk, then
	// yamllint lints them (kubeval has no offline Debian package).
	script := filepath.Join(b.TempDir(), "render.py")
	out := b.TempDir()
	os.WriteFile(script, []byte(`import jinja2, sys, os
root, out, users = sys.argv[1], sys.argv[2], int(sys.argv[3])
env = jinja2.Environment(loader=jinja2.FileSystemLoader(root), undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True, extensions=["jinja2.ext.do", "jinja2.ext.loopcontrols"])
names = sorted(n for n in os.listdir(os.path.join(root, "templates")) if n.endswith(".j2"))
for u in range(users):
    for n in names:
        t = env.get_template("templates/" + n)
        with open(os.path.join(out, "%d-%s" % (u, n[:-3])), "w") as f:
            f.write(t.render(username="user%d" % u, version="%040x" % u))
`), 0o644)
	// reference returns the CPU time the tools used.
	reference := func() time.Duration {
		var cpu time.Duration
		for _, args := range [][]string{
			{"/usr/bin/python3", script, root, out, fmt.Sprint(users)},
			{"/usr/bin/yamllint", "-d", lintConfig, "-f", "parsable", out},
		} {
			cmd := exec.Command(args[0], args[1:]...)
			if o, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("%s: %v\n%s", args[0], err, o)
			}
			cpu += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
		}
		return cpu
	}
	selfCPU := func() time.Duration {
		var ru syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}

	// Wall time and CPU time: on a loaded machine CPU time is the steadier.
	var oursT, refT, oursCPU, refCPU time.Duration
	var n int
	for i := 0; i < b.N; i++ {
		start, cpu := time.Now(), selfCPU()
		n = ours()
		oursT += time.Since(start)
		oursCPU += selfCPU() - cpu
		start = time.Now()
		refCPU += reference()
		refT += time.Since(start)
	}
	b.ReportMetric(float64(refCPU)/float64(oursCPU), "x-faster-cpu")
	b.ReportMetric(float64(n), "manifests")
	b.ReportMetric(oursT.Seconds()/float64(b.N), "runner-s")
	b.ReportMetric(refT.Seconds()/float64(b.N), "python-s")
	b.ReportMetric(float64(refT)/float64(oursT), "x-faster")
}
