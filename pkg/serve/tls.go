package serve

import (
	"crypto/tls"
	"fmt"
	"net"
)

// loadTLS reads the configured certificate and key; nil without them.
func loadTLS(cfg Config) (*tls.Config, error) {
	if cfg.TLSCert == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
	if err != nil {
		return nil, fmt.Errorf("tls-cert %s, tls-key %s: %w", cfg.TLSCert, cfg.TLSKey, err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}}, nil
}

// Listener is ln as the service serves on it: TLS when tls-cert and
// tls-key are set, else ln itself.
func (s *Server) Listener(ln net.Listener) net.Listener {
	if s.tls == nil {
		return ln
	}
	return tls.NewListener(ln, s.tls)
}

// Scheme is "https" when the service speaks TLS, else "http".
func (s *Server) Scheme() string {
	if s.tls == nil {
		return "http"
	}
	return "https"
}
