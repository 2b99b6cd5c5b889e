package preview

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/birdflock/runner/pkg/container"
	"github.com/birdflock/runner/pkg/registry"
)

// Options configure Start. Only Repo is required.
type Options struct {
	// Repo is a working clone, a plain directory or a bare repository.
	Repo string
	// ManifestDir is the manifests' directory in Repo. Default "k8s".
	ManifestDir string
	// Addr is where the proxy listens. Default "127.0.0.1:8080"; port 0
	// picks a free one.
	Addr string
	// StateDir is runner's state dir: its registry is served when the
	// images live on a loopback registry that is down, and pulled images
	// are kept under it while the preview runs. Default ".runner".
	StateDir string
	// Runtime runs the containers. Default: runc (container.NewRunc).
	Runtime container.Runtime
	// Registry pulls the images. Default: registry.New with zero Options.
	Registry *registry.Client
	// Log receives progress and the containers' output, one line each.
	// Default: discarded.
	Log io.Writer
	// ReadyTimeout bounds the wait for each replica's first HTTP answer.
	// Default 60s.
	ReadyTimeout time.Duration
	// Limits caps each container's processes and memory. Default:
	// container.DefaultLimits.
	Limits container.Limits
}

// Pod is one replica of a Deployment: one container per pod container.
type Pod struct {
	Name       string // DEPLOYMENT-N
	Deployment *Deployment
	Containers []container.Container
}

// Preview is a running deployment: containers plus the Ingress proxy.
type Preview struct {
	Source string // where the manifests came from
	Routes []*Route
	Pods   []*Pod

	log     *lineLog
	dir     string
	srv     *http.Server
	ln      net.Listener
	served  chan error
	pools   map[*Route]*pool
	logs    sync.WaitGroup
	closeMu sync.Mutex
	closed  bool
}

// pool round-robins between the pods behind a route.
type pool struct {
	next     atomic.Uint64
	backends []backend
}

type backend struct {
	name  string
	proxy *httputil.ReverseProxy
}

// Start reads the manifests, pulls the images, starts every replica, waits
// until each answers HTTP on its routed ports and starts the proxy. On
// error everything started is removed again.
func Start(ctx context.Context, o Options) (_ *Preview, err error) {
	if o.ManifestDir == "" {
		o.ManifestDir = "k8s"
	}
	if o.Addr == "" {
		o.Addr = "127.0.0.1:8080"
	}
	if o.StateDir == "" {
		o.StateDir = ".runner"
	}
	if o.Registry == nil {
		o.Registry = registry.New(registry.Options{})
	}
	if o.ReadyTimeout <= 0 {
		o.ReadyTimeout = 60 * time.Second
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	p := &Preview{log: &lineLog{w: o.Log}, pools: map[*Route]*pool{}, served: make(chan error, 1)}
	m, src, err := LoadRepo(ctx, o.Repo, o.ManifestDir)
	if err != nil {
		return nil, err
	}
	p.Source = src
	if len(m.Deployments) == 0 {
		return nil, fmt.Errorf("%s: no Deployment", src)
	}
	if p.Routes, err = Resolve(m); err != nil {
		return nil, err
	}
	if len(p.Routes) == 0 {
		return nil, fmt.Errorf("%s: no Ingress path to serve", src)
	}
	if o.Runtime == nil {
		if o.Runtime, err = container.NewRunc(container.RuncOptions{}); err != nil {
			return nil, err
		}
	}
	// Listen first: a taken address should fail before any pull.
	if p.ln, err = net.Listen("tcp", o.Addr); err != nil {
		return nil, fmt.Errorf("preview: %w", err)
	}
	defer func() {
		if err != nil {
			p.Close(context.WithoutCancel(ctx))
		}
	}()
	if err := os.MkdirAll(filepath.Join(o.StateDir, "preview"), 0o755); err != nil {
		return nil, err
	}
	if p.dir, err = os.MkdirTemp(filepath.Join(o.StateDir, "preview"), "images-"); err != nil {
		return nil, err
	}

	pl := &puller{client: o.Registry, stateDir: o.StateDir, dir: p.dir, logf: p.log.Printf, archives: map[string]string{}}
	archives := map[*Container]string{}
	for _, d := range m.Deployments {
		for _, c := range d.Containers {
			if archives[c], err = pl.fetch(ctx, c.Image, c.Pos); err != nil {
				pl.release()
				return nil, err
			}
		}
	}
	pl.release() // the images are in archives now

	ports := publishedPorts(m, p.Routes)
	for _, d := range m.Deployments {
		for i := 0; i < d.Replicas; i++ {
			p.Pods = append(p.Pods, &Pod{Name: d.Name + "-" + strconv.Itoa(i), Deployment: d, Containers: make([]container.Container, len(d.Containers))})
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for _, pod := range p.Pods {
		for ci, c := range pod.Deployment.Containers {
			g.Go(func() error {
				spec := container.Spec{Archive: archives[c], Env: c.Env, Command: c.Args, Ports: ports[c], Limits: o.Limits}
				ct, err := o.Runtime.Setup(gctx, spec)
				if err != nil {
					return fmt.Errorf("%s: %s: %w", c.Pos, pod.Name, err)
				}
				pod.Containers[ci] = ct
				prefix := pod.Name
				if len(pod.Containers) > 1 {
					prefix += "/" + c.Name
				}
				p.logs.Add(1)
				go func() {
					defer p.logs.Done()
					p.log.copy(ct.Logs(), prefix+" | ")
				}()
				if err := ct.Start(gctx); err != nil {
					return fmt.Errorf("%s: %w", pod.Name, err)
				}
				return waitReady(gctx, ct, prefix, ports[c], o.ReadyTimeout)
			})
		}
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	for _, r := range p.Routes {
		pl := &pool{}
		for _, t := range r.Targets {
			for _, pod := range p.Pods {
				if pod.Deployment != t.Deployment {
					continue
				}
				addr := pod.Containers[t.Container].Ports()[t.Port]
				pl.backends = append(pl.backends, backend{name: pod.Name, proxy: newProxy(addr, pod.Name, p.log)})
			}
		}
		p.pools[r] = pl
	}

	p.srv = &http.Server{Handler: p, ReadHeaderTimeout: 30 * time.Second}
	go func() { p.served <- p.srv.Serve(p.ln) }()
	return p, nil
}

// publishedPorts lists, per container, its declared ports and the ports
// the routes send traffic to.
func publishedPorts(m *Manifests, routes []*Route) map[*Container][]int {
	set := map[*Container]map[int]bool{}
	add := func(c *Container, port int) {
		if set[c] == nil {
			set[c] = map[int]bool{}
		}
		set[c][port] = true
	}
	for _, d := range m.Deployments {
		for _, c := range d.Containers {
			for _, p := range c.Ports {
				add(c, p.Port)
			}
		}
	}
	for _, r := range routes {
		for _, t := range r.Targets {
			add(t.Deployment.Containers[t.Container], t.Port)
		}
	}
	out := map[*Container][]int{}
	for c, ps := range set {
		for port := range ps {
			out[c] = append(out[c], port)
		}
		sort.Ints(out[c])
	}
	return out
}

// waitReady polls each published port until any HTTP answer comes (a
// refused or reset connection means not yet), the container exits, or
// the timeout passes.
func waitReady(ctx context.Context, c container.Container, name string, ports []int, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Timeout: 5 * time.Second}
	for _, port := range ports {
		u := "http://" + c.Ports()[port] + "/"
		wait := 10 * time.Millisecond
		for {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
			if err != nil {
				return err
			}
			resp, err := client.Do(req)
			if err == nil {
				resp.Body.Close()
				break
			}
			select {
			case <-c.Done():
				code, _ := c.Wait(context.WithoutCancel(ctx))
				return fmt.Errorf("%s exited with code %d before answering on port %d (its log is above)", name, code, port)
			case <-ctx.Done():
				if errors.Is(ctx.Err(), context.DeadlineExceeded) {
					return fmt.Errorf("%s: no HTTP answer on port %d within %s: %v", name, port, timeout, err)
				}
				return ctx.Err()
			case <-time.After(wait):
			}
			if wait < 200*time.Millisecond {
				wait *= 2
			}
		}
	}
	return nil
}

func newProxy(addr, pod string, log *lineLog) *httputil.ReverseProxy {
	target := &url.URL{Scheme: "http", Host: addr}
	return &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.SetXForwarded()
			r.Out.Host = r.In.Host // as an ingress controller passes it on
		},
		ModifyResponse: func(resp *http.Response) error {
			resp.Header.Set("X-Preview-Pod", pod)
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			log.Printf("proxy: %s %s → %s: %v", r.Method, r.URL.Path, pod, err)
			http.Error(w, "preview: "+pod+" did not answer", http.StatusBadGateway)
		},
	}
}

// ServeHTTP routes by path to the next pod of the matching route.
func (p *Preview) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rt := Match(p.Routes, r.URL.Path)
	if rt == nil {
		http.Error(w, "preview: no Ingress path matches "+r.URL.Path, http.StatusNotFound)
		return
	}
	pl := p.pools[rt]
	if len(pl.backends) == 0 {
		http.Error(w, "preview: service "+rt.Service+" has no running pods", http.StatusServiceUnavailable)
		return
	}
	b := pl.backends[(pl.next.Add(1)-1)%uint64(len(pl.backends))]
	b.proxy.ServeHTTP(w, r)
}

// URL is the proxy's address.
func (p *Preview) URL() string { return "http://" + p.ln.Addr().String() + "/" }

// Served returns when the proxy stops serving, with why.
func (p *Preview) Served() <-chan error { return p.served }

// Close stops the proxy and removes every container (process, rootfs,
// network namespace, published ports) and the pulled images. Give it a
// context that survives Ctrl-C (context.WithoutCancel). Safe to call twice.
func (p *Preview) Close(ctx context.Context) error {
	p.closeMu.Lock()
	defer p.closeMu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	var errs []error
	if p.srv != nil {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		if err := p.srv.Shutdown(sctx); err != nil {
			p.srv.Close()
		}
		cancel()
	} else if p.ln != nil {
		p.ln.Close()
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, pod := range p.Pods {
		for _, c := range pod.Containers {
			if c == nil {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				defer cancel()
				if err := c.Destroy(dctx); err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("remove %s (%s): %w", pod.Name, c.ID(), err))
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	p.logs.Wait()
	if p.dir != "" {
		if err := os.RemoveAll(p.dir); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// lineLog writes whole lines to w from many goroutines.
type lineLog struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lineLog) Printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, format+"\n", args...)
}

func (l *lineLog) copy(r io.Reader, prefix string) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		l.mu.Lock()
		_, _ = io.WriteString(l.w, prefix+sc.Text()+"\n")
		l.mu.Unlock()
	}
	_, _ = io.Copy(io.Discard, r) // an over-long line: keep draining
}
