package run

import (
	"net/url"
	"strings"
)

// What a step's environment starts from. Like GitHub's runner, the engine
// builds it explicitly: a base (Options.Env), then GitHub's default
// variables, then the workflow's env layers. Runner's own variables never
// get into the base, whatever the caller passes.

// IsOwnVariable reports whether runner reads the variable k for itself:
// RUNNER_TOKEN and RUNNER_WEBHOOK_SECRET (serve), RUNNER_REGISTRY_MIRROR,
// RUNNER_BUILDKITD, and every other RUNNER_* name (the RUNNER_* variables
// GitHub defines are set per step by the engine, never inherited).
func IsOwnVariable(k string) bool {
	return strings.HasPrefix(k, "RUNNER_")
}

// HostEnv is environ (KEY=VALUE entries, e.g. os.Environ()) without
// runner's own variables: the base of a step's environment under `runner
// exec`, where a user expects their PATH, HOME, GOPATH, proxies… in steps.
func HostEnv(environ []string) []string {
	out := make([]string, 0, len(environ))
	for _, kv := range environ {
		k, _, ok := strings.Cut(kv, "=")
		if ok && k != "" && !IsOwnVariable(k) {
			out = append(out, kv)
		}
	}
	return out
}

// minimalNames are the variables MinimalEnv keeps, besides LC_*.
var minimalNames = map[string]bool{
	"PATH": true, "HOME": true, "USER": true, "LOGNAME": true, "SHELL": true,
	"LANG": true, "LANGUAGE": true, "TZ": true, "TMPDIR": true, "TERM": true,
	"SSL_CERT_FILE": true, "SSL_CERT_DIR": true,
	"http_proxy": true, "https_proxy": true, "no_proxy": true,
	"HTTP_PROXY": true, "HTTPS_PROXY": true, "NO_PROXY": true,
}

// MinimalEnv keeps from environ only what any program expects of a
// system: PATH, HOME, USER, LOGNAME, SHELL, LANG, LANGUAGE, LC_*, TZ,
// TMPDIR, TERM, SSL_CERT_FILE, SSL_CERT_DIR and the proxy variables. It is
// the base of a step's environment under `runner serve`, a service whose
// own environment is its configuration.
func MinimalEnv(environ []string) []string {
	var out []string
	for _, kv := range environ {
		k, _, ok := strings.Cut(kv, "=")
		if ok && (minimalNames[k] || strings.HasPrefix(k, "LC_")) {
			out = append(out, kv)
		}
	}
	return out
}

// URLCredentials returns the credentials in the URLs of s (a URL, or a
// list separated by commas or spaces, such as RUNNER_REGISTRY_MIRROR or a
// proxy variable): the password of each userinfo, or the user name when
// there is no password (a token given as user name). Values shorter than
// four characters are left out: masking them would garble the log.
func URLCredentials(s string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\t' }) {
		i := strings.Index(f, "://")
		if i < 0 {
			continue
		}
		rest := f[i+3:]
		j := strings.LastIndex(rest, "@")
		if j <= 0 {
			continue
		}
		user, pass, ok := strings.Cut(rest[:j], ":")
		v := pass
		if !ok || pass == "" {
			v = user
		}
		if len(v) < 4 {
			continue
		}
		out = append(out, v)
		if un, err := url.PathUnescape(v); err == nil && un != v {
			out = append(out, un)
		}
	}
	return out
}

// redactURL hides the userinfo of a URL's text, even one that does not
// parse: everything between "://" and the last "@".
func redactURL(u string) string {
	i := strings.Index(u, "://")
	if i < 0 {
		return u
	}
	rest := u[i+3:]
	j := strings.LastIndex(rest, "@")
	if j < 0 {
		return u
	}
	return u[:i+3] + "***" + rest[j:]
}
