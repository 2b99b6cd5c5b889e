package preview

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Pos is a place in a manifest file, for messages.
type Pos struct {
	File         string
	Line, Column int
}

func (p Pos) String() string { return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Column) }

// Manifests are the objects preview understands; other kinds are ignored.
type Manifests struct {
	Deployments []*Deployment
	Services    []*Service
	Ingresses   []*Ingress
}

// Deployment is an apps/v1 Deployment: Replicas copies of its pod.
type Deployment struct {
	Name       string
	Pos        Pos
	Replicas   int               // default 1, as in Kubernetes
	Labels     map[string]string // the pod template's labels
	Containers []*Container
}

// Container is one container of a Deployment's pod.
type Container struct {
	Name  string
	Image string
	Pos   Pos // of the image
	Ports []ContainerPort
	Env   []string // KEY=VALUE, from env entries with a value
	Args  []string // replace the image's Cmd
}

// ContainerPort is a declared containerPort.
type ContainerPort struct {
	Name string
	Port int
}

// Service is a v1 Service: a port that selects pods by label.
type Service struct {
	Name     string
	Pos      Pos
	Selector map[string]string
	Ports    []ServicePort
}

// ServicePort maps Port to TargetPort (a number, or a container port's
// name in TargetName; default: Port).
type ServicePort struct {
	Name       string
	Port       int
	TargetPort int
	TargetName string
}

// Ingress is a networking.k8s.io/v1 Ingress; hosts are ignored.
type Ingress struct {
	Name    string
	Pos     Pos
	Paths   []IngressPath
	Default *Backend // spec.defaultBackend
}

// IngressPath is one rule path.
type IngressPath struct {
	Path     string
	PathType string // Prefix, Exact or ImplementationSpecific (taken as Prefix)
	Backend  Backend
	Pos      Pos
}

// Backend names a Service port by number or name.
type Backend struct {
	Service  string
	Port     int
	PortName string
	Pos      Pos
}

// LoadDir reads every *.yaml and *.yml file of dir in fsys (e.g. "k8s"),
// in name order. Errors name FILE:LINE:COL.
func LoadDir(fsys fs.FS, dir string) (*Manifests, error) {
	return loadDir(fsys, dir, dir)
}

// loadDir is LoadDir with the directory named shown in messages.
func loadDir(fsys fs.FS, dir, shown string) (*Manifests, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("manifests: %w", err)
	}
	m := &Manifests{}
	var names []string
	for _, e := range entries {
		if !e.IsDir() && (strings.HasSuffix(e.Name(), ".yaml") || strings.HasSuffix(e.Name(), ".yml")) {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	for _, n := range names {
		p := path.Join(dir, n)
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return nil, fmt.Errorf("manifests: %w", err)
		}
		if err := m.Add(path.Join(shown, n), data); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// Add parses the YAML documents of one file.
func (m *Manifests) Add(file string, data []byte) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
		if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
			continue // empty document
		}
		if err := m.addObject(file, doc.Content[0]); err != nil {
			return err
		}
	}
}

type meta struct {
	Kind     string `yaml:"kind"`
	Metadata struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Spec yaml.Node `yaml:"spec"`
}

func pos(file string, n *yaml.Node) Pos { return Pos{File: file, Line: n.Line, Column: n.Column} }

func (m *Manifests) addObject(file string, n *yaml.Node) error {
	var o meta
	if err := n.Decode(&o); err != nil {
		return fmt.Errorf("%s: %w", pos(file, n), err)
	}
	at := pos(file, n)
	switch o.Kind {
	case "Deployment":
		d, err := deployment(file, at, o)
		if err != nil {
			return err
		}
		m.Deployments = append(m.Deployments, d)
	case "Service":
		s, err := service(file, at, o)
		if err != nil {
			return err
		}
		m.Services = append(m.Services, s)
	case "Ingress":
		in, err := ingress(file, at, o)
		if err != nil {
			return err
		}
		m.Ingresses = append(m.Ingresses, in)
	}
	return nil
}

func deployment(file string, at Pos, o meta) (*Deployment, error) {
	var spec struct {
		Replicas *int `yaml:"replicas"`
		Template struct {
			Metadata struct {
				Labels map[string]string `yaml:"labels"`
			} `yaml:"metadata"`
			Spec struct {
				Containers []yaml.Node `yaml:"containers"`
			} `yaml:"spec"`
		} `yaml:"template"`
	}
	if err := o.Spec.Decode(&spec); err != nil {
		return nil, fmt.Errorf("%s: deployment %s: %w", at, o.Metadata.Name, err)
	}
	d := &Deployment{Name: o.Metadata.Name, Pos: at, Replicas: 1, Labels: spec.Template.Metadata.Labels}
	if spec.Replicas != nil {
		if *spec.Replicas < 0 {
			return nil, fmt.Errorf("%s: deployment %s: replicas %d is negative", pos(file, &o.Spec), d.Name, *spec.Replicas)
		}
		d.Replicas = *spec.Replicas
	}
	if len(spec.Template.Spec.Containers) == 0 {
		return nil, fmt.Errorf("%s: deployment %s: no containers", at, d.Name)
	}
	for i := range spec.Template.Spec.Containers {
		cn := &spec.Template.Spec.Containers[i]
		var c struct {
			Name    string    `yaml:"name"`
			Image   yaml.Node `yaml:"image"`
			Command []string  `yaml:"command"`
			Args    []string  `yaml:"args"`
			Ports   []struct {
				Name          string `yaml:"name"`
				ContainerPort int    `yaml:"containerPort"`
			} `yaml:"ports"`
			Env []struct {
				Name  string  `yaml:"name"`
				Value *string `yaml:"value"`
			} `yaml:"env"`
		}
		if err := cn.Decode(&c); err != nil {
			return nil, fmt.Errorf("%s: deployment %s: %w", pos(file, cn), d.Name, err)
		}
		if c.Image.Value == "" {
			return nil, fmt.Errorf("%s: deployment %s: container %q has no image", pos(file, cn), d.Name, c.Name)
		}
		if len(c.Command) > 0 {
			return nil, fmt.Errorf("%s: deployment %s: container %q: command (replacing the entrypoint) is not supported; use args", pos(file, cn), d.Name, c.Name)
		}
		ct := &Container{Name: c.Name, Image: c.Image.Value, Pos: pos(file, &c.Image), Args: c.Args}
		for _, p := range c.Ports {
			ct.Ports = append(ct.Ports, ContainerPort{Name: p.Name, Port: p.ContainerPort})
		}
		for _, e := range c.Env {
			if e.Value != nil { // valueFrom (secrets, fields) has no meaning here
				ct.Env = append(ct.Env, e.Name+"="+*e.Value)
			}
		}
		d.Containers = append(d.Containers, ct)
	}
	return d, nil
}

func service(file string, at Pos, o meta) (*Service, error) {
	var spec struct {
		Selector map[string]string `yaml:"selector"`
		Ports    []struct {
			Name       string    `yaml:"name"`
			Port       int       `yaml:"port"`
			TargetPort yaml.Node `yaml:"targetPort"`
		} `yaml:"ports"`
	}
	if err := o.Spec.Decode(&spec); err != nil {
		return nil, fmt.Errorf("%s: service %s: %w", at, o.Metadata.Name, err)
	}
	s := &Service{Name: o.Metadata.Name, Pos: at, Selector: spec.Selector}
	for _, p := range spec.Ports {
		sp := ServicePort{Name: p.Name, Port: p.Port, TargetPort: p.Port}
		if v := p.TargetPort.Value; v != "" {
			if n, err := strconv.Atoi(v); err == nil {
				sp.TargetPort = n
			} else {
				sp.TargetPort, sp.TargetName = 0, v
			}
		}
		s.Ports = append(s.Ports, sp)
	}
	return s, nil
}

type rawBackend struct {
	Service struct {
		Name string `yaml:"name"`
		Port struct {
			Number int    `yaml:"number"`
			Name   string `yaml:"name"`
		} `yaml:"port"`
	} `yaml:"service"`
}

func (b rawBackend) backend(at Pos) Backend {
	return Backend{Service: b.Service.Name, Port: b.Service.Port.Number, PortName: b.Service.Port.Name, Pos: at}
}

func ingress(file string, at Pos, o meta) (*Ingress, error) {
	var spec struct {
		DefaultBackend *yaml.Node `yaml:"defaultBackend"`
		Rules          []struct {
			HTTP struct {
				Paths []yaml.Node `yaml:"paths"`
			} `yaml:"http"`
		} `yaml:"rules"`
	}
	if err := o.Spec.Decode(&spec); err != nil {
		return nil, fmt.Errorf("%s: ingress %s: %w", at, o.Metadata.Name, err)
	}
	in := &Ingress{Name: o.Metadata.Name, Pos: at}
	if n := spec.DefaultBackend; n != nil {
		var b rawBackend
		if err := n.Decode(&b); err != nil {
			return nil, fmt.Errorf("%s: ingress %s: %w", pos(file, n), in.Name, err)
		}
		d := b.backend(pos(file, n))
		in.Default = &d
	}
	for _, r := range spec.Rules {
		for i := range r.HTTP.Paths {
			n := &r.HTTP.Paths[i]
			var p struct {
				Path     string     `yaml:"path"`
				PathType string     `yaml:"pathType"`
				Backend  rawBackend `yaml:"backend"`
			}
			if err := n.Decode(&p); err != nil {
				return nil, fmt.Errorf("%s: ingress %s: %w", pos(file, n), in.Name, err)
			}
			at := pos(file, n)
			if p.Path == "" {
				p.Path = "/"
			}
			if !strings.HasPrefix(p.Path, "/") {
				return nil, fmt.Errorf("%s: ingress %s: path %q must start with /", at, in.Name, p.Path)
			}
			switch p.PathType {
			case "Prefix", "Exact", "ImplementationSpecific":
			case "":
				return nil, fmt.Errorf("%s: ingress %s: path %q has no pathType (Prefix or Exact)", at, in.Name, p.Path)
			default:
				return nil, fmt.Errorf("%s: ingress %s: pathType %q: want Prefix, Exact or ImplementationSpecific", at, in.Name, p.PathType)
			}
			in.Paths = append(in.Paths, IngressPath{Path: p.Path, PathType: p.PathType, Backend: p.Backend.backend(at), Pos: at})
		}
	}
	return in, nil
}
