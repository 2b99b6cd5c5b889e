package workflow

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Service is one entry of jobs.<id>.services: a container started before
// the job's first step and removed at its end.
type Service struct {
	Label string // the key under services:, job.services.<label>
	Pos          // where the label is written
	// Image is the image reference; an expression may make it empty,
	// which means no service (as on GitHub).
	Image    Value
	Username Value // credentials.username
	Password Value // credentials.password
	Env      []KV
	Ports    []Value
	Options  Value
}

// services reads jobs.<id>.services. A service is a mapping, or a string
// that is its image. Ports and options without expressions are checked
// here; volumes are refused.
func (p *parser) services(n *yaml.Node, where string) []*Service {
	n = resolve(n)
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil
	}
	if n.Kind == yaml.ScalarNode && strings.Contains(n.Value, "${{") {
		p.errf(posOf(n), "unsupported", "%s: services computed by an expression are valid on GitHub, but runner starts only services written out as a mapping", where)
		return nil
	}
	var out []*Service
	p.mapping(n, where, map[string]func(k, v *yaml.Node){"*": func(k, v *yaml.Node) {
		s := &Service{Label: k.Value, Pos: posOf(k)}
		at := where + "." + k.Value
		v = resolve(v)
		if !jobIDPattern.MatchString(s.Label) {
			p.errf(s.Pos, "syntax", "%s: a service label must start with a letter or _ and contain only letters, digits, - and _", at)
		}
		if v.Kind == yaml.ScalarNode {
			s.Image = p.scalar(v, at)
			out = append(out, s)
			return
		}
		p.mapping(v, at, map[string]func(k, v *yaml.Node){
			"image":       func(_, v *yaml.Node) { s.Image = p.scalar(v, at+".image") },
			"credentials": func(_, v *yaml.Node) { s.Username, s.Password = p.credentials(v, at) },
			"env":         func(_, v *yaml.Node) { s.Env = p.kvs(v, at+".env") },
			"ports": func(_, v *yaml.Node) {
				s.Ports = p.scalarList(v, at+".ports")
				seen := map[int]bool{}
				for _, pv := range s.Ports {
					if strings.Contains(pv.Raw, "${{") {
						continue
					}
					sp, err := ParseServicePort(pv.Raw)
					switch {
					case err != nil:
						p.errf(pv.Pos, "services", "%s.ports: %v", at, err)
					case seen[sp.Container]:
						p.errf(pv.Pos, "services", "%s.ports: container port %d is listed twice (runner publishes each container port once)", at, sp.Container)
					}
					seen[sp.Container] = true
				}
			},
			"options": func(_, v *yaml.Node) {
				s.Options = p.scalar(v, at+".options")
				if strings.Contains(s.Options.Raw, "${{") {
					return
				}
				if _, err := ParseServiceOptions(s.Options.Raw); err != nil {
					p.errf(OptionPos(s.Options, err), "services", "%s.options: %v", at, err)
				}
			},
			"volumes": func(k, _ *yaml.Node) {
				p.errf(posOf(k), "unsupported", "%s: \"volumes\" is not supported by runner for service containers yet", at)
			},
		})
		if !s.Image.Set {
			p.errf(s.Pos, "syntax", "%s needs an image", at)
		}
		out = append(out, s)
	}})
	return out
}

// ServicePort is one entry of a service's ports: a container TCP port and
// the host port it is published on (0: an ephemeral one), always on
// 127.0.0.1.
type ServicePort struct {
	Container int
	Host      int
}

// ParseServicePort reads a ports entry as docker's -p does: "CONTAINER",
// "HOST:CONTAINER", "IP:HOST:CONTAINER" or "IP::CONTAINER", with an
// optional "/tcp". Only TCP and a loopback IP are accepted: runner
// publishes on 127.0.0.1.
func ParseServicePort(s string) (ServicePort, error) {
	var p ServicePort
	spec := strings.TrimSpace(s)
	if i := strings.LastIndexByte(spec, '/'); i >= 0 {
		if proto := spec[i+1:]; proto != "tcp" {
			return p, fmt.Errorf("port %q: only TCP ports are published by runner, not %q", s, proto)
		}
		spec = spec[:i]
	}
	parts := strings.Split(spec, ":")
	var ip, host string
	switch len(parts) {
	case 1:
	case 2:
		host = parts[0]
	case 3:
		ip, host = parts[0], parts[1]
	default:
		return p, fmt.Errorf("port %q: want CONTAINER, HOST:CONTAINER or 127.0.0.1:HOST:CONTAINER", s)
	}
	if ip != "" && ip != "localhost" {
		if a := net.ParseIP(strings.Trim(ip, "[]")); a == nil || !a.IsLoopback() {
			return p, fmt.Errorf("port %q: runner publishes service ports on 127.0.0.1 only, not on %s", s, ip)
		}
	}
	num := func(v, what string) (int, error) {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 65535 {
			return 0, fmt.Errorf("port %q: the %s port %q is not a number from 1 to 65535", s, what, v)
		}
		return n, nil
	}
	var err error
	if p.Container, err = num(parts[len(parts)-1], "container"); err != nil {
		return p, err
	}
	if host != "" {
		if p.Host, err = num(host, "host"); err != nil {
			return p, err
		}
	}
	return p, nil
}

// ServiceOptions are the docker create options of a service that runner
// understands.
type ServiceOptions struct {
	// HealthCmd is the health check, run with /bin/sh -c inside the
	// container (docker's CMD-SHELL); "" for none.
	HealthCmd         string
	HealthInterval    time.Duration // default 30s
	HealthTimeout     time.Duration // default 30s
	HealthRetries     int           // default 3
	HealthStartPeriod time.Duration // default 0
	Env               []string      // KEY=VALUE from --env/-e
	// Entrypoint replaces the image's entrypoint (and drops its Cmd, as
	// docker does) when EntrypointSet.
	Entrypoint    string
	EntrypointSet bool
}

// OptionError is a problem with one word of a service's options, at
// Offset bytes into the options text.
type OptionError struct {
	Offset int
	Msg    string
}

func (e *OptionError) Error() string { return e.Msg }

// OptionPos is where an OptionError points in the file, given the options
// value; the value's own position when the word cannot be placed.
func OptionPos(v Value, err error) Pos {
	oe, ok := err.(*OptionError)
	if !ok || v.Line == 0 {
		return v.Pos
	}
	before := v.Raw[:min(oe.Offset, len(v.Raw))]
	nl := strings.Count(before, "\n")
	switch {
	case v.Folded != nil: // folded block: each line break became one space
		off := oe.Offset
		for i, sp := range v.Folded {
			if off <= sp.Len || i == len(v.Folded)-1 {
				return Pos{Line: sp.Line, Col: sp.Col + off}
			}
			off -= sp.Len + 1
		}
		return v.Pos // its lines cannot be placed: the ">"
	case v.Indent > 0: // literal block: lines start at Indent, one line down
		return Pos{Line: v.Line + 1 + nl, Col: v.Indent + len(before) - (strings.LastIndexByte(before, '\n') + 1)}
	case nl == 0 && !strings.Contains(v.Raw, "\\"):
		col := v.Col + oe.Offset
		if v.Quoted {
			col++
		}
		return Pos{Line: v.Line, Col: col}
	}
	return v.Pos
}

// ParseServiceOptions reads a service's options. Supported: --health-cmd,
// --health-interval, --health-timeout, --health-retries,
// --health-start-period, --no-healthcheck, --env/-e and --entrypoint, as
// "--opt value" or "--opt=value". Any other option is an error naming it.
func ParseServiceOptions(s string) (ServiceOptions, error) {
	o := ServiceOptions{HealthInterval: 30 * time.Second, HealthTimeout: 30 * time.Second, HealthRetries: 3}
	words, err := splitWords(s)
	if err != nil {
		return o, err
	}
	for i := 0; i < len(words); i++ {
		w := words[i]
		name, val, hasVal := strings.Cut(w.text, "=")
		if !strings.HasPrefix(name, "-") {
			return o, &OptionError{w.off, fmt.Sprintf("%q is not an option (options are docker create flags such as --health-cmd)", w.text)}
		}
		if strings.HasPrefix(name, "-") && !strings.HasPrefix(name, "--") && len(name) > 2 && name[1] == 'e' {
			name, val, hasVal = "-e", w.text[2:], true // -eKEY=VALUE
		}
		takes := map[string]bool{
			"--health-cmd": true, "--health-interval": true, "--health-timeout": true, "--health-retries": true,
			"--health-start-period": true, "--env": true, "-e": true, "--entrypoint": true,
		}
		if name == "--no-healthcheck" && !hasVal {
			o.HealthCmd = ""
			continue
		}
		if !takes[name] {
			return o, &OptionError{w.off, fmt.Sprintf("option %s is not supported by runner for service containers (supported: --health-cmd, --health-interval, --health-timeout, --health-retries, --health-start-period, --no-healthcheck, --env/-e, --entrypoint)", name)}
		}
		off := w.off
		if !hasVal {
			if i+1 >= len(words) {
				return o, &OptionError{w.off, fmt.Sprintf("option %s needs a value", name)}
			}
			i++
			val, off = words[i].text, words[i].off
		}
		dur := func() (time.Duration, error) {
			d, err := time.ParseDuration(val)
			if err != nil || d < 0 {
				return 0, &OptionError{off, fmt.Sprintf("option %s: %q is not a duration such as 10s", name, val)}
			}
			return d, nil
		}
		switch name {
		case "--health-cmd":
			o.HealthCmd = val
		case "--health-interval":
			if o.HealthInterval, err = dur(); err == nil && o.HealthInterval == 0 {
				o.HealthInterval = 30 * time.Second // docker: 0 is the default
			}
		case "--health-timeout":
			if o.HealthTimeout, err = dur(); err == nil && o.HealthTimeout == 0 {
				o.HealthTimeout = 30 * time.Second
			}
		case "--health-start-period":
			o.HealthStartPeriod, err = dur()
		case "--health-retries":
			n, cerr := strconv.Atoi(val)
			if cerr != nil || n < 0 {
				return o, &OptionError{off, fmt.Sprintf("option %s: %q is not a number", name, val)}
			}
			if n == 0 {
				n = 3
			}
			o.HealthRetries = n
		case "--env", "-e":
			if !strings.Contains(val, "=") {
				return o, &OptionError{off, fmt.Sprintf("option %s %s: give KEY=VALUE (runner does not pass its own environment to services)", name, val)}
			}
			o.Env = append(o.Env, val)
		case "--entrypoint":
			o.Entrypoint, o.EntrypointSet = val, true
		}
		if err != nil {
			return o, err
		}
	}
	return o, nil
}

type word struct {
	text string
	off  int // byte offset of the word's start
}

// splitWords splits options like a shell line: blanks separate words,
// '…' and "…" quote (a backslash escapes in "…" and outside quotes).
func splitWords(s string) ([]word, error) {
	var out []word
	var cur strings.Builder
	in, start := false, 0
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote == '\'':
			if c == '\'' {
				quote = 0
			} else {
				cur.WriteByte(c)
			}
			continue
		case quote == '"':
			switch {
			case c == '"':
				quote = 0
			case c == '\\' && i+1 < len(s) && strings.IndexByte("\"\\$`", s[i+1]) >= 0:
				i++
				cur.WriteByte(s[i])
			default:
				cur.WriteByte(c)
			}
			continue
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			if in {
				out = append(out, word{cur.String(), start})
				cur.Reset()
				in = false
			}
			continue
		}
		if !in {
			in, start = true, i
		}
		switch c {
		case '\'', '"':
			quote = c
		case '\\':
			if i+1 < len(s) {
				i++
				cur.WriteByte(s[i])
			}
		default:
			cur.WriteByte(c)
		}
	}
	if quote != 0 {
		return nil, &OptionError{start, fmt.Sprintf("unterminated %c quote", quote)}
	}
	if in {
		out = append(out, word{cur.String(), start})
	}
	return out, nil
}
