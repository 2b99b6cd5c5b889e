package registry

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/distribution/distribution/v3/registry/handlers"
)

// addrFile, inside a served directory, names the address of a server that
// serves it and the server's id, one a line, so that other runner
// processes can find and reuse it. The id, also sent in every answer's
// idHeader, proves that the address still serves this directory: after a
// crash the file outlives its server, and another registry may have taken
// the port since.
const (
	addrFile = "serving.addr"
	idHeader = "Runner-Registry-Id"
)

// dirIDFile, inside a served directory, holds a random id of the directory
// that every server of it sends in dirHeader: another runner process finds
// out that the server on an address serves its directory without reading
// an address file.
const (
	dirIDFile = "registry.id"
	dirHeader = "Runner-Registry-Dir"
)

// Server is a registry serving a directory over HTTP (HTTPS with
// WithTLS): distribution's registry with its filesystem storage under the
// directory, so a restarted server serves the same images.
type Server struct {
	srv      *http.Server
	ln       net.Listener
	dir      string
	app      *handlers.App
	cancel   context.CancelFunc
	unlock   func() // drops the serve lock (see holdServeLock)
	stopOnce sync.Once
	done     chan struct{}
	err      error

	mu    sync.Mutex
	fresh map[net.Conn]bool // connections that have not sent a request yet
}

// track remembers connections in StateNew. Shutdown waits for them (up to
// 5 s), and clients leave some open: go-containerregistry's parallel
// https/http ping dials both and uses one.
func (s *Server) track(c net.Conn, st http.ConnState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st == http.StateNew {
		s.fresh[c] = true
	} else {
		delete(s.fresh, c)
	}
}

// ServerOption configures Serve.
type ServerOption func(*serverOptions)

type serverOptions struct {
	log                     io.Writer
	noAddrFile              bool
	htpasswd                string
	tlsCert, tlsKey         string
	proxy                   string
	proxyVia                string // the loopback shim to proxy (startUpstreamShim)
	purgeAge, purgeInterval time.Duration
}

// withoutAddrFile keeps a short-lived server out of discovery, so nobody
// comes to rely on a server that its owner is about to stop.
func withoutAddrFile() ServerOption {
	return func(o *serverOptions) { o.noAddrFile = true }
}

// WithRequestLog writes one line per request to w. Default: discarded.
func WithRequestLog(w io.Writer) ServerOption {
	return func(o *serverOptions) { o.log = w }
}

// withUploadPurge sets how old an abandoned upload session gets before it
// is deleted, and how often they are looked for. Default: uploadPurgeAge,
// uploadPurgeInterval.
func withUploadPurge(age, interval time.Duration) ServerOption {
	return func(o *serverOptions) { o.purgeAge, o.purgeInterval = age, interval }
}

func newOptions(opts []ServerOption) serverOptions {
	o := serverOptions{log: io.Discard, purgeAge: uploadPurgeAge, purgeInterval: uploadPurgeInterval}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// check refuses options that cannot work, before anything is written.
func (o *serverOptions) check() error {
	if o.htpasswd != "" {
		if err := checkHtpasswd(o.htpasswd); err != nil {
			return err
		}
	}
	if o.proxy != "" {
		if err := checkProxy(o.proxy); err != nil {
			return err
		}
	}
	return checkTLS(o)
}

// Serve starts a registry on addr (host:port; port 0 picks a free one)
// that keeps its content in dir, created if missing. Content written by
// runner's earlier on-disk store in dir is imported first (see Migrate).
// It stops when ctx is cancelled or Close is called.
func Serve(ctx context.Context, addr, dir string, opts ...ServerOption) (*Server, error) {
	o := newOptions(opts)
	if err := o.check(); err != nil {
		return nil, err
	}
	var cert tls.Certificate
	if o.tlsCert != "" {
		var err error
		if cert, err = tls.LoadX509KeyPair(o.tlsCert, o.tlsKey); err != nil {
			return nil, fmt.Errorf("registry: TLS certificate: %w", err)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("registry: %w", err)
	}
	unlock, err := holdServeLock(dir, false)
	if err != nil {
		return nil, err
	}
	s, err := serve(ctx, addr, dir, &o, cert, unlock)
	if err != nil {
		unlock()
		return nil, err
	}
	return s, nil
}

// serve is Serve once dir exists and its serve lock is held; the server
// calls unlock when it stops.
func serve(ctx context.Context, addr, dir string, o *serverOptions, cert tls.Certificate, unlock func()) (*Server, error) {
	if _, err := migrateIfNeeded(ctx, dir, o.log); err != nil {
		return nil, err
	}
	dirID, err := ensureDirID(dir)
	if err != nil {
		return nil, err
	}
	stopShim := func() {}
	if o.proxy != "" {
		if o.proxyVia, stopShim, err = startUpstreamShim(o.proxy); err != nil {
			return nil, err
		}
	}
	actx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	cancel = stopAlso(cancel, stopShim)
	app, err := newApp(actx, dir, o)
	if err != nil {
		cancel()
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		cancel()
		app.Shutdown()
		return nil, fmt.Errorf("registry: listen: %w", err)
	}
	if o.tlsCert != "" {
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	}
	id := newServerID()
	h := requestLog(log.New(o.log, "registry: ", log.LstdFlags), refuseDotSegments(app))
	s := &Server{
		srv: &http.Server{
			Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set(idHeader, id)
				w.Header().Set(dirHeader, dirID)
				h.ServeHTTP(w, r)
			}),
			ReadHeaderTimeout: 30 * time.Second,
			ErrorLog:          log.New(io.Discard, "", 0),
		},
		ln:     ln,
		dir:    dir,
		app:    app,
		cancel: cancel,
		unlock: unlock,
		done:   make(chan struct{}),
		fresh:  map[net.Conn]bool{},
	}
	s.srv.ConnState = s.track
	if !o.noAddrFile {
		if err := os.WriteFile(filepath.Join(dir, addrFile), []byte(s.Addr()+"\n"+id+"\n"), 0o644); err != nil {
			ln.Close()
			cancel()
			app.Shutdown()
			return nil, fmt.Errorf("registry: %w", err)
		}
	}
	if o.proxy == "" {
		go purgeUploads(actx, dir, o.purgeAge, o.purgeInterval)
	}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			s.err = err
		}
	}()
	go func() {
		select {
		case <-ctx.Done():
			s.Close()
		case <-s.done:
		}
	}()
	return s, nil
}

// Handler returns the registry handler for dir without listening, e.g. for
// httptest servers. Abandoned uploads are not purged: Serve does that.
func Handler(dir string, opts ...ServerOption) (http.Handler, error) {
	o := newOptions(opts)
	if err := o.check(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("registry: %w", err)
	}
	if _, err := migrateIfNeeded(context.Background(), dir, o.log); err != nil {
		return nil, err
	}
	app, err := newApp(context.Background(), dir, &o)
	if err != nil {
		return nil, err
	}
	return requestLog(log.New(o.log, "registry: ", log.LstdFlags), refuseDotSegments(app)), nil
}

// Addr is the host:port the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Dir is the directory the server keeps its content in.
func (s *Server) Dir() string { return s.dir }

// Done is closed when the server has stopped.
func (s *Server) Done() <-chan struct{} { return s.done }

// Close stops the server, waiting up to 5 s for requests in flight. It is
// safe to call more than once.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s.mu.Lock()
	for c := range s.fresh {
		c.Close()
	}
	s.mu.Unlock()
	err := s.srv.Shutdown(ctx)
	<-s.done
	s.stopOnce.Do(func() {
		s.cancel()
		if aerr := s.app.Shutdown(); err == nil && aerr != nil {
			err = aerr
		}
		s.unlock()
	})
	// Leave another server's address file alone.
	p := filepath.Join(s.dir, addrFile)
	if b, rerr := os.ReadFile(p); rerr == nil && strings.SplitN(string(b), "\n", 2)[0] == s.Addr() {
		os.Remove(p)
	}
	if err != nil {
		return fmt.Errorf("registry: shutdown: %w", err)
	}
	return s.err
}

// stopAlso is cancel that also calls stop.
func stopAlso(cancel context.CancelFunc, stop func()) context.CancelFunc {
	return func() {
		cancel()
		stop()
	}
}

func newServerID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// ensureDirID reads dir's id, creating it the first time.
func ensureDirID(dir string) (string, error) {
	p := filepath.Join(dir, dirIDFile)
	if b, err := os.ReadFile(p); err == nil && len(bytes.TrimSpace(b)) > 0 {
		return string(bytes.TrimSpace(b)), nil
	}
	f, err := os.CreateTemp(dir, dirIDFile+".*")
	if err != nil {
		return "", fmt.Errorf("registry: %w", err)
	}
	defer os.Remove(f.Name())
	_, werr := f.WriteString(newServerID() + "\n")
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return "", fmt.Errorf("registry: %w", werr)
	}
	// The first link wins when two servers start at once.
	if err := os.Link(f.Name(), p); err != nil && !errors.Is(err, os.ErrExist) {
		return "", fmt.Errorf("registry: %w", err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return "", fmt.Errorf("registry: %w", err)
	}
	return string(bytes.TrimSpace(b)), nil
}

// servesDir reports whether the server answering on addr serves dir (a
// server of another runner process, with or without an address file).
func servesDir(ctx context.Context, addr, dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, dirIDFile))
	if err != nil || len(bytes.TrimSpace(b)) == 0 {
		return false
	}
	return pingHeader(ctx, addr, dirHeader, string(bytes.TrimSpace(b)), 2*time.Second)
}

// servedBy reads dir's address file: the address and id of the server
// that wrote it, which may have died since.
func servedBy(dir string) (addr, id string, ok bool) {
	b, err := os.ReadFile(filepath.Join(dir, addrFile))
	if err != nil {
		return "", "", false
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 2 {
		return "", "", false
	}
	return strings.TrimSpace(lines[0]), strings.TrimSpace(lines[1]), true
}

// Ping reports whether a registry answers the /v2/ API check at addr over
// plain HTTP within timeout.
func Ping(ctx context.Context, addr string, timeout time.Duration) bool {
	return ping(ctx, addr, "", timeout)
}

// ping is Ping that, given an id, also wants the answer from the server
// with that id.
func ping(ctx context.Context, addr, id string, timeout time.Duration) bool {
	return pingHeader(ctx, addr, idHeader, id, timeout)
}

// pingHeader is Ping that, given a value, also wants it in the answer's
// header h.
func pingHeader(ctx context.Context, addr, h, value string, timeout time.Duration) bool {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/v2/", nil)
	if err != nil {
		return false
	}
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusBadRequest && resp.Header.Get(idHeader) == "" {
		// A TLS server answers plain HTTP so; ask it over HTTPS. Its
		// certificate is not checked: this only reads the server's id
		// headers, and sends no credentials.
		req.URL.Scheme = "https"
		c.Transport = &http.Transport{DisableKeepAlives: true, TLSClientConfig: &tls.Config{InsecureSkipVerify: true}} //nolint:gosec
		if resp, err = c.Do(req); err != nil {
			return false
		}
		resp.Body.Close()
	}
	if value != "" && resp.Header.Get(h) != value {
		return false
	}
	return resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized
}
