package workflow

import (
	"fmt"
	"path"
	"strings"

	"gopkg.in/yaml.v3"
)

// Container is jobs.<id>.container: the image the job's steps run in.
type Container struct {
	Pos // where `container:` is written
	// Image is the image reference; an expression may make it empty,
	// which means the job runs on the host (as on GitHub).
	Image    Value
	Username Value // credentials.username
	Password Value // credentials.password
	Env      []KV
	Ports    []Value
	Volumes  []Value
	Options  Value
}

// container reads jobs.<id>.container: an image reference, or a mapping.
// Options and volumes without expressions are checked here.
func (p *parser) container(k, n *yaml.Node, where string) *Container {
	c := &Container{Pos: posOf(k)}
	n = resolve(n)
	if n.Kind == yaml.ScalarNode {
		c.Image = p.scalar(n, where)
		return c
	}
	p.mapping(n, where, map[string]func(k, v *yaml.Node){
		"image":       func(_, v *yaml.Node) { c.Image = p.scalar(v, where+".image") },
		"credentials": func(_, v *yaml.Node) { c.Username, c.Password = p.credentials(v, where) },
		"env":         func(_, v *yaml.Node) { c.Env = p.kvs(v, where+".env") },
		"ports":       func(_, v *yaml.Node) { c.Ports = p.scalarList(v, where+".ports") },
		"volumes": func(_, v *yaml.Node) {
			c.Volumes = p.scalarList(v, where+".volumes")
			for _, vol := range c.Volumes {
				if strings.Contains(vol.Raw, "${{") {
					continue
				}
				if _, err := ParseContainerVolume(vol.Raw); err != nil {
					p.errf(vol.Pos, "container", "%s.volumes: %v", where, err)
				}
			}
		},
		"options": func(_, v *yaml.Node) {
			c.Options = p.scalar(v, where+".options")
			if strings.Contains(c.Options.Raw, "${{") {
				return
			}
			if _, err := ParseContainerOptions(c.Options.Raw); err != nil {
				p.errf(OptionPos(c.Options, err), "container", "%s.options: %v", where, err)
			}
		},
	})
	if !c.Image.Set {
		p.errf(c.Pos, "syntax", "%s needs an image", where)
	}
	return c
}

// credentials reads the credentials of a job or service container.
func (p *parser) credentials(n *yaml.Node, where string) (username, password Value) {
	p.mapping(n, where+".credentials", map[string]func(k, v *yaml.Node){
		"username": func(_, v *yaml.Node) { username = p.scalar(v, where+".credentials.username") },
		"password": func(_, v *yaml.Node) { password = p.scalar(v, where+".credentials.password") },
	})
	return username, password
}

// ContainerOptions are the docker create options of a job container that
// runner understands.
type ContainerOptions struct {
	User     string   // --user: name, uid, name:group or uid:gid
	Workdir  string   // --workdir/-w: the container's own working directory
	Hostname string   // --hostname/-h
	Env      []string // KEY=VALUE from --env/-e
}

// containerOptionNames are the options ParseContainerOptions accepts, with
// the name each stands for.
var containerOptionNames = map[string]string{
	"--user": "--user", "-u": "--user",
	"--workdir": "--workdir", "-w": "--workdir",
	"--hostname": "--hostname", "-h": "--hostname",
	"--env": "--env", "-e": "--env",
}

// ParseContainerOptions reads a job container's options: --user/-u,
// --workdir/-w, --hostname/-h and --env/-e, as "--opt value" or
// "--opt=value" (-eK=V for short ones). Any other option is an error
// naming it: --entrypoint among them, since the job container's process
// is runner's own keep-alive, as on GitHub (which overrides it too).
func ParseContainerOptions(s string) (ContainerOptions, error) {
	var o ContainerOptions
	words, err := splitWords(s)
	if err != nil {
		return o, err
	}
	for i := 0; i < len(words); i++ {
		w := words[i]
		name, val, hasVal := strings.Cut(w.text, "=")
		if !strings.HasPrefix(name, "-") {
			return o, &OptionError{w.off, fmt.Sprintf("%q is not an option (options are docker create flags such as --user)", w.text)}
		}
		if !strings.HasPrefix(name, "--") && len(name) > 2 {
			name, val, hasVal = name[:2], w.text[2:], true // -uUSER, -eKEY=VALUE
		}
		long, ok := containerOptionNames[name]
		if !ok {
			return o, &OptionError{w.off, fmt.Sprintf("option %s is not supported by runner for job containers (supported: --user/-u, --workdir/-w, --hostname/-h, --env/-e)", name)}
		}
		off := w.off
		if !hasVal {
			if i+1 >= len(words) {
				return o, &OptionError{w.off, fmt.Sprintf("option %s needs a value", name)}
			}
			i++
			val, off = words[i].text, words[i].off
		}
		switch long {
		case "--user":
			if val == "" {
				return o, &OptionError{off, "option --user needs a user name or uid"}
			}
			o.User = val
		case "--workdir":
			if !path.IsAbs(val) {
				return o, &OptionError{off, fmt.Sprintf("option --workdir: %q is not an absolute path", val)}
			}
			o.Workdir = val
		case "--hostname":
			o.Hostname = val
		case "--env":
			if k, _, ok := strings.Cut(val, "="); !ok || k == "" {
				return o, &OptionError{off, fmt.Sprintf("option %s %s: give KEY=VALUE (runner does not pass its own environment to containers)", name, val)}
			}
			o.Env = append(o.Env, val)
		}
	}
	return o, nil
}

// ContainerVolume is one entry of a job container's volumes: a host
// directory (Source absolute) or a named volume (Source a name, kept under
// runner's state directory) mounted at Target.
type ContainerVolume struct {
	Source   string
	Target   string
	ReadOnly bool
}

// ParseContainerVolume reads a volumes entry as docker's -v does:
// "SOURCE:TARGET" or "SOURCE:TARGET:ro|rw". A lone "TARGET" (an anonymous
// volume) is refused: give it a name.
func ParseContainerVolume(s string) (ContainerVolume, error) {
	var v ContainerVolume
	parts := strings.Split(strings.TrimSpace(s), ":")
	switch len(parts) {
	case 2:
	case 3:
		switch parts[2] {
		case "ro":
			v.ReadOnly = true
		case "rw":
		default:
			return v, fmt.Errorf("volume %q: the mode must be ro or rw, not %q", s, parts[2])
		}
	default:
		return v, fmt.Errorf("volume %q: want SOURCE:TARGET or SOURCE:TARGET:ro (anonymous volumes are not supported by runner)", s)
	}
	v.Source, v.Target = parts[0], parts[1]
	if !path.IsAbs(v.Target) {
		return v, fmt.Errorf("volume %q: the target %q is not an absolute path", s, v.Target)
	}
	if !path.IsAbs(v.Source) {
		if v.Source == "" || strings.ContainsAny(v.Source, "/\\") || v.Source == "." || v.Source == ".." {
			return v, fmt.Errorf("volume %q: the source must be an absolute host path or a volume name", s)
		}
	}
	return v, nil
}

// container adds a job container's values, with the contexts GitHub
// allows in each.
func (l *exprList) container(c *Container, where string) {
	if c == nil {
		return
	}
	l.add(c.Image, where+".image", jobKey+"container")
	l.add(c.Username, where+".credentials.username", jobKey+"container.credentials")
	l.add(c.Password, where+".credentials.password", jobKey+"container.credentials")
	l.envs(c.Env, where+".env", jobKey+"container.env.<env_id>")
	for _, v := range c.Ports {
		l.add(v, where+".ports", jobKey+"container")
	}
	for _, v := range c.Volumes {
		l.add(v, where+".volumes", jobKey+"container")
	}
	l.add(c.Options, where+".options", jobKey+"container")
}
