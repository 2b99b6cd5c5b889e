package steps

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/birdflock/runner/pkg/container"
	"github.com/birdflock/runner/pkg/registry"
)

// TestImage is `uses: test-image`: relaunch an image (an OCI archive or a
// reference) as a container, publish its port on 127.0.0.1 and check one
// HTTP answer. The work is pkg/container's. Runtime defaults to runc.
type TestImage struct {
	Runtime container.Runtime
}

// Spec describes test-image.
func (TestImage) Spec() Spec {
	return Spec{
		Name:        "test-image",
		Description: "Run an image as a container with its port published on 127.0.0.1 and check an HTTP answer",
		Inputs: []Input{
			{Name: "archive", Description: "OCI archive to run (e.g. from build-image), relative to the workspace"},
			{Name: "image", Description: "image reference to run instead of an archive"},
			{Name: "port", Description: "container TCP port to publish; default: the image's only EXPOSEd port"},
			{Name: "env", Description: "environment for the container, one KEY=VALUE a line"},
			{Name: "command", Description: "replaces the image's Cmd (the Entrypoint stays); split like a shell line"},
			{Name: "path", Default: "/", Description: "URL path to request"},
			{Name: "expect-status", Default: "200", Description: "expected HTTP status"},
			{Name: "expect-body", Description: "regular expression (Go syntax) the body must match"},
			{Name: "timeout", Default: "30s", Description: "how long to wait for the first answer"},
			{Name: "pids-limit", Default: strconv.FormatInt(container.DefaultLimits.Pids, 10), Description: "most processes and threads the container may have at once; -1: no limit"},
			{Name: "memory-limit", Default: fmt.Sprintf("%dg", container.DefaultLimits.Memory>>30), Description: "most memory the container may use (bytes, or a size such as 512m or 4g); past it a process is OOM-killed; -1: no limit"},
		},
		Outputs: []string{"url", "status", "body", "summary"},
	}
}

// imagePuller pulls through pkg/registry: the step's registry mirrors
// (RUNNER_REGISTRY_MIRROR), retries, and the docker config's credentials.
func imagePuller(s *Context) (func(context.Context, string) (v1.Image, error), error) {
	mirrors, err := registry.MirrorsFromEnv(s.Getenv)
	if err != nil {
		return nil, fmt.Errorf("test-image: %w", err)
	}
	c := registry.New(registry.Options{Mirrors: mirrors, Log: s.Log})
	return func(ctx context.Context, ref string) (v1.Image, error) {
		a, err := c.Pull(ctx, ref)
		if err != nil {
			return nil, err
		}
		return a.Image(nil)
	}, nil
}

type probe struct {
	archive, image string
	port           int
	env, command   []string
	path           string
	status         int
	body           *regexp.Regexp
	timeout        time.Duration
	limits         container.Limits
}

func parseProbe(s *Context) (probe, error) {
	var p probe
	p.archive = inWorkspace(s, strings.TrimSpace(s.Input("archive")))
	p.image = strings.TrimSpace(s.Input("image"))
	if (p.archive == "") == (p.image == "") {
		return p, errors.New("test-image: give archive or image (one of them)")
	}
	if v := strings.TrimSpace(s.Input("port")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 65535 {
			return p, fmt.Errorf("test-image: port %q: want 1-65535", v)
		}
		p.port = n
	}
	kv, err := parseKeyValues(s.Input("env"))
	if err != nil {
		return p, fmt.Errorf("test-image: env: %w", err)
	}
	for k, v := range kv {
		p.env = append(p.env, k+"="+v)
	}
	sort.Strings(p.env)
	if c := strings.TrimSpace(s.Input("command")); c != "" {
		if p.command, err = splitShell(c); err != nil {
			return p, fmt.Errorf("test-image: command: %w", err)
		}
	}
	p.path = strings.TrimSpace(s.Input("path"))
	if p.path == "" {
		p.path = "/"
	}
	if !strings.HasPrefix(p.path, "/") {
		p.path = "/" + p.path
	}
	st := strings.TrimSpace(s.Input("expect-status"))
	if st == "" {
		st = "200"
	}
	if p.status, err = strconv.Atoi(st); err != nil || p.status < 100 || p.status > 599 {
		return p, fmt.Errorf("test-image: expect-status %q: want an HTTP status", st)
	}
	if b := s.Input("expect-body"); b != "" {
		if p.body, err = regexp.Compile(b); err != nil {
			return p, fmt.Errorf("test-image: expect-body: %w", err)
		}
	}
	to := strings.TrimSpace(s.Input("timeout"))
	if to == "" {
		to = "30s"
	}
	if _, err := strconv.Atoi(to); err == nil {
		to += "s" // bare seconds
	}
	if p.timeout, err = time.ParseDuration(to); err != nil || p.timeout <= 0 {
		return p, fmt.Errorf("test-image: timeout %q: want a duration such as 30s", s.Input("timeout"))
	}
	if p.limits.Pids, err = container.ParsePidsLimit(s.Input("pids-limit")); err != nil {
		return p, fmt.Errorf("test-image: pids-limit: %w", err)
	}
	if p.limits.Memory, err = container.ParseMemoryLimit(s.Input("memory-limit")); err != nil {
		return p, fmt.Errorf("test-image: memory-limit: %w", err)
	}
	return p, nil
}

// Run launches the container, polls until it answers (never a fixed
// sleep), checks status and body, and always removes the container.
func (t TestImage) Run(ctx context.Context, s *Context) (err error) {
	p, err := parseProbe(s)
	if err != nil {
		return err
	}
	rt := t.Runtime
	if rt == nil {
		rt = s.Run.Containers
	}
	if rt == nil {
		if rt, err = container.NewRunc(container.RuncOptions{}); err != nil {
			return fmt.Errorf("test-image: %w", err)
		}
	}
	spec := container.Spec{Archive: p.archive, Ref: p.image, Env: p.env, Command: p.command, Limits: p.limits}
	if p.image != "" {
		if spec.Pull, err = imagePuller(s); err != nil {
			return err
		}
	}
	if p.port != 0 {
		spec.Ports = []int{p.port}
	}
	// The container's log is copied from another goroutine.
	orig := s.Log
	s.Log = &syncWriter{w: orig}
	defer func() { s.Log = orig }()
	start := time.Now()
	c, err := rt.Setup(ctx, spec)
	if err != nil {
		return fmt.Errorf("test-image: %w", err)
	}
	logsDone := make(chan struct{})
	defer func() {
		// On a context that outlives Ctrl-C, so the container always goes.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if derr := c.Destroy(dctx); derr != nil && err == nil {
			err = fmt.Errorf("test-image: remove container: %w", derr)
		}
		<-logsDone // every container line is in the log before the step ends
		s.Logf("container %s removed", c.ID())
	}()
	go func() {
		defer close(logsDone)
		copyLines(s, c.Logs(), "container | ")
	}()
	if err := c.Start(ctx); err != nil {
		return fmt.Errorf("test-image: %w", err)
	}
	ports := c.Ports()
	if p.port == 0 {
		if len(ports) != 1 {
			return fmt.Errorf("test-image: port is required: the image exposes %d ports", len(ports))
		}
		for k := range ports {
			p.port = k
		}
	}
	url := "http://" + ports[p.port] + p.path
	s.SetOutput("url", url)
	s.Logf("container %s started; port %d published at %s (%.2fs)", c.ID(), p.port, ports[p.port], time.Since(start).Seconds())

	resp, err := poll(ctx, c, url, p)
	if err != nil {
		return fmt.Errorf("test-image: %w (the container's log is above)", err)
	}
	summary := fmt.Sprintf("%s: %s, %d bytes, %s, first answer after %.2fs",
		url, resp.status, len(resp.body), resp.contentType, time.Since(start).Seconds())
	s.SetOutput("status", strconv.Itoa(resp.code))
	s.SetOutput("body", truncate(resp.body, 4096))
	s.SetOutput("summary", summary)
	s.Logf("%s", summary)
	if resp.code != p.status {
		return fmt.Errorf("test-image: GET %s answered %s, want %d; body: %q (the container's log is above)",
			url, resp.status, p.status, truncate(resp.body, 200))
	}
	if p.body != nil && !p.body.MatchString(resp.body) {
		return fmt.Errorf("test-image: GET %s: body does not match /%s/: %q (the container's log is above)",
			url, p.body, truncate(resp.body, 200))
	}
	return nil
}

type answer struct {
	code        int
	status      string
	body        string
	contentType string
}

// poll asks url until an answer comes that is not "not ready yet" (a
// refused or reset connection, or 502/503/504 unless that is expected),
// the container exits, or the timeout passes.
func poll(ctx context.Context, c container.Container, url string, p probe) (answer, error) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	client := &http.Client{Timeout: 5 * time.Second}
	var last error
	wait := 10 * time.Millisecond
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return answer{}, err
		}
		resp, err := client.Do(req)
		if err == nil {
			body, rerr := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			resp.Body.Close()
			a := answer{code: resp.StatusCode, status: resp.Status, body: string(body), contentType: resp.Header.Get("Content-Type")}
			notReady := (a.code == 502 || a.code == 503 || a.code == 504) && a.code != p.status
			if rerr == nil && !notReady {
				return a, nil
			}
			last = fmt.Errorf("%s", a.status)
			if rerr != nil {
				last = rerr
			}
		} else {
			last = err
		}
		select {
		case <-c.Done():
			code, _ := c.Wait(context.WithoutCancel(ctx))
			return answer{}, fmt.Errorf("the container exited with code %d before answering on port %d", code, p.port)
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return answer{}, fmt.Errorf("no answer on port %d within %s: %v", p.port, p.timeout, last)
			}
			return answer{}, ctx.Err()
		case <-time.After(wait):
		}
		if wait < 100*time.Millisecond {
			wait += 10 * time.Millisecond
		}
	}
}

// syncWriter serialises writes to the step log.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(p)
}

// copyLines writes r to the step log line by line with a prefix.
func copyLines(s *Context, r io.Reader, prefix string) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		_, _ = io.WriteString(s.Log, prefix+sc.Text()+"\n")
	}
	_, _ = io.Copy(io.Discard, r) // an over-long line: drain so the container never blocks
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// splitShell splits a command line into words: whitespace separates,
// single quotes keep everything, double quotes allow \" and \\, a
// backslash outside quotes escapes the next character.
func splitShell(in string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(in); i++ {
		ch := in[i]
		switch {
		case ch == '\'':
			j := strings.IndexByte(in[i+1:], '\'')
			if j < 0 {
				return nil, errors.New("unterminated single quote")
			}
			cur.WriteString(in[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case ch == '"':
			i++
			for ; i < len(in) && in[i] != '"'; i++ {
				if in[i] == '\\' && i+1 < len(in) && (in[i+1] == '"' || in[i+1] == '\\') {
					i++
				}
				cur.WriteByte(in[i])
			}
			if i >= len(in) {
				return nil, errors.New("unterminated double quote")
			}
			inWord = true
		case ch == '\\' && i+1 < len(in):
			i++
			cur.WriteByte(in[i])
			inWord = true
		case ch == ' ' || ch == '\t' || ch == '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(ch)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}
