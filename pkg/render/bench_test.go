package render

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

const benchTemplate = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-%[1]d-{{ username }}
  labels:
{%%- for k, v in labels|dictsort %%}
    {{ k }}: {{ v }}
{%%- endfor %%}
spec:
  replicas: {{ replicas | default(1) }}
  revisionHistoryLimit: 3
  selector:
    matchLabels:
      app: app-%[1]d-{{ username }}
  template:
    metadata:
      labels:
        app: app-%[1]d-{{ username }}
    spec:
      containers:
        - name: app-%[1]d
          image: ghcr.io/{{ username | lower }}/app-%[1]d:{{ version }}
          ports:
{%%- for p in ports %%}
            - containerPort: {{ p }}
{%%- endfor %%}
          resources:
            requests: {memory: 32Mi, cpu: 250m}
            limits: {memory: 128Mi, cpu: 500m}
{%%- if env %%}
          env:
{%%- for e in env %%}
            - name: {{ e.name | upper }}
              value: "{{ e.value }}"
{%%- endfor %%}
{%%- endif %%}
`

const benchData = `{"username": "octocat", "version": "0123456789abcdef", "replicas": 2,
 "labels": {"app": "birds", "tier": "web", "team": "unix"},
 "ports": [8080, 9090], "env": [{"name": "mode", "value": "prod"}, {"name": "log", "value": "info"}]}`

// benchCorpus writes n generated templates and the data file into a new
// folder and returns it with the template names.
func benchCorpus(b *testing.B, n int) (dir string, names []string) {
	b.Helper()
	dir = b.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "templates"), 0o755); err != nil {
		b.Fatal(err)
	}
	for i := range n {
		name := fmt.Sprintf("templates/app-%04d.yaml.j2", i)
		if err := os.WriteFile(filepath.Join(dir, name), fmt.Appendf(nil, benchTemplate, i), 0o644); err != nil {
			b.Fatal(err)
		}
		names = append(names, name)
	}
	if err := os.WriteFile(filepath.Join(dir, "data.json"), []byte(benchData), 0o644); err != nil {
		b.Fatal(err)
	}
	return dir, names
}

// renderOurs renders every template into a fresh out folder, atomically.
func renderOurs(b *testing.B, dir string, names []string, out string) {
	b.Helper()
	data, err := LoadData(filepath.Join(dir, "data.json"))
	if err != nil {
		b.Fatal(err)
	}
	e, err := New(Options{Root: dir})
	if err != nil {
		b.Fatal(err)
	}
	jobs := make([]Job, len(names))
	for i, n := range names {
		jobs[i] = Job{Template: n, Output: filepath.Join(out, filepath.Base(n[:len(n)-3]))}
	}
	if _, err := e.RenderFiles(jobs, data, FilesOptions{Clean: []string{out}}); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkRender1000 renders 1,000 generated manifests in-process.
func BenchmarkRender1000(b *testing.B) {
	dir, names := benchCorpus(b, 1000)
	b.ResetTimer()
	for i := range b.N {
		renderOurs(b, dir, names, filepath.Join(dir, fmt.Sprintf("out%d", i)))
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "µs/manifest")
}

// BenchmarkRender1000Jinja2 renders the same 1,000 manifests with
// python3-jinja2 (one process, jinjanator settings), then once with runner,
// and reports how many times faster runner is.
func BenchmarkRender1000Jinja2(b *testing.B) {
	py := needJinja2(b)
	dir, names := benchCorpus(b, 1000)
	driver, err := filepath.Abs("testdata/jinja_render.py")
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := range b.N {
		out := filepath.Join(dir, fmt.Sprintf("ref%d", i))
		if err := os.Mkdir(out, 0o755); err != nil {
			b.Fatal(err)
		}
		args := append([]string{driver, "--out", out, dir, filepath.Join(dir, "data.json")}, names...)
		if msg, err := exec.Command(py, args...).CombinedOutput(); err != nil {
			b.Fatalf("jinja2: %v\n%s", err, msg)
		}
	}
	b.StopTimer()
	python := b.Elapsed() / time.Duration(b.N)

	start := time.Now()
	renderOurs(b, dir, names, filepath.Join(dir, "ours"))
	ours := time.Since(start)

	// same bytes, or the comparison means nothing
	for _, n := range names[:10] {
		base := filepath.Base(n[:len(n)-3])
		a, _ := os.ReadFile(filepath.Join(dir, "ref0", base))
		o, _ := os.ReadFile(filepath.Join(dir, "ours", base))
		if string(a) != string(o) {
			b.Fatalf("%s differs:\nrunner: %q\njinja2: %q", base, o, a)
		}
	}
	b.ReportMetric(python.Seconds(), "jinja2-s")
	b.ReportMetric(ours.Seconds(), "runner-s")
	b.ReportMetric(python.Seconds()/ours.Seconds(), "x-faster")
}
