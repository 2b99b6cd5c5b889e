package serve

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/birdflock/runner/pkg/actions"
	"github.com/birdflock/runner/pkg/dotenv"
	"github.com/birdflock/runner/pkg/run"
	"github.com/birdflock/runner/pkg/serve/store"
	"github.com/birdflock/runner/pkg/steps"
)

// Options are the server's parts. Every field has a working zero value.
type Options struct {
	Executor Executor   // default: a LocalExecutor under STATE/exec
	Builtins *steps.Set // built-in actions for loading workflows; default steps.Default()
	Log      io.Writer  // service messages; default os.Stderr
	// ReadTimeout bounds reading one request, headers and body, in
	// HTTPServer; default 15s.
	ReadTimeout time.Duration
}

// RestartMessage is the message of runs a restart found in progress.
const RestartMessage = "runner restarted"

// Server is a running runner serve. Its parts live in a file each: the
// queue (queue.go: runs in, concurrency groups, cancel, re-run), the
// scheduler (scheduler.go: job slots, executing runs), triggers
// (triggers.go, webhook.go: polls and pushes), the HTTP API (api.go,
// guard.go) and the run logs (events.go).
type Server struct {
	cfg         Config
	tls         *tls.Config // nil: plain HTTP
	store       *store.Store
	exec        Executor
	builtins    *steps.Set
	log         io.Writer
	repos       []*repo
	secrets     map[string]string
	settings    steps.Settings // for the built-ins; settingsFor adds a repository's
	hub         hub
	deliveries  keyLock         // webhook deliveries being handled
	unverified  semaphore       // webhook bodies being read before their signature is known
	hosts       map[string]bool // names answered in the Host header of unauthenticated requests
	readTimeout time.Duration
	// tokenFile is where the API token is kept: token-file, or
	// STATE/token when generated; "" when it was given inline.
	tokenFile string
	// tokenChosen: the token was given (token, token-file, $RUNNER_TOKEN),
	// not generated.
	tokenChosen bool

	rerunMu sync.Mutex // numbers re-run attempts
	shapes  shapeCache // what GitHub's JSON shapes look up (api_github.go)

	mu      sync.Mutex
	running map[int64]*active
	free    int // job slots not given to a run; capacity counts jobs
	// widths caches how many jobs each queued run could run at once;
	// owned by the scheduler goroutine.
	widths map[int64]int
	wake   chan struct{}
	closed bool

	ctx    context.Context
	cancel context.CancelFunc
	force  context.CancelFunc
	forceC context.Context
	wg     sync.WaitGroup
}

// New opens the state and marks runs a previous process left in progress
// as failed. Start begins executing.
func New(cfg Config, opts Options) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	tlsCfg, err := loadTLS(cfg)
	if err != nil {
		return nil, err
	}
	if cfg.State, err = filepath.Abs(cfg.State); err != nil {
		return nil, err
	}
	// Logs, runs.db and the generated token are the service user's alone.
	if err := os.MkdirAll(cfg.State, 0o700); err != nil {
		return nil, fmt.Errorf("state dir: %w", err)
	}
	s := &Server{cfg: cfg, exec: opts.Executor, builtins: opts.Builtins, log: opts.Log, running: map[int64]*active{}, free: cfg.Capacity, widths: map[int64]int{}, wake: make(chan struct{}, 1), secrets: map[string]string{},
		unverified: make(semaphore, maxUnverified), hosts: hostNames(cfg), readTimeout: opts.ReadTimeout}
	if s.readTimeout <= 0 {
		s.readTimeout = defaultReadTimeout
	}
	s.tls = tlsCfg
	if s.builtins == nil {
		if s.builtins, err = steps.Default().Without(cfg.RealActions...); err != nil {
			return nil, fmt.Errorf("real-actions: %w", err)
		}
	}
	if s.log == nil {
		s.log = os.Stderr
	}
	if fi, err := os.Stat(cfg.State); err == nil && fi.Mode().Perm()&0o077 != 0 {
		s.logf("warning: other users of this machine can enter the state directory %s (mode %v), which holds every run's log: chmod 700 it", cfg.State, fi.Mode().Perm())
	}
	// Settings from the service's environment (BUILDKIT_HOST, …), the
	// config's mirrors over them; a repository's mirrors over those.
	s.settings = steps.SettingsFromEnv(os.Getenv)
	if len(cfg.RegistryMirrors) > 0 {
		s.settings.RegistryMirror = strings.Join(cfg.RegistryMirrors, ",")
	}
	if s.exec == nil {
		cache, err := openCache(cfg, s.settings.RegistryMirror)
		if err != nil {
			return nil, err
		}
		le := &LocalExecutor{StateDir: filepath.Join(cfg.State, "exec"), Builtins: s.builtins, Jobs: cfg.Jobs, Cache: cache}
		kc, err := cfg.executorConfig()
		if err != nil {
			return nil, err
		}
		if kc != nil {
			if le.Remote, err = kubeLegs(kc, cfg.State, s.logf); err != nil {
				return nil, err
			}
			le.RemoteSettings = kc.PodSettings
		}
		s.exec = le
	}
	if cfg.SecretsFile != "" {
		if err := dotenv.Read(cfg.SecretsFile, s.secrets); err != nil {
			return nil, fmt.Errorf("secrets-file: %w", err)
		}
	}
	s.tokenFile = cfg.TokenFile
	s.tokenChosen = s.cfg.Token != ""
	if s.cfg.Token == "" {
		if s.cfg.Token, err = stateToken(cfg.State); err != nil {
			return nil, err
		}
		s.tokenFile = filepath.Join(cfg.State, "token")
	}
	for _, r := range cfg.Repositories {
		if r.Path != "" {
			if r.Path, err = filepath.Abs(r.Path); err != nil {
				return nil, err
			}
		}
		rp := newRepo(r, cfg.State)
		if r.Path != "" {
			if _, err := rp.open(false); err != nil {
				return nil, fmt.Errorf("repository %s: %w", r.Name, err)
			}
		}
		s.repos = append(s.repos, rp)
	}
	if s.store, err = store.Open(filepath.Join(cfg.State, "runs.db")); err != nil {
		return nil, err
	}
	run.SweepStale() // job cgroups a killed runner left, with their processes
	ids, err := s.store.Recover(RestartMessage)
	if err != nil {
		s.store.Close()
		return nil, fmt.Errorf("recover runs: %w", err)
	}
	for _, id := range ids {
		n := killOrphans(filepath.Join(cfg.State, "exec", "runs"), id)
		s.logf("run %d: was in progress at the last stop: marked failed (%d leftover processes killed)", id, n)
		if sk, err := newSink(cfg.State, id, 0, s.store, &s.hub, s.logf); err == nil {
			sk.line("Error: " + RestartMessage)
			sk.close()
		}
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.forceC, s.force = context.WithCancel(context.Background())
	return s, nil
}

// credentials are the service's own secrets, which every run masks: the
// API token, the webhook secret, credentials in repository URLs.
func (s *Server) credentials() []string {
	out := []string{s.cfg.Token, s.cfg.WebhookSecret}
	out = append(out, run.URLCredentials(s.cfg.ActionsSource)...)
	for _, r := range s.cfg.Repositories {
		out = append(out, run.URLCredentials(r.URL)...)
		out = append(out, run.URLCredentials(r.ActionsSource)...)
	}
	return out
}

// stateToken reads STATE/token, creating it with a random token.
func stateToken(state string) (string, error) {
	path := filepath.Join(state, "token")
	if data, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(data))) > 0 {
		return strings.TrimSpace(string(data)), nil
	}
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	tok := hex.EncodeToString(b)
	if err := os.WriteFile(path, []byte(tok+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write token: %w", err)
	}
	return tok, nil
}

// TokenFile returns the file the API token was read from or generated
// into (STATE/token); "" when the token was given inline.
func (s *Server) TokenFile() string { return s.tokenFile }

// Config returns the configuration in force, defaults filled in.
func (s *Server) Config() Config { return s.cfg }

func (s *Server) logf(format string, args ...any) {
	fmt.Fprintf(s.log, "runner serve: "+format+"\n", args...)
}

// Start starts the scheduler and the pollers; queued runs start at once.
func (s *Server) Start() {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		tick := time.NewTicker(5 * time.Second)
		defer tick.Stop()
		for {
			s.schedule()
			select {
			case <-s.ctx.Done():
				return
			case <-s.wake:
			case <-tick.C:
			}
		}
	}()
	for _, r := range s.repos {
		if r.cfg.Poll > 0 {
			s.wg.Add(1)
			go func(r *repo) {
				defer s.wg.Done()
				s.pollLoop(r)
			}(r)
		}
	}
}

// Close cancels running runs (they end as failed, "runner stopped"),
// waits up to grace for them, then kills what is left.
func (s *Server) Close(grace time.Duration) error {
	s.mu.Lock()
	s.closed = true
	for _, a := range s.running {
		a.cancel()
	}
	s.mu.Unlock()
	s.cancel()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(grace):
		s.force()
		<-done
	}
	s.force()
	if le, ok := s.exec.(*LocalExecutor); ok {
		if c, ok := le.Remote.(io.Closer); ok {
			// The executor's idle pods (kube.Transport.StartIdle).
			if err := c.Close(); err != nil {
				s.logf("%v", err)
			}
		}
	}
	return s.store.Close()
}

func (s *Server) repoByName(name string) *repo {
	for _, r := range s.repos {
		if strings.EqualFold(r.name, name) {
			return r
		}
	}
	// A single repository answers to any name, as a fork would.
	if len(s.repos) == 1 {
		if _, base, _ := strings.Cut(name, "/"); strings.EqualFold(base, filepath.Base(s.repos[0].name)) {
			return s.repos[0]
		}
	}
	return nil
}

// Errors of enqueue and cancel, mapped to HTTP statuses by the API.
var (
	ErrNotFound = store.ErrNotFound
	ErrConflict = errors.New("conflict")
	// ErrForbidden is GitHub's 403 for a run that cannot be re-run so.
	ErrForbidden = errors.New("forbidden")
)

// actionsSourceFor is where the actions of a run of the repository named
// repo come from: its actions-source, else the service's.
func (s *Server) actionsSourceFor(repo string) actions.Source {
	src := s.cfg.ActionsSource
	if rp := s.repoByName(repo); rp != nil && rp.cfg.ActionsSource != "" {
		src = rp.cfg.ActionsSource
	}
	source, err := actions.ParseSource(src)
	if err != nil {
		// a folder removed since the config was checked: still that
		// folder (its runs fail at set-up saying so), never GitHub
		source = actions.Source{Dir: src}
	}
	return source
}

// settingsFor are runner's settings for the built-ins of a run of the
// repository named repo: the service's, with the repository's registry
// mirrors when it has some.
func (s *Server) settingsFor(repo string) steps.Settings {
	st := s.settings
	if rp := s.repoByName(repo); rp != nil && len(rp.cfg.RegistryMirrors) > 0 {
		st.RegistryMirror = strings.Join(rp.cfg.RegistryMirrors, ",")
	}
	return st
}
