package registry

import (
	"bufio"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
)

// WithHtpasswd requires HTTP basic auth from every request, checked
// against the bcrypt entries of an htpasswd file (`htpasswd -B`), which
// is read again when it changes. Default: no auth.
func WithHtpasswd(path string) ServerOption {
	return func(o *serverOptions) { o.htpasswd = path }
}

// WithTLS serves HTTPS with the PEM certificate and key files. Default:
// plain HTTP.
func WithTLS(certFile, keyFile string) ServerOption {
	return func(o *serverOptions) { o.tlsCert, o.tlsKey = certFile, keyFile }
}

// checkHtpasswd refuses an htpasswd file that distribution would not take
// or would replace: a missing one (distribution creates it with a random
// password), and lines that are not USER:BCRYPT-HASH.
func checkHtpasswd(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("registry: htpasswd file: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n, users := 0, 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		user, hash, ok := strings.Cut(line, ":")
		if !ok || user == "" {
			return fmt.Errorf("registry: %s:%d: want USER:HASH", path, n)
		}
		if !strings.HasPrefix(hash, "$2a$") && !strings.HasPrefix(hash, "$2b$") && !strings.HasPrefix(hash, "$2y$") {
			return fmt.Errorf("registry: %s:%d: the password of %s is not a bcrypt hash (htpasswd -B)", path, n, user)
		}
		users++
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("registry: htpasswd file: %w", err)
	}
	if users == 0 {
		return errors.New("registry: htpasswd file " + path + " has no user")
	}
	return nil
}

// checkTLS refuses half a TLS configuration.
func checkTLS(o *serverOptions) error {
	if (o.tlsCert == "") != (o.tlsKey == "") {
		return errors.New("registry: TLS needs both a certificate and a key file")
	}
	return nil
}

// WithProxy makes the server a pull-through cache of the registry at
// remote (an http:// or https:// URL, e.g. https://registry-1.docker.io):
// pulls fetch what the cache lacks from there and keep it, and what it has
// is served when remote is unreachable. Pushes and deletes are refused.
// Default: a registry of its own.
func WithProxy(remote string) ServerOption {
	return func(o *serverOptions) { o.proxy = remote }
}

// checkProxy refuses a proxy URL distribution could not use.
func checkProxy(remote string) error {
	u, err := url.Parse(remote)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("registry: proxy %q: want an http:// or https:// URL of a registry", remote)
	}
	if u.User != nil {
		return fmt.Errorf("registry: proxy %q: credentials do not go in the URL", u.Redacted())
	}
	return nil
}
