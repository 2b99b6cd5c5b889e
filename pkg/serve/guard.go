package serve

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
)

// Timeouts of HTTPServer. GitHub gives up on a webhook delivery after 10
// seconds, so a request (headers and body) that takes longer than
// readTimeout is not one of its deliveries.
const (
	defaultReadTimeout = 15 * time.Second
	readHeaderTimeout  = 10 * time.Second
	idleTimeout        = 60 * time.Second
	// maxUnverified is how many webhook bodies are read at once before
	// their signature is known: at most maxUnverified × maxWebhookBody
	// bytes held for senders who may not know the secret.
	maxUnverified = 4
)

// HTTPServer is the server to run Handler with: bounded header and request
// read times (a body trickled byte by byte is cut off), idle connections
// closed. Live log streams lift the read deadline for themselves.
func (s *Server) HTTPServer() *http.Server {
	return &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: min(readHeaderTimeout, s.readTimeout),
		ReadTimeout:       s.readTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    64 << 10,
	}
}

// secure adds the headers every answer carries: no framing by other
// sites (clickjacking), no content sniffing, no referrer.
func secure(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Content-Security-Policy", "frame-ancestors 'none'")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		h.ServeHTTP(w, r)
	})
}

// hostNames are the names the server answers unauthenticated requests
// for: the loopback names, the listen address's host, the configured
// hosts and external-url's host.
func hostNames(cfg Config) map[string]bool {
	names := map[string]bool{"localhost": true, "127.0.0.1": true, "::1": true}
	if host, _, err := net.SplitHostPort(cfg.Listen); err == nil && host != "" {
		if ip := net.ParseIP(host); ip == nil || !ip.IsUnspecified() {
			names[strings.ToLower(host)] = true
		}
	}
	for _, h := range cfg.Hosts {
		names[strings.ToLower(strings.TrimSuffix(h, "."))] = true
	}
	if u, err := url.Parse(cfg.ExternalURL); err == nil && u.Hostname() != "" {
		names[strings.ToLower(u.Hostname())] = true
	}
	return names
}

// hostAllowed checks the Host header of an unauthenticated request
// against the server's names, so that a page whose name was rebound to
// this address (DNS rebinding) reads nothing: 421 otherwise.
func (s *Server) hostAllowed(w http.ResponseWriter, r *http.Request) bool {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.ToLower(strings.TrimSuffix(strings.Trim(host, "[]"), "."))
	if s.hosts[host] {
		return true
	}
	apiError(w, http.StatusMisdirectedRequest, fmt.Sprintf("host %q is not one of this server's names (set hosts: or external-url: in the config)", r.Host))
	return false
}

// checkHost wraps an unauthenticated handler with hostAllowed.
func (s *Server) checkHost(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.hostAllowed(w, r) {
			h.ServeHTTP(w, r)
		}
	})
}

// semaphore counts slots.
type semaphore chan struct{}

// take waits up to wait for a slot.
func (c semaphore) take(ctx context.Context, wait time.Duration) (release func(), ok bool) {
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case c <- struct{}{}:
		return func() { <-c }, true
	case <-t.C:
	case <-ctx.Done():
	}
	return nil, false
}

// IsLoopback resolves a listen address (host:port) and tells whether it
// binds loopback addresses only; an empty host, 0.0.0.0 and :: bind every
// interface. It returns the resolved address to listen on, so that the
// name is not resolved twice.
func IsLoopback(addr string) (resolved string, loopback bool, err error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", false, err
	}
	if host == "" {
		return addr, false, nil
	}
	ta, err := net.ResolveTCPAddr("tcp", net.JoinHostPort(host, port))
	if err != nil {
		return "", false, err
	}
	return ta.String(), ta.IP.IsLoopback(), nil
}

// CheckListen resolves the listen address and returns the address to
// listen on. An address other machines can reach (not loopback once
// resolved: 0.0.0.0, ::, an empty host, a name of a public address) is
// refused while the API token is a generated one, which nobody chose to
// hand out; with a chosen token it comes with a warning to show.
func (s *Server) CheckListen() (addr, warning string, err error) {
	addr, loopback, err := IsLoopback(s.cfg.Listen)
	if err != nil {
		return "", "", fmt.Errorf("listen %s: %w", s.cfg.Listen, err)
	}
	if loopback {
		return addr, "", nil
	}
	if !s.tokenChosen {
		return "", "", fmt.Errorf("refusing to listen on %s, which other machines can reach, with a generated API token: "+
			"choose the token (token-file: or token: in the config, or $RUNNER_TOKEN; the generated one is in %s) or listen on 127.0.0.1", s.cfg.Listen, s.tokenFile)
	}
	warning = fmt.Sprintf("listening on %s, which other machines can reach: every API call needs the token, "+
		"which travels in clear over plain HTTP (put a TLS reverse proxy in front); the web UI answers the Host names %s only (hosts:, external-url:)",
		s.cfg.Listen, strings.Join(s.hostList(), ", "))
	if s.cfg.PublicRead {
		warning += "; public-read is on: anyone who reaches it reads runs, logs and workflows"
	}
	return addr, warning, nil
}

func (s *Server) hostList() []string {
	var out []string
	for h := range s.hosts {
		out = append(out, h)
	}
	sort.Strings(out)
	return out
}
