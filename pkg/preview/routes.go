package preview

import (
	"fmt"
	"sort"
	"strings"
)

// Route is one Ingress path resolved through its Service to the pods that
// serve it.
type Route struct {
	Path     string
	PathType string // Prefix or Exact (ImplementationSpecific becomes Prefix)
	Default  bool   // an Ingress defaultBackend: used when no path matches
	Ingress  string
	Service  string
	Port     int // the Service port
	Targets  []Target
	Pos      Pos
}

// Target is a container port of a Deployment's pods.
type Target struct {
	Deployment *Deployment
	Container  int // index in Deployment.Containers
	Port       int
}

func (r *Route) String() string {
	p := r.Path + " (" + r.PathType + ")"
	if r.Default {
		p = "default backend"
	}
	return fmt.Sprintf("%s → service %s:%d", p, r.Service, r.Port)
}

// Resolve follows every Ingress path to its Service port and on to the
// Deployments whose pod labels match the Service's selector.
func Resolve(m *Manifests) ([]*Route, error) {
	var routes []*Route
	add := func(in *Ingress, path, pathType string, def bool, b Backend) error {
		r := &Route{Path: path, PathType: pathType, Default: def, Ingress: in.Name, Service: b.Service, Pos: b.Pos}
		if r.PathType == "ImplementationSpecific" {
			r.PathType = "Prefix"
		}
		if err := resolveBackend(m, b, r); err != nil {
			return fmt.Errorf("%s: ingress %s: %w", b.Pos, in.Name, err)
		}
		routes = append(routes, r)
		return nil
	}
	for _, in := range m.Ingresses {
		for _, p := range in.Paths {
			if err := add(in, p.Path, p.PathType, false, p.Backend); err != nil {
				return nil, err
			}
		}
		if in.Default != nil {
			if err := add(in, "/", "Prefix", true, *in.Default); err != nil {
				return nil, err
			}
		}
	}
	return routes, nil
}

func resolveBackend(m *Manifests, b Backend, r *Route) error {
	var svc *Service
	for _, s := range m.Services {
		if s.Name == b.Service {
			svc = s
		}
	}
	if svc == nil {
		return fmt.Errorf("no Service named %q in the manifests", b.Service)
	}
	var sp *ServicePort
	for i, p := range svc.Ports {
		if (b.PortName != "" && p.Name == b.PortName) || (b.PortName == "" && p.Port == b.Port) {
			sp = &svc.Ports[i]
		}
	}
	if sp == nil {
		want := fmt.Sprint(b.Port)
		if b.PortName != "" {
			want = fmt.Sprintf("%q", b.PortName)
		}
		return fmt.Errorf("service %s (%s) has no port %s", svc.Name, svc.Pos, want)
	}
	r.Port = sp.Port
	if len(svc.Selector) == 0 {
		return fmt.Errorf("service %s (%s) has no selector", svc.Name, svc.Pos)
	}
	for _, d := range m.Deployments {
		if !selects(svc.Selector, d.Labels) {
			continue
		}
		t, err := target(d, *sp)
		if err != nil {
			return fmt.Errorf("service %s: %w", svc.Name, err)
		}
		r.Targets = append(r.Targets, t)
	}
	if len(r.Targets) == 0 {
		return fmt.Errorf("service %s (%s) selects no Deployment (selector %s)", svc.Name, svc.Pos, labelString(svc.Selector))
	}
	return nil
}

// target finds the container of d's pod that serves sp.
func target(d *Deployment, sp ServicePort) (Target, error) {
	for i, c := range d.Containers {
		for _, p := range c.Ports {
			if (sp.TargetName != "" && p.Name == sp.TargetName) || (sp.TargetName == "" && p.Port == sp.TargetPort) {
				return Target{Deployment: d, Container: i, Port: p.Port}, nil
			}
		}
	}
	if sp.TargetName == "" && len(d.Containers) == 1 {
		// Kubernetes does not require the port to be declared.
		return Target{Deployment: d, Container: 0, Port: sp.TargetPort}, nil
	}
	want := fmt.Sprint(sp.TargetPort)
	if sp.TargetName != "" {
		want = fmt.Sprintf("%q", sp.TargetName)
	}
	return Target{}, fmt.Errorf("deployment %s (%s) has no container port %s", d.Name, d.Pos, want)
}

func selects(sel, labels map[string]string) bool {
	for k, v := range sel {
		if l, ok := labels[k]; !ok || l != v {
			return false
		}
	}
	return true
}

func labelString(m map[string]string) string {
	var kv []string
	for k, v := range m {
		kv = append(kv, k+"="+v)
	}
	sort.Strings(kv)
	return strings.Join(kv, ",")
}

// Match picks the route for a request path as ingress-nginx does: the
// longest matching path wins, Exact before Prefix on a tie; a Prefix
// matches whole path elements (/api matches /api and /api/x, not /apix);
// default backends only when nothing else matches. Nil when none matches.
func Match(routes []*Route, path string) *Route {
	var best, def *Route
	bestLen := -1
	for _, r := range routes {
		if r.Default {
			if def == nil {
				def = r
			}
			continue
		}
		n, ok := matchLen(r, path)
		if !ok {
			continue
		}
		if n > bestLen || (n == bestLen && r.PathType == "Exact" && best.PathType != "Exact") {
			best, bestLen = r, n
		}
	}
	if best == nil {
		return def
	}
	return best
}

func matchLen(r *Route, path string) (int, bool) {
	if r.PathType == "Exact" {
		return len(r.Path), path == r.Path
	}
	p := strings.TrimSuffix(r.Path, "/")
	return len(p), p == "" || path == p || strings.HasPrefix(path, p+"/")
}
