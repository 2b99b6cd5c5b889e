package run

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/birdflock/runner/pkg/container"
	"github.com/birdflock/runner/pkg/registry"
	"github.com/birdflock/runner/pkg/workflow"
)

// The section names GitHub prints around a job with service containers.
const (
	initContainersStep = "Initialize containers"
	stopContainersStep = "Stop containers"
)

// The pause between the health checks tried before the first one that
// counts is a tenth of the time since the first check returned (the
// service's process runs by then), from minEarlyProbe to maxEarlyProbe:
// a service that is up t after that is seen by about 1.1 t, with a few
// dozen checks over its start-up, not one every few ms.
const (
	minEarlyProbe = 5 * time.Millisecond
	maxEarlyProbe = 500 * time.Millisecond
)

func earlyProbe(since time.Duration) time.Duration {
	return min(max(since/10, minEarlyProbe), maxEarlyProbe)
}

// serviceLogLimit is how much of a service's output is kept for "Stop
// containers": the last 1 MiB.
const serviceLogLimit = 1 << 20

// runningService is one started service container of a job leg.
type runningService struct {
	label    string
	c        container.Container
	ports    map[string]any // container port → host port, both as text
	log      *tailLog
	logsDone chan struct{}
	started  time.Time // when Start returned: health checks count from here
	// addr is the loopback IP where the ports are also published at their
	// own number (container.Spec.OwnAddress), "" when they are not.
	addr string
}

// servicesContext is job.services: by label, the container's id, network
// ("" : in a job on the host each service has a network namespace of its
// own, there is no shared network) and ports.
func (jr *legRun) servicesContext() map[string]any {
	out := map[string]any{}
	for _, s := range jr.services {
		out[s.label] = map[string]any{"id": s.c.ID(), "network": "", "ports": s.ports}
	}
	// Services that are containers of this leg's pod: on localhost, each
	// port at its own number.
	for label, ports := range jr.r.opts.podServices {
		pm := map[string]any{}
		for _, p := range ports {
			pm[strconv.Itoa(p)] = strconv.Itoa(p)
		}
		out[label] = map[string]any{"id": "pod:" + label, "network": "", "ports": pm}
	}
	return out
}

// containerRuntime is Options.Containers, else runc, made on first use.
func (r *runState) containerRuntime() (container.Runtime, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.opts.Containers != nil {
		return r.opts.Containers, nil
	}
	rt, err := container.NewRunc(container.RuncOptions{})
	if err != nil {
		return nil, err
	}
	r.opts.Containers = rt
	return rt, nil
}

// serviceSpec is one service evaluated at job start.
type serviceSpec struct {
	svc      *workflow.Service
	image    string
	user     string
	password string
	env      []string
	ports    []workflow.ServicePort
	opts     workflow.ServiceOptions
}

// evalService evaluates a service's values with the job's contexts. A
// service whose image is empty is not started (ok false), as on GitHub.
func (jr *legRun) evalService(s *workflow.Service) (sp serviceSpec, ok bool, err error) {
	r := jr.r
	ctxs := jr.contexts()
	sp.svc = s
	if sp.image, err = r.evalString(s.Image, ctxs, nil); err != nil {
		return sp, false, err
	}
	if sp.image = strings.TrimSpace(sp.image); sp.image == "" {
		return sp, false, nil
	}
	if sp.user, err = r.evalString(s.Username, ctxs, nil); err != nil {
		return sp, false, err
	}
	if sp.password, err = r.evalString(s.Password, ctxs, nil); err != nil {
		return sp, false, err
	}
	if sp.password != "" {
		r.masker.Add(sp.password)
	}
	for _, kv := range s.Env {
		v, err := r.evalString(kv.Value, ctxs, nil)
		if err != nil {
			return sp, false, err
		}
		sp.env = append(sp.env, kv.Key+"="+v)
	}
	for _, pv := range s.Ports {
		text, err := r.evalString(pv, ctxs, nil)
		if err != nil {
			return sp, false, err
		}
		p, err := workflow.ParseServicePort(text)
		if err == nil && slices.ContainsFunc(sp.ports, func(q workflow.ServicePort) bool { return q.Container == p.Container }) {
			err = fmt.Errorf("container port %d is listed twice (runner publishes each container port once)", p.Container)
		}
		if err != nil {
			return sp, false, fmt.Errorf("%s:%d:%d: services.%s.ports: %w", r.w.File, pv.Line, pv.Col, s.Label, err)
		}
		sp.ports = append(sp.ports, p)
	}
	text, err := r.evalString(s.Options, ctxs, nil)
	if err != nil {
		return sp, false, err
	}
	if sp.opts, err = workflow.ParseServiceOptions(text); err != nil {
		pos := s.Options.Pos
		if text == s.Options.Raw {
			pos = workflow.OptionPos(s.Options, err)
		}
		return sp, false, fmt.Errorf("%s:%d:%d: services.%s.options: %w", r.w.File, pos.Line, pos.Col, s.Label, err)
	}
	sp.env = append(sp.env, sp.opts.Env...)
	return sp, true, nil
}

// startServices is GitHub's "Initialize containers" for a job on the
// host: each service's image is pulled and unpacked, the container
// started in a network namespace of its own with its ports published on
// 127.0.0.1, and the job waits until every service is healthy (running,
// without a health check). Each started service is in jr.services at
// once, so that stopServices removes it whatever happens next.
func (jr *legRun) startServices(ctx context.Context) error {
	if len(jr.job.Services) == 0 || jr.r.opts.podServices != nil {
		return nil // none, or containers of this leg's pod, ready already
	}
	var specs []serviceSpec
	for _, s := range jr.job.Services {
		sp, ok, err := jr.evalService(s)
		if err != nil {
			return err
		}
		if !ok {
			jr.emit(initContainersStep, fmt.Sprintf("Skip service %s: its image is empty", s.Label))
			continue
		}
		specs = append(specs, sp)
	}
	if len(specs) == 0 {
		return nil
	}
	rt, err := jr.r.containerRuntime()
	if err != nil {
		return fmt.Errorf("services: %w", err)
	}
	for _, sp := range specs {
		if err := jr.startService(ctx, rt, sp); err != nil {
			return timedOut(ctx, err)
		}
	}
	// The services reach each other by label, as on the job's Docker
	// network on GitHub: a veth pair between each two.
	pair := 0
	for i, a := range jr.services {
		for _, b := range jr.services[i+1:] {
			if err := container.Link(a.c, b.c, a.label, b.label, pair); err != nil {
				return err
			}
			pair++
		}
	}
	return jr.waitAllHealthy(ctx, specs)
}

// waitAllHealthy waits for every service at once (one waiting for another
// would delay its checks, and the news of its exit, by the other's
// start-up). The first service that fails, in the order of services:,
// stops the others' waits and is the error.
func (jr *legRun) waitAllHealthy(ctx context.Context, specs []serviceSpec) error {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make([]error, len(specs))
	var wg sync.WaitGroup
	for i, sp := range specs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if errs[i] = jr.waitHealthy(wctx, jr.services[i], sp.opts); errs[i] != nil {
				cancel()
			}
		}()
	}
	wg.Wait()
	var stopped error // a wait ended by another's failure or by ctx
	for _, err := range errs {
		switch {
		case err == nil:
		case errors.Is(err, context.Canceled) && ctx.Err() == nil:
			stopped = err
		default:
			return timedOut(ctx, err)
		}
	}
	return stopped // nil when all are healthy
}

// timedOut says so when err comes from the job's timeout.
func timedOut(ctx context.Context, err error) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("the job's timeout passed while its services started: %w", err)
	}
	return err
}

func (jr *legRun) startService(ctx context.Context, rt container.Runtime, sp serviceSpec) error {
	label := sp.svc.Label
	jr.emit(initContainersStep, fmt.Sprintf("Start service %s: %s", label, sp.image))
	// A job container (started next, on the host's network) reaches the
	// service by label at its own port: on an address of the service's own.
	spec := container.Spec{Ref: sp.image, Env: sp.env, Ports: []int{}, HostPorts: map[int]int{}, OwnAddress: jr.job.Container != nil,
		// Health checks by the agent: a fork and exec each, not a runc exec.
		ExecAgent: sp.opts.HealthCmd != ""}
	for _, p := range sp.ports {
		spec.Ports = append(spec.Ports, p.Container)
		if p.Host != 0 {
			spec.HostPorts[p.Container] = p.Host
		}
	}
	if sp.opts.EntrypointSet {
		spec.Entrypoint = []string{sp.opts.Entrypoint}
	}
	pull, err := jr.puller(sp)
	if err != nil {
		return err
	}
	spec.Pull = pull
	// Unpacked once per digest, shared with job containers and later jobs:
	// each service's root is an overlay over that copy.
	spec.Images = &container.ImageCache{Dir: filepath.Join(jr.r.state, "images")}
	start := time.Now()
	c, err := rt.Setup(ctx, spec)
	if err != nil {
		return fmt.Errorf("service %s: %w", label, err)
	}
	rs := &runningService{label: label, c: c, ports: map[string]any{}, log: &tailLog{max: serviceLogLimit}, logsDone: make(chan struct{})}
	jr.services = append(jr.services, rs)
	go func() {
		defer close(rs.logsDone)
		_, _ = io.Copy(rs.log, c.Logs())
	}()
	if err := c.Start(ctx); err != nil {
		return fmt.Errorf("service %s: %w", label, err)
	}
	rs.started = time.Now()
	ports := c.Ports()
	var shown []string
	for _, port := range spec.Ports {
		addr := ports[port]
		_, hostPort, _ := strings.Cut(addr, ":")
		rs.ports[strconv.Itoa(port)] = hostPort
		shown = append(shown, fmt.Sprintf("%d → %s", port, addr))
	}
	msg := fmt.Sprintf("Service %s: container %s started (%.2fs)", label, c.ID(), time.Since(start).Seconds())
	if len(shown) > 0 {
		msg += "; ports " + strings.Join(shown, ", ")
	}
	if oa, ok := c.(container.OwnAddresser); ok && oa.OwnAddress() != "" && len(spec.Ports) > 0 {
		rs.addr = oa.OwnAddress()
		msg += fmt.Sprintf("; for the job container %s is %s", label, rs.addr)
	}
	jr.emit(initContainersStep, msg)
	return nil
}

// puller pulls through pkg/registry with runner's registry mirrors and the
// service's credentials (else the docker config's).
func (jr *legRun) puller(sp serviceSpec) (func(context.Context, string) (v1.Image, error), error) {
	settings := jr.r.opts.Settings
	mirrors, err := registry.MirrorsFromEnv(func(k string) string {
		if k == registry.EnvMirrors {
			return settings.RegistryMirror
		}
		return ""
	})
	if err != nil {
		return nil, fmt.Errorf("service %s: %w", sp.svc.Label, err)
	}
	opts := registry.Options{Mirrors: mirrors, Log: &lineEmitter{emit: func(s string) { jr.emit(initContainersStep, s) }}}
	if sp.user != "" || sp.password != "" {
		ref, err := name.ParseReference(sp.image)
		if err != nil {
			return nil, fmt.Errorf("service %s: image %q: %w", sp.svc.Label, sp.image, err)
		}
		opts.Credentials = []registry.Credential{{Registry: ref.Context().RegistryStr(), Username: sp.user, Password: sp.password}}
	}
	c := registry.New(opts)
	return func(ctx context.Context, ref string) (v1.Image, error) {
		a, err := c.Pull(ctx, ref)
		if err != nil {
			return nil, err
		}
		return a.Image(nil)
	}, nil
}

// waitHealthy runs the service's health check until it passes. As with
// docker, a check counts as failed only from the first interval on and
// after the start period, and `retries` failures in a row make the
// service unhealthy; before that the check is also tried more often
// (earlyProbe, at most every interval), as docker ≥ 25 does with
// --health-start-interval, so that a service that is up early is seen
// early. Times count from the service's start. A service
// that exits fails at once.
func (jr *legRun) waitHealthy(ctx context.Context, rs *runningService, o workflow.ServiceOptions) error {
	c := rs.c
	if o.HealthCmd == "" {
		select {
		case <-c.Done():
			return jr.serviceExited(rs)
		default:
		}
		jr.emit(initContainersStep, fmt.Sprintf("Service %s is running (no health check)", rs.label))
		return nil
	}
	ex, ok := c.(container.Execer)
	if !ok {
		return fmt.Errorf("service %s: the container runtime cannot run health checks", rs.label)
	}
	start := rs.started
	counted := o.HealthInterval // first check that counts: k×interval ≥ start period
	for counted < o.HealthStartPeriod {
		counted += o.HealthInterval
	}
	countFrom := start.Add(counted)
	var wait time.Duration
	var probed time.Time // when the first check returned
	failures := 0
	var last string
	for {
		pctx, cancel := context.WithTimeout(ctx, o.HealthTimeout)
		code, out, err := ex.Exec(pctx, []string{"/bin/sh", "-c", o.HealthCmd})
		timedOut := errors.Is(pctx.Err(), context.DeadlineExceeded)
		cancel()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err == nil && code == 0 {
			jr.emit(initContainersStep, fmt.Sprintf("Service %s is healthy (%.2fs)", rs.label, time.Since(start).Seconds()))
			return nil
		}
		switch {
		case timedOut:
			last = fmt.Sprintf("the check timed out after %s", o.HealthTimeout)
		case err != nil:
			last = err.Error()
		default:
			last = fmt.Sprintf("exit code %d", code)
		}
		if t := strings.TrimSpace(string(out)); t != "" {
			last += ": " + truncateText(t, 200)
		}
		now := time.Now()
		if probed.IsZero() {
			probed = now
		}
		if !now.Before(countFrom) {
			failures++
			if failures >= o.HealthRetries {
				return fmt.Errorf("service %s is unhealthy: its health check %q had %d failures in a row (last: %s)%s",
					rs.label, o.HealthCmd, failures, last, jr.logTail(rs))
			}
			wait = o.HealthInterval
		} else {
			wait = min(earlyProbe(now.Sub(probed)), o.HealthInterval)
			if now.Add(wait).After(countFrom) {
				wait = countFrom.Sub(now)
			}
		}
		select {
		case <-c.Done():
			return jr.serviceExited(rs)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

func (jr *legRun) serviceExited(rs *runningService) error {
	code, _ := rs.c.Wait(context.Background())
	<-rs.logsDone // the process is gone: its log is complete
	return fmt.Errorf("service %s exited with code %d before the job's steps%s", rs.label, code, jr.logTail(rs))
}

// logTail is the end of a service's log for an error message.
func (jr *legRun) logTail(rs *runningService) string {
	lines := rs.log.lastLines(10)
	if len(lines) == 0 {
		return "; its log is empty"
	}
	return "; its log ends with:\n" + strings.Join(lines, "\n")
}

// stopServices is GitHub's "Stop containers": every service is removed
// (on a context that outlives the job's cancellation, so Ctrl-C still
// cleans up), then its log is printed.
func (jr *legRun) stopServices(ctx context.Context) {
	if len(jr.services) == 0 {
		return
	}
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, len(jr.services))
	for i, rs := range jr.services {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = rs.c.Destroy(dctx)
		}()
	}
	wg.Wait()
	for i, rs := range jr.services {
		<-rs.logsDone
		jr.emit(stopContainersStep, fmt.Sprintf("Stop and remove service %s: container %s", rs.label, rs.c.ID()))
		if errs[i] != nil {
			jr.emit(stopContainersStep, fmt.Sprintf("Warning: service %s: %v", rs.label, errs[i]))
		}
		jr.emit(stopContainersStep, fmt.Sprintf("Print service container logs: %s", rs.label))
		if rs.log.dropped {
			jr.emit(stopContainersStep, fmt.Sprintf("(the first part of the log is left out: only the last %d bytes are kept)", serviceLogLimit))
		}
		for _, l := range rs.log.lastLines(-1) {
			jr.emit(stopContainersStep, l)
		}
	}
	jr.services = nil
}

// tailLog keeps the last max bytes written to it.
type tailLog struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	max     int
	dropped bool
}

func (t *tailLog) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf.Write(p)
	if over := t.buf.Len() - t.max; over > 0 {
		t.buf.Next(over)
		t.dropped = true
	}
	return len(p), nil
}

// lastLines are the last n lines (all when n < 0).
func (t *tailLog) lastLines(n int) []string {
	t.mu.Lock()
	text := t.buf.String()
	t.mu.Unlock()
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 64*1024), serviceLogLimit+1)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if n >= 0 && len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return lines
}

// lineEmitter calls emit for each line written to it.
type lineEmitter struct {
	emit func(string)
	rest []byte
}

func (w *lineEmitter) Write(p []byte) (int, error) {
	w.rest = append(w.rest, p...)
	for {
		i := bytes.IndexByte(w.rest, '\n')
		if i < 0 {
			return len(p), nil
		}
		w.emit(string(w.rest[:i]))
		w.rest = w.rest[i+1:]
	}
}

func truncateText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
