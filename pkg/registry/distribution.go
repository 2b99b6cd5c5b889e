package registry

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry/api/errcode"
	"github.com/distribution/distribution/v3/registry/handlers"
	"github.com/distribution/distribution/v3/registry/storage"
	"github.com/distribution/distribution/v3/registry/storage/driver/filesystem"
	"github.com/sirupsen/logrus"

	// The access controller `--htpasswd` configures.
	_ "github.com/distribution/distribution/v3/registry/auth/htpasswd"
	// The storage driver every runner registry uses.
	_ "github.com/distribution/distribution/v3/registry/storage/driver/filesystem"
)

// Upload sessions older than uploadPurgeAge are deleted every
// uploadPurgeInterval (distribution's own default is a week, checked daily
// after a random delay of up to an hour; runner's uploads come from the
// same machine and take seconds).
const (
	uploadPurgeAge      = 2 * time.Hour
	uploadPurgeInterval = 15 * time.Minute
)

// storageRoot is where distribution keeps blobs, manifests, tags and
// upload sessions inside a registry directory: DIR/docker/registry/v2.
func storageRoot(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("registry: %w", err)
	}
	return abs, nil
}

// distConfig is distribution's configuration for a registry directory,
// made in code: filesystem storage under dir, deletes enabled, no
// redirects, foreign layer URLs allowed, upload purging left to runner
// (see purgeUploads).
func distConfig(root string, o *serverOptions) (*configuration.Configuration, error) {
	cfg := &configuration.Configuration{}
	cfg.Storage = configuration.Storage{
		"filesystem":  configuration.Parameters{"rootdirectory": root},
		"delete":      configuration.Parameters{"enabled": true},
		"redirect":    configuration.Parameters{"disable": true},
		"cache":       configuration.Parameters{"blobdescriptor": "inmemory"},
		"maintenance": configuration.Parameters{"uploadpurging": map[any]any{"enabled": false}},
	}
	// distribution's defaults, which its configuration parser sets.
	cfg.Catalog.MaxEntries = 1000
	cfg.Tags.MaxTags = 1000
	// Non-distributable layers name http(s) URLs to fetch them from;
	// distribution allows none unless told, refusing such images with a
	// 500. The registry never fetches them.
	cfg.Validation.Manifests.URLs.Allow = []string{"^https?://"}
	// The secret signs upload session state between requests; a restart
	// ends the sessions in flight, which clients restart.
	cfg.HTTP.Secret = newServerID()
	if o.htpasswd != "" {
		cfg.Auth = configuration.Auth{"htpasswd": configuration.Parameters{"realm": "runner", "path": o.htpasswd}}
	}
	if o.proxy != "" {
		cfg.Proxy.RemoteURL = o.proxyVia
		// Keep what was pulled (distribution's default deletes it after
		// a week): offline, the cache serves what it has.
		never := time.Duration(0)
		cfg.Proxy.TTL = &never
	}
	return cfg, nil
}

// newApp builds distribution's registry application for dir. NewApp
// reports configuration errors by panicking; they come back as errors.
func newApp(ctx context.Context, dir string, o *serverOptions) (app *handlers.App, err error) {
	silenceDistribution()
	root, err := storageRoot(dir)
	if err != nil {
		return nil, err
	}
	cfg, err := distConfig(root, o)
	if err != nil {
		return nil, err
	}
	defer func() {
		if r := recover(); r != nil {
			app, err = nil, fmt.Errorf("registry: %v", r)
		}
	}()
	return handlers.NewApp(ctx, cfg), nil
}

// purgeUploads deletes upload sessions older than age now and every
// interval until ctx ends. Distribution keeps an unfinished upload on
// disk, not in memory; this bounds the disk it takes.
func purgeUploads(ctx context.Context, dir string, age, interval time.Duration) {
	root, err := storageRoot(dir)
	if err != nil {
		return
	}
	d := filesystem.New(filesystem.DriverParameters{RootDirectory: root, MaxThreads: 25})
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		storage.PurgeUploads(ctx, d, time.Now().Add(-age), true)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// refuseDotSegments answers NAME_INVALID to a path with a "." or ".."
// segment. No repository name, tag or digest has one, and distribution's
// router would clean the path and redirect to another route instead
// (POST /v2/../../etc/blobs/uploads/ to /etc/blobs/uploads/).
func refuseDotSegments(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, seg := range strings.Split(r.URL.Path, "/") {
			if seg == "." || seg == ".." {
				w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
				_ = errcode.ServeJSON(w, errcode.ErrorCodeNameInvalid.WithMessage("invalid repository name: path has a "+strconv.Quote(seg)+" segment"))
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}

// requestLog writes one line per request: method, path, status.
func requestLog(l *log.Logger, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(sw, r)
		l.Printf("%s %s %d", r.Method, r.URL.Path, sw.status)
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush passes through, for streamed blob reads.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

var silenceOnce sync.Once

// silenceDistribution drops distribution's log lines: it logs through the
// process-wide logrus logger (a line per request at info level, and its
// storage code's notes), which runner does not use for its own output and
// other libraries in the process do. The formatter keeps every other
// library's entries as they were.
func silenceDistribution() {
	silenceOnce.Do(func() {
		l := logrus.StandardLogger()
		l.SetFormatter(&dropDistribution{next: l.Formatter})
	})
}

type dropDistribution struct{ next logrus.Formatter }

// distributionMessages start the lines distribution's storage code logs
// without its request logger.
var distributionMessages = []string{
	"PurgeUploads starting", "Purge uploads finished", "Upload files in ",
	"ignoring deleted path", "unable to parse offset from upload state", "failed to link blob",
}

func (f *dropDistribution) Format(e *logrus.Entry) ([]byte, error) {
	// distribution's loggers all descend from one carrying go.version.
	if _, ok := e.Data["go.version"]; ok {
		return nil, nil
	}
	for _, p := range distributionMessages {
		if strings.HasPrefix(e.Message, p) {
			return nil, nil
		}
	}
	if f.next == nil {
		return (&logrus.TextFormatter{}).Format(e)
	}
	return f.next.Format(e)
}

// startUpstreamShim forwards every request to remote from a loopback
// listener, for distribution's pull-through cache to use as its remote.
// distribution asks the remote for its auth challenge when it starts and
// gives up when nothing answers; through the shim an unreachable remote
// answers 502, the cache starts, and it serves what it has until the
// remote is back.
func startUpstreamShim(remote string) (shimURL string, stop func(), err error) {
	u, err := url.Parse(remote)
	if err != nil {
		return "", nil, fmt.Errorf("registry: proxy: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("registry: proxy: %w", err)
	}
	srv := &http.Server{
		Handler: &httputil.ReverseProxy{
			Rewrite:  func(pr *httputil.ProxyRequest) { pr.SetURL(u) },
			ErrorLog: log.New(io.Discard, "", 0),
		},
		ReadHeaderTimeout: 30 * time.Second,
	}
	go srv.Serve(ln)
	return "http://" + ln.Addr().String(), func() { srv.Close() }, nil
}
