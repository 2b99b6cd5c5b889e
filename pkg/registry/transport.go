package registry

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"

	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// retryStatusCodes are the answers worth trying again.
var retryStatusCodes = []int{
	http.StatusRequestTimeout, http.StatusTooManyRequests,
	http.StatusInternalServerError, http.StatusBadGateway,
	http.StatusServiceUnavailable, http.StatusGatewayTimeout,
}

// retryable reports whether err is a connection problem that may pass:
// refused or reset connections, broken pipes, timeouts, truncated bodies.
func retryable(err error) bool {
	if err == nil {
		return false
	}
	var te interface{ Temporary() bool }
	if errors.As(err, &te) && te.Temporary() {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed)
}

// ErrPlainHTTP is returned for a plain-HTTP request to a host that is not
// loopback when the client was not asked to be insecure.
var ErrPlainHTTP = errors.New("plain http refused for a non-loopback registry (set insecure to allow it)")

// schemeGuard refuses plain HTTP except to loopback hosts, hosts named
// with http:// (mirrors), or when insecure. go-containerregistry would
// otherwise fall back to HTTP for private (RFC 1918) addresses too.
type schemeGuard struct {
	inner     http.RoundTripper
	insecure  bool
	plainHTTP map[string]bool // host[:port]
}

func (g schemeGuard) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Scheme == "http" && !g.insecure && !isLoopback(r.URL.Hostname()) && !g.plainHTTP[r.URL.Host] {
		return nil, fmt.Errorf("%s: %w", r.URL.Host, ErrPlainHTTP)
	}
	return g.inner.RoundTrip(r)
}

// IsLoopbackHost reports whether a registry host (host or host:port) is
// this machine: "localhost" or a loopback IP. Only those get plain HTTP
// without Insecure, and only there runner serves its registry. The text
// is never resolved: "127.example.com" is not one, whatever it resolves to.
func IsLoopbackHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	return isLoopback(strings.Trim(host, "[]"))
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// newTransport is the base transport: go-containerregistry's default,
// behind the scheme guard. Retries are added by remote's options.
func newTransport(base http.RoundTripper, insecure bool, plainHTTP ...string) http.RoundTripper {
	if base == nil {
		base = remote.DefaultTransport
	}
	g := schemeGuard{inner: base, insecure: insecure, plainHTTP: map[string]bool{}}
	for _, h := range plainHTTP {
		g.plainHTTP[h] = true
	}
	return g
}
