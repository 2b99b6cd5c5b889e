package preview

import (
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/birdflock/runner/pkg/container"
	"github.com/birdflock/runner/pkg/containertest"
	"github.com/birdflock/runner/pkg/registry"
)

const testManifests = `apiVersion: apps/v1
kind: Deployment
metadata: {name: api}
spec:
  replicas: 2
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api, tier: back}}
    spec:
      containers:
        - name: api
          image: HOST/t/api:1
          ports: [{containerPort: 8080}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: web
          image: HOST/t/web:1
---
apiVersion: v1
kind: Service
metadata: {name: api}
spec:
  selector: {app: api}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: app}
spec:
  rules:
    - host: app.example.com
      http:
        paths:
          - {path: /api, pathType: Prefix, backend: {service: {name: api, port: {name: http}}}}
          - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}
`

// TestStartServesIngressRoutes runs two Deployments of busybox httpd (two
// replicas of one) from runner's registry, which is down when Start begins:
// Start must serve it again from the state dir, route by path, take turns
// between replicas and remove everything on Close. Every container gets
// Options.Limits as its cgroup limits.
func TestStartServesIngressRoutes(t *testing.T) {
	containertest.Require(t, containertest.Root, containertest.Runc, containertest.Busybox)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	state := t.TempDir()
	srv, err := registry.Serve(ctx, "127.0.0.1:0", registry.EmbeddedDir(state))
	if err != nil {
		t.Fatal(err)
	}
	host := srv.Addr()
	c := registry.New(registry.Options{})
	api := containertest.Image(t, containertest.Alpine(t), v1.Config{Cmd: []string{"httpd", "-f", "-p", "8080", "-h", "/www"}},
		containertest.Layer(t, containertest.Entry{Name: "www/"}, containertest.Entry{Name: "www/api/"}, containertest.Entry{Name: "www/api/index.html", Body: "api"}))
	web := containertest.HTTPDImage(t, "80", "web")
	for name, img := range map[string]v1.Image{"api": api, "web": web} {
		if _, err := c.Push(ctx, registry.FromImage(img), host+"/t/"+name, []string{"1"}); err != nil {
			t.Fatal(err)
		}
	}
	srv.Close() // as after `make demo` has ended: Start brings it back

	repo := t.TempDir()
	os.Mkdir(filepath.Join(repo, "k8s"), 0o755)
	if err := os.WriteFile(filepath.Join(repo, "k8s", "app.yaml"), []byte(strings.ReplaceAll(testManifests, "HOST", host)), 0o644); err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	limits := container.Limits{Pids: 200, Memory: 256 << 20}
	p, err := Start(ctx, Options{Repo: repo, Addr: "127.0.0.1:0", StateDir: state, Log: &log, Limits: limits})
	if err != nil {
		t.Fatalf("%v\nlog:\n%s", err, log.String())
	}
	closed := false
	defer func() {
		if !closed {
			p.Close(context.WithoutCancel(ctx))
		}
	}()
	if registry.Ping(ctx, host, time.Second) {
		t.Errorf("the registry Start brought up for the pull is still serving on %s", host)
	}
	if len(p.Pods) != 3 {
		t.Fatalf("%d pods, want 3 (api ×2, web ×1)", len(p.Pods))
	}
	get := func(path string) (int, string, string) {
		t.Helper()
		resp, err := http.Get(p.URL() + strings.TrimPrefix(path, "/"))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, strings.TrimSpace(string(b)), resp.Header.Get("X-Preview-Pod")
	}
	pods := map[string]bool{}
	for range 4 {
		code, body, pod := get("/api/")
		if code != 200 || body != "api" {
			t.Fatalf("GET /api/: %d %q from %s, want 200 \"api\"", code, body, pod)
		}
		pods[pod] = true
	}
	if !pods["api-0"] || !pods["api-1"] || len(pods) != 2 {
		t.Errorf("/api/ was served by %v, want api-0 and api-1 in turn", pods)
	}
	if code, body, pod := get("/"); code != 200 || body != "web" || pod != "web-0" {
		t.Errorf("GET /: %d %q from %s, want 200 \"web\" from web-0", code, body, pod)
	}
	if _, _, pod := get("/apiary"); pod != "web-0" {
		t.Errorf("GET /apiary went to %s, want web-0 (a Prefix matches whole path elements)", pod)
	}

	var ids []string
	var runs []containertest.Running
	for _, pod := range p.Pods {
		for _, c := range pod.Containers {
			ids = append(ids, c.ID())
			run := containertest.Inspect(t, c.ID())
			runs = append(runs, run)
			if pids, mem := run.Limit(t, "pids"), run.Limit(t, "memory"); pids != "200" || mem != strconv.Itoa(256<<20) {
				t.Errorf("%s: pids limit %s, memory limit %s; want Options.Limits %+v", pod.Name, pids, mem, limits)
			}
		}
	}
	if err := p.Close(context.WithoutCancel(ctx)); err != nil {
		t.Fatal(err)
	}
	closed = true
	out, _ := exec.Command(containertest.RuncPath(), "list", "-q").Output()
	for _, id := range ids {
		if strings.Contains(string(out), id) {
			t.Errorf("container %s still in runc list after Close", id)
		}
	}
	for _, run := range runs {
		run.AssertReleased(t)
	}
	if left, _ := filepath.Glob(filepath.Join(state, "preview", "*")); len(left) > 0 {
		t.Errorf("left behind after Close: %v", left)
	}
	if _, err := http.Get(p.URL()); err == nil {
		t.Error("the proxy still answers after Close")
	}
}
