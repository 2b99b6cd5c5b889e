package registry

import (
	"fmt"
	"net"
	"net/url"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// Mirror is one registry mirror: where to pull instead, and whether it
// speaks plain HTTP.
type Mirror struct {
	Host string // host[:port][/path], e.g. "127.0.0.1:5000"
	HTTP bool   // plain HTTP (from an http:// URL)
}

// Mirrors maps a registry (e.g. "docker.io") to the mirrors tried, in
// order, before it on every pull. The zero value has none. It implements
// pflag.Value, so `--registry-mirror docker.io=http://127.0.0.1:5000` can
// be given several times.
type Mirrors struct {
	m map[string][]Mirror
}

// canonicalRegistry folds Docker Hub's names into "docker.io".
func canonicalRegistry(r string) string {
	r = strings.ToLower(r)
	switch r {
	case "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com":
		return "docker.io"
	}
	return r
}

// Set adds one REGISTRY=URL pair, e.g. "docker.io=http://127.0.0.1:5000".
// A URL without scheme means HTTPS (plain HTTP for loopback hosts).
func (m *Mirrors) Set(v string) error {
	// Errors show the value without its userinfo: a mirror must not hold
	// credentials, and one that does must not print them.
	shown := hideUserinfo(v)
	reg, raw, ok := strings.Cut(strings.TrimSpace(v), "=")
	if !ok || reg == "" || raw == "" {
		return fmt.Errorf("registry mirror %q: want REGISTRY=URL, e.g. docker.io=http://127.0.0.1:5000", shown)
	}
	mir := Mirror{}
	switch {
	case strings.HasPrefix(raw, "http://"), strings.HasPrefix(raw, "https://"):
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			return fmt.Errorf("registry mirror %q: bad URL (no credentials, query or fragment)", shown)
		}
		mir.HTTP = u.Scheme == "http"
		mir.Host = u.Host + strings.TrimSuffix(u.Path, "/")
	case strings.Contains(raw, "://"):
		return fmt.Errorf("registry mirror %q: only http:// and https:// URLs", shown)
	default:
		mir.Host = strings.TrimSuffix(raw, "/")
		mir.HTTP = isLoopback(hostname(hostOnly(mir.Host)))
	}
	if strings.ContainsAny(mir.Host, " \t@?#") {
		return fmt.Errorf("registry mirror %q: bad host %q", shown, hideUserinfo(mir.Host))
	}
	if _, err := name.NewRegistry(hostOnly(mir.Host)); err != nil {
		return fmt.Errorf("registry mirror %q: %w", shown, err)
	}
	if m.m == nil {
		m.m = map[string][]Mirror{}
	}
	key := canonicalRegistry(reg)
	m.m[key] = append(m.m[key], mir)
	return nil
}

// hideUserinfo replaces what comes before the last "@" of a mirror value
// (after "REGISTRY=" and "scheme://") with ***.
func hideUserinfo(s string) string {
	j := strings.LastIndex(s, "@")
	if j < 0 {
		return s
	}
	start := 0
	if i := strings.Index(s, "://"); i >= 0 && i < j {
		start = i + 3
	} else if k := strings.Index(s, "="); k >= 0 && k < j {
		start = k + 1
	}
	return s[:start] + "***" + s[j:]
}

// hostOnly strips a mirror's path: "h:5000/x" → "h:5000".
func hostOnly(hostPath string) string {
	h, _, _ := strings.Cut(hostPath, "/")
	return h
}

// hostname strips a port: "127.0.0.1:5000" → "127.0.0.1".
func hostname(hostPort string) string {
	if h, _, err := net.SplitHostPort(hostPort); err == nil {
		return h
	}
	return hostPort
}

// ParseMirrors parses REGISTRY=URL values; each value may also hold a
// comma-separated list (as in an environment variable).
func ParseMirrors(values ...string) (Mirrors, error) {
	var m Mirrors
	for _, v := range values {
		for _, one := range strings.Split(v, ",") {
			if strings.TrimSpace(one) == "" {
				continue
			}
			if err := m.Set(one); err != nil {
				return Mirrors{}, err
			}
		}
	}
	return m, nil
}

// EnvMirrors is the environment variable holding mirrors as a
// comma-separated list of REGISTRY=URL, like repeated --registry-mirror.
const EnvMirrors = "RUNNER_REGISTRY_MIRROR"

// MirrorsFromEnv parses EnvMirrors as getenv returns it (e.g. os.Getenv).
func MirrorsFromEnv(getenv func(string) string) (Mirrors, error) {
	m, err := ParseMirrors(getenv(EnvMirrors))
	if err != nil {
		return Mirrors{}, fmt.Errorf("%s: %w", EnvMirrors, err)
	}
	return m, nil
}

// String lists the pairs as Set accepts them, sorted by registry.
func (m *Mirrors) String() string {
	if m == nil {
		return ""
	}
	var out []string
	for _, reg := range m.registries() {
		for _, mir := range m.m[reg] {
			scheme := "https://"
			if mir.HTTP {
				scheme = "http://"
			}
			out = append(out, reg+"="+scheme+mir.Host)
		}
	}
	return strings.Join(out, ",")
}

// Type names the flag's value type for pflag.
func (m *Mirrors) Type() string { return "registry=url" }

// For returns the mirrors of registry (any spelling of Docker Hub works).
func (m Mirrors) For(registry string) []Mirror {
	return m.m[canonicalRegistry(registry)]
}

// httpHosts lists the host[:port] of plain-HTTP mirrors: the user named
// them with http://, so the client may speak HTTP to them.
func (m Mirrors) httpHosts() []string {
	var hosts []string
	for _, ms := range m.m {
		for _, mir := range ms {
			if mir.HTTP {
				hosts = append(hosts, hostOnly(mir.Host))
			}
		}
	}
	return hosts
}

// Empty reports whether no mirror is set.
func (m Mirrors) Empty() bool { return len(m.m) == 0 }

func (m Mirrors) registries() []string {
	regs := make([]string, 0, len(m.m))
	for r := range m.m {
		regs = append(regs, r)
	}
	sort.Strings(regs)
	return regs
}

// Rewrite returns the references a pull of ref tries, mirrors first and
// ref itself last: with docker.io=http://127.0.0.1:5000, "alpine:latest"
// gives "127.0.0.1:5000/library/alpine:latest" then
// "index.docker.io/library/alpine:latest".
func (m Mirrors) Rewrite(ref string) ([]name.Reference, error) {
	orig, err := name.ParseReference(ref)
	if err != nil {
		return nil, fmt.Errorf("image reference %q: %w", ref, err)
	}
	var out []name.Reference
	for _, mir := range m.For(orig.Context().RegistryStr()) {
		s := mir.Host + "/" + orig.Context().RepositoryStr()
		if d, ok := orig.(name.Digest); ok {
			s += "@" + d.DigestStr()
		} else {
			s += ":" + orig.Identifier()
		}
		var opts []name.Option
		if mir.HTTP {
			opts = append(opts, name.Insecure)
		}
		r, err := name.ParseReference(s, opts...)
		if err != nil {
			return nil, fmt.Errorf("mirror of %q: %w", ref, err)
		}
		out = append(out, r)
	}
	return append(out, orig), nil
}

// BuildkitTOML renders the mirrors as buildkitd.toml sections, with
// `http = true` and `insecure = true` for plain-HTTP mirrors. Empty when
// no mirror is set.
func (m Mirrors) BuildkitTOML() string {
	var b strings.Builder
	plain := map[string]bool{}
	for _, reg := range m.registries() {
		var hosts []string
		for _, mir := range m.m[reg] {
			hosts = append(hosts, fmt.Sprintf("%q", mir.Host))
			if mir.HTTP {
				plain[hostOnly(mir.Host)] = true
			}
		}
		fmt.Fprintf(&b, "[registry.%q]\n  mirrors = [%s]\n", reg, strings.Join(hosts, ", "))
	}
	hosts := make([]string, 0, len(plain))
	for h := range plain {
		hosts = append(hosts, h)
	}
	sort.Strings(hosts)
	for _, h := range hosts {
		fmt.Fprintf(&b, "[registry.%q]\n  http = true\n  insecure = true\n", h)
	}
	return b.String()
}
