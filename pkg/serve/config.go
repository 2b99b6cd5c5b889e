package serve

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/birdflock/runner/pkg/actions"
	"github.com/birdflock/runner/pkg/jobcache"
	"github.com/birdflock/runner/pkg/registry"
	"github.com/birdflock/runner/pkg/steps"
	"gopkg.in/yaml.v3"
)

// Config is runner serve's configuration file. Every field has a working
// zero value, stated beside it.
type Config struct {
	Listen string `yaml:"listen"` // default 127.0.0.1:8080
	// Hosts are names, besides the loopback ones and listen's host, that
	// the web UI and public reads answer in the Host header (DNS
	// rebinding: other names get 421). Default none.
	Hosts []string `yaml:"hosts"`
	// ExternalURL is the URL users and GitHub reach the service at (e.g.
	// behind a reverse proxy); its host counts as one of Hosts. Default none.
	ExternalURL string `yaml:"external-url"`
	// TLSCert and TLSKey are PEM files (relative to the config file): set
	// both and the service speaks HTTPS only (what gh needs for a host
	// other than github.com). Default: plain HTTP.
	TLSCert           string `yaml:"tls-cert"`
	TLSKey            string `yaml:"tls-key"`
	State             string `yaml:"state"`               // default .runner/serve
	Token             string `yaml:"token"`               // API token; default: generated into STATE/token
	PublicRead        bool   `yaml:"public-read"`         // reads (runs, logs, workflows, metrics) without the token; default false
	TokenFile         string `yaml:"token-file"`          // file holding the token
	WebhookSecret     string `yaml:"webhook-secret"`      // default: webhooks refused
	WebhookSecretFile string `yaml:"webhook-secret-file"` // file holding the webhook secret
	SecretsFile       string `yaml:"secrets-file"`        // K=V lines for the secrets context; never stored
	Capacity          int    `yaml:"capacity"`            // jobs at once, over all runs; default 2
	Jobs              int    `yaml:"jobs"`                // jobs at once inside one run; default 2, at most capacity
	Repositories      []Repo `yaml:"repositories"`        // default: none
	// RegistryMirrors are REGISTRY=URL pairs (e.g. docker.io=http://127.0.0.1:5000)
	// for buildkitd and every pull, like exec's --registry-mirror. Default none.
	RegistryMirrors []string `yaml:"registry-mirrors"`
	// ActionsSource is where owner/repo@ref actions come from: a URL
	// template with {owner} and {repo}, or a folder holding OWNER/REPO
	// (relative to the config file), like exec's --actions-source.
	// Default GitHub.
	ActionsSource string `yaml:"actions-source"`
	// RealActions are aliases of built-ins (actions/checkout,
	// actions/upload-artifact, actions/download-artifact) that run the
	// real action instead, fetched from actions-source, like exec's
	// --real-action. Default none.
	RealActions []string `yaml:"real-actions"`
	// CancelTimeout is how long the steps that run after a cancel (if:
	// always(), post steps) get before they are ended, like exec's
	// --cancel-timeout; force-cancel ends them at once. Default 5m,
	// GitHub's.
	CancelTimeout time.Duration `yaml:"cancel-timeout"`
	// Executor is where jobs run: absent or {kind: local}, in this
	// process; {kind: kubernetes, ...}, each job leg in a pod
	// (docs/kubernetes.md).
	Executor yaml.Node `yaml:"executor"`
	// Cache is the job cache of the runs' jobs that opt in
	// (docs/cache.md), STATE/exec/cache.
	Cache CacheConfig `yaml:"cache"`
}

// CacheConfig sets the job cache of runner serve, like exec's
// --cache-max and --cache-registry.
type CacheConfig struct {
	// MaxSize is the size cap (500M, 2G; K, M, G are powers of 1024);
	// least recently used entries go first. Default 2G.
	MaxSize string `yaml:"max-size"`
	// Registry is a repository (e.g. 127.0.0.1:5000/owner/runner-cache)
	// that shares entries with other services and runner exec
	// --cache-registry: a local miss is looked up there, a stored entry
	// is pushed. Credentials from the service's docker config, the
	// service's registry-mirrors apply. Default none.
	Registry string `yaml:"registry"`
}

// Repo is one watched repository.
type Repo struct {
	Path      string        `yaml:"path"`      // local repository, or
	URL       string        `yaml:"url"`       // a remote, mirrored under STATE/repos
	Name      string        `yaml:"name"`      // owner/name in API paths; default local/<base name>
	Branch    string        `yaml:"branch"`    // branch polled and dispatched by default; default: HEAD's branch
	Poll      time.Duration `yaml:"poll"`      // polling interval; default 0: no polling (webhooks only)
	Workflows string        `yaml:"workflows"` // workflows folder; default .github/workflows, then workflows
	// RegistryMirrors, when set, replace the service's registry-mirrors
	// for this repository's runs (REGISTRY=URL pairs).
	RegistryMirrors []string `yaml:"registry-mirrors"`
	// ActionsSource, when set, replaces the service's actions-source for
	// this repository's runs.
	ActionsSource string `yaml:"actions-source"`
}

// LoadConfig reads a config file; unknown keys are errors with their
// line. Relative paths in it are relative to the file's folder.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	cfg := &Config{}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		// yaml.v3 messages carry "line N"; prefix the file.
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	base := filepath.Dir(path)
	abs := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(base, *p)
		}
	}
	abs(&cfg.State)
	abs(&cfg.TokenFile)
	abs(&cfg.WebhookSecretFile)
	abs(&cfg.SecretsFile)
	abs(&cfg.TLSCert)
	abs(&cfg.TLSKey)
	// an actions-source that is no URL template is a folder
	absSource := func(p *string) {
		if !strings.Contains(*p, "://") {
			abs(p)
		}
	}
	absSource(&cfg.ActionsSource)
	for i := range cfg.Repositories {
		abs(&cfg.Repositories[i].Path)
		absSource(&cfg.Repositories[i].ActionsSource)
	}
	if err := cfg.check(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// check finds settings that contradict each other.
func (c *Config) check() error {
	if c.Token != "" && c.TokenFile != "" {
		return errors.New("token and token-file are both set: keep one")
	}
	if c.WebhookSecret != "" && c.WebhookSecretFile != "" {
		return errors.New("webhook-secret and webhook-secret-file are both set: keep one")
	}
	if c.CancelTimeout < 0 {
		return fmt.Errorf("cancel-timeout: %s is negative", c.CancelTimeout)
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return errors.New("tls-cert and tls-key go together: set both or neither")
	}
	if _, err := actions.ParseSource(c.ActionsSource); err != nil {
		return fmt.Errorf("actions-source: %w", err)
	}
	if _, err := c.executorConfig(); err != nil {
		return err
	}
	if c.Cache.MaxSize != "" {
		if _, err := jobcache.ParseSize(c.Cache.MaxSize); err != nil {
			return fmt.Errorf("cache: max-size: %w", err)
		}
	}
	if c.Cache.Registry != "" {
		if _, err := jobcache.NewRemote(c.Cache.Registry, nil); err != nil {
			return fmt.Errorf("cache: registry: %w", err)
		}
	}
	if _, err := steps.Default().Without(c.RealActions...); err != nil {
		return fmt.Errorf("real-actions: %w", err)
	}
	for _, r := range c.Repositories {
		if _, err := registry.ParseMirrors(r.RegistryMirrors...); err != nil {
			return fmt.Errorf("repositories: %s: registry-mirrors: %w", cmp.Or(r.Name, r.Path, r.URL), err)
		}
		if _, err := actions.ParseSource(r.ActionsSource); err != nil {
			return fmt.Errorf("repositories: %s: actions-source: %w", cmp.Or(r.Name, r.Path, r.URL), err)
		}
	}
	return nil
}

// withDefaults fills defaults and reads the secret files.
func (c Config) withDefaults() (Config, error) {
	if c.Listen == "" {
		c.Listen = "127.0.0.1:8080"
	}
	if c.State == "" {
		c.State = filepath.Join(".runner", "serve")
	}
	if c.Capacity <= 0 {
		c.Capacity = 2
	}
	if c.Jobs <= 0 {
		c.Jobs = 2
	}
	c.Jobs = min(c.Jobs, c.Capacity)
	if c.CancelTimeout == 0 {
		c.CancelTimeout = 5 * time.Minute
	}
	if err := c.check(); err != nil {
		return c, err
	}
	read := func(key, file string, into *string) error {
		if file == "" {
			return nil
		}
		data, err := os.ReadFile(file)
		if err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		if *into = strings.TrimSpace(string(data)); *into == "" {
			return fmt.Errorf("%s: %s is empty", key, file)
		}
		return nil
	}
	if err := read("token-file", c.TokenFile, &c.Token); err != nil {
		return c, err
	}
	if err := read("webhook-secret-file", c.WebhookSecretFile, &c.WebhookSecret); err != nil {
		return c, err
	}
	for i, r := range c.Repositories {
		if (r.Path == "") == (r.URL == "") {
			return c, fmt.Errorf("repositories[%d]: set exactly one of path and url", i)
		}
		if r.Name == "" {
			c.Repositories[i].Name = r.DefaultName()
		}
	}
	return c, nil
}

// DefaultName is the repository's name when none is set: local/ and the
// last element of its path or URL, without .git.
func (r Repo) DefaultName() string {
	if r.Path != "" {
		return "local/" + filepath.Base(r.Path)
	}
	base := strings.TrimSuffix(strings.TrimRight(r.URL, "/"), ".git")
	if i := strings.LastIndexAny(base, "/:"); i >= 0 {
		base = base[i+1:]
	}
	return "local/" + base
}
