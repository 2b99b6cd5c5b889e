package preview

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestBirdFlockManifests(t *testing.T) {
	m, err := LoadDir(os.DirFS("../../examples/bird-flock"), "k8s")
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Deployments) != 2 || len(m.Services) != 2 || len(m.Ingresses) != 2 {
		t.Fatalf("got %d deployments, %d services, %d ingresses; want 2 each", len(m.Deployments), len(m.Services), len(m.Ingresses))
	}
	routes, err := Resolve(m)
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		"/":           "birds-app-front-end:80",
		"/index.html": "birds-app-front-end:80",
		"/api":        "birds-app-back-end:8080",
		"/api/birds":  "birds-app-back-end:8080",
		"/apiary":     "birds-app-front-end:80",
	} {
		r := Match(routes, path)
		if r == nil {
			t.Errorf("%s: no route", path)
			continue
		}
		got := r.Targets[0].Deployment.Name + ":" + strconv.Itoa(r.Targets[0].Port)
		if got != want {
			t.Errorf("%s → %s, want %s", path, got, want)
		}
	}
}

func TestMatch(t *testing.T) {
	routes := []*Route{
		{Path: "/", PathType: "Prefix", Service: "root"},
		{Path: "/a/", PathType: "Prefix", Service: "a"},
		{Path: "/a/b", PathType: "Prefix", Service: "ab"},
		{Path: "/a/b", PathType: "Exact", Service: "ab-exact"},
		{Path: "/x", PathType: "Exact", Service: "x"},
	}
	for path, want := range map[string]string{
		"/":      "root",
		"/a":     "a",
		"/a/":    "a",
		"/a/c":   "a",
		"/ab":    "root",
		"/a/b":   "ab-exact",
		"/a/b/":  "ab",
		"/a/b/c": "ab",
		"/x":     "x",
		"/x/y":   "root",
	} {
		if r := Match(routes, path); r == nil || r.Service != want {
			t.Errorf("%s → %v, want %s", path, r, want)
		}
	}
	only := []*Route{{Path: "/api", PathType: "Prefix", Service: "api"}, {Path: "/", PathType: "Prefix", Default: true, Service: "def"}}
	if r := Match(only, "/other"); r == nil || r.Service != "def" {
		t.Errorf("/other → %v, want the default backend", r)
	}
	if r := Match(only[:1], "/other"); r != nil {
		t.Errorf("/other → %v, want none", r)
	}
}

func TestManifestErrorsHavePositions(t *testing.T) {
	for name, tc := range map[string]struct{ yaml, want string }{
		"no pathType": {`apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web}
spec:
  rules:
    - http:
        paths:
          - path: /
            backend: {service: {name: web, port: {number: 80}}}
`, "k8s/x.yaml:8:13: ingress web: path \"/\" has no pathType"},
		"no image": {`kind: Deployment
metadata: {name: d}
spec:
  template:
    spec:
      containers:
        - name: c
`, "k8s/x.yaml:7:11: deployment d: container \"c\" has no image"},
		"bad yaml": {"kind: [", "k8s/x.yaml: yaml: line 1"},
	} {
		t.Run(name, func(t *testing.T) {
			err := (&Manifests{}).Add("k8s/x.yaml", []byte(tc.yaml))
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q…", err, tc.want)
			}
		})
	}
}

func TestResolveErrors(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "k8s"), 0o755)
	doc := `kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: 127.0.0.1:1/web:1, ports: [{containerPort: 80}]}]
---
kind: Service
metadata: {name: web}
spec:
  selector: {app: other}
  ports: [{port: 80}]
---
kind: Ingress
metadata: {name: web}
spec:
  rules:
    - http:
        paths:
          - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}
`
	os.WriteFile(filepath.Join(dir, "k8s", "all.yaml"), []byte(doc), 0o644)
	m, err := LoadDir(os.DirFS(dir), "k8s")
	if err != nil {
		t.Fatal(err)
	}
	if m.Deployments[0].Replicas != 2 {
		t.Errorf("replicas %d, want 2", m.Deployments[0].Replicas)
	}
	_, err = Resolve(m)
	want := "k8s/all.yaml:22:13: ingress web: service web (k8s/all.yaml:10:1) selects no Deployment (selector app=other)"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
}
