package kube

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

	"github.com/birdflock/runner/pkg/run"
	"github.com/birdflock/runner/pkg/steps"
)

// Config is the executor's configuration: runner serve's
// `executor: {kind: kubernetes, ...}` and runner exec's flags. Its field
// names are the config file's keys; the pod settings take Kubernetes' own
// spelling and types (read through sigs.k8s.io/yaml, as kubectl does).
type Config struct {
	// Kind is "kubernetes": serve's executor section names its kind.
	Kind string `json:"kind,omitempty"`
	// Kubeconfig is the kubeconfig file to use. Empty: the in-cluster
	// configuration when runner runs in a pod, else $KUBECONFIG, else
	// ~/.kube/config.
	Kubeconfig string `json:"kubeconfig,omitempty"`
	// Context is the kubeconfig context; empty: its current context.
	Context string `json:"context,omitempty"`
	// Namespace is where the pods go; empty: the kubeconfig context's
	// namespace, else the pod's own namespace in-cluster, else "default".
	Namespace string `json:"namespace,omitempty"`
	// Image is the default image of the leg pods: it must hold runner's
	// binary at Binary (baseimage.Runner builds one).
	Image string `json:"image,omitempty"`
	// Binary is runner's path inside the image; default
	// /usr/local/bin/runner.
	Binary string `json:"binary,omitempty"`
	// Templates map runs-on labels to pod settings: a job takes the first
	// template (in the job's runs-on order) that has one of its labels,
	// else Default.
	Templates map[string]PodTemplate `json:"templates,omitempty"`
	// Default is the template of jobs whose labels name none.
	Default PodTemplate `json:"default,omitempty"`
	// StartTimeout bounds the wait for a pod to run (scheduling and image
	// pull); default 5 minutes.
	StartTimeout metav1.Duration `json:"start-timeout,omitempty"`
	// BuildkitHost is the BuildKit daemon the pods' build-image steps use
	// (BUILDKIT_HOST), e.g. tcp://buildkitd.runner.svc:1234: an address
	// pods reach, where the controller's setting is one it reaches.
	// Default: the controller's.
	BuildkitHost string `json:"buildkit-host,omitempty"`
	// RegistryMirrors replace the controller's registry mirrors in the
	// pods (REGISTRY=URL pairs that pods reach). Default: the
	// controller's.
	RegistryMirrors []string `json:"registry-mirrors,omitempty"`
	// Registry is what the registry input `embedded` of the pods'
	// build-image and push-image steps stands for: the controller's
	// registry as pods reach it, host:port or http://host:port for plain
	// HTTP (runner's registry). Default: none, and a pod's `embedded` is
	// a registry inside the pod, gone with it.
	Registry string `json:"registry,omitempty"`
	// Grace is the termination grace period of cancelled pods: the time
	// their if: always() steps have; default 30 s.
	Grace metav1.Duration `json:"grace,omitempty"`
	// ScratchRegistry is the registry the legs' test-image steps pass
	// their image archives through to a pod of their own. Default:
	// Registry (the nodes pulling from it at the same address). Without
	// either, test-image of an archive fails in a pod, saying so.
	ScratchRegistry *ScratchRegistry `json:"scratch-registry,omitempty"`
}

// ScratchRegistry is one registry, named as pods and as nodes reach it.
type ScratchRegistry struct {
	// Push is the registry as the legs' pods reach it: host:port, with
	// http:// for plain HTTP.
	Push string `json:"push"`
	// Pull is the same registry as the nodes' container runtime names it
	// in the test pods' image references; default: Push's host:port.
	Pull string `json:"pull,omitempty"`
}

// scratch is the scratch registry's addresses, ok false when there is none.
func (c *Config) scratch() (push, pull string, ok bool) {
	s := c.ScratchRegistry
	if (s == nil || s.Push == "") && c.Registry != "" {
		s = &ScratchRegistry{Push: c.Registry}
	}
	if s == nil || s.Push == "" {
		return "", "", false
	}
	pull = s.Pull
	if pull == "" {
		pull = strings.TrimPrefix(strings.TrimPrefix(s.Push, "http://"), "https://")
	}
	return s.Push, pull, true
}

// PodTemplate is what a runs-on label sets on a leg's pod.
type PodTemplate struct {
	Image              string                      `json:"image,omitempty"`
	Resources          corev1.ResourceRequirements `json:"resources,omitempty"`
	NodeSelector       map[string]string           `json:"nodeSelector,omitempty"`
	Tolerations        []corev1.Toleration         `json:"tolerations,omitempty"`
	ServiceAccountName string                      `json:"serviceAccountName,omitempty"`
	// PullPolicy is the container's imagePullPolicy; default
	// IfNotPresent.
	PullPolicy corev1.PullPolicy `json:"imagePullPolicy,omitempty"`
	// Env is set in the leg container (and so in the environment its
	// steps start from), e.g. GOPROXY=off for an image that brings its
	// module cache. Pod specs are readable by whoever may read pods: no
	// secrets here (they go to the leg on its stream). Only name and
	// value: valueFrom would read cluster objects the controller does
	// not check.
	Env []EnvVar `json:"env,omitempty"`
	// Idle is how many pods of this template runner serve keeps started
	// ahead of the jobs, and runner exec starts ahead of its run
	// (Transport.OneRun; idle.go): a job without container: and
	// services: claims one instead of waiting for a pod to start.
	// Default 0: none. It needs the patch verb on pods (IdleRules).
	Idle int `json:"idle,omitempty"`
}

// EnvVar is one variable of a template's env.
type EnvVar struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// template returns the pod settings for a job's runs-on labels, with the
// image defaulted.
func (c *Config) template(labels []string) PodTemplate {
	t := c.Default
	if l := c.templateLabel(labels); l != "" {
		t = c.Templates[l]
	}
	if t.Image == "" {
		t.Image = c.Default.Image
	}
	if t.Image == "" {
		t.Image = c.Image
	}
	if t.PullPolicy == "" {
		t.PullPolicy = corev1.PullIfNotPresent
	}
	return t
}

// templateLabel is the first of labels that has a template, "" for none
// (Default).
func (c *Config) templateLabel(labels []string) string {
	for _, l := range labels {
		if _, ok := c.Templates[l]; ok {
			return l
		}
	}
	return ""
}

func (c *Config) binary() string {
	if c.Binary != "" {
		return c.Binary
	}
	return "/usr/local/bin/runner"
}

func (c *Config) startTimeout() time.Duration {
	if c.StartTimeout.Duration > 0 {
		return c.StartTimeout.Duration
	}
	return 5 * time.Minute
}

func (c *Config) grace() time.Duration {
	if c.Grace.Duration > 0 {
		return c.Grace.Duration
	}
	return 30 * time.Second
}

// Client is a connection to a cluster: its REST configuration, typed
// client and the namespace the pods go to.
type Client struct {
	REST      *rest.Config
	Set       kubernetes.Interface
	Namespace string
	// Who names the credentials in errors: "this kubeconfig", or "the
	// pod's service account" in-cluster.
	Who string
}

// who is c.Who, "these credentials" when unset.
func (c *Client) who() string {
	if c.Who != "" {
		return c.Who
	}
	return "these credentials"
}

// Connect loads the cluster configuration c names: Kubeconfig, else the
// in-cluster one, else $KUBECONFIG or ~/.kube/config.
func Connect(c *Config) (*Client, error) {
	quietOnce.Do(quiet)
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if c.Kubeconfig != "" {
		rules.ExplicitPath = c.Kubeconfig
	}
	overrides := &clientcmd.ConfigOverrides{CurrentContext: c.Context}
	loader := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides)
	var cfg *rest.Config
	var err error
	who := "this kubeconfig"
	if c.Kubeconfig == "" {
		if cfg, err = rest.InClusterConfig(); err != nil && !errors.Is(err, rest.ErrNotInCluster) {
			return nil, fmt.Errorf("kubernetes: in-cluster configuration: %w", err)
		}
		if cfg != nil {
			who = "the pod's service account"
		}
	}
	if cfg == nil {
		if cfg, err = loader.ClientConfig(); err != nil {
			where := c.Kubeconfig
			if where == "" {
				where = "$KUBECONFIG or " + filepath.Join(homeDir(), ".kube", "config")
			}
			return nil, fmt.Errorf("kubernetes: no cluster configuration (not in a cluster, and %s): %w", where, err)
		}
	}
	ns := c.Namespace
	if ns == "" {
		if ns, _, err = loader.Namespace(); err != nil || ns == "" {
			ns = "default"
		}
	}
	cfg.UserAgent = "runner"
	set, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes: %w", err)
	}
	return &Client{REST: cfg, Set: set, Namespace: ns, Who: who}, nil
}

func homeDir() string {
	if h, err := os.UserHomeDir(); err == nil {
		return h
	}
	return "~"
}

// PodSettings are runner's settings for the built-ins of the legs that run
// in pods: s, with the addresses pods reach (BuildkitHost,
// RegistryMirrors) in place of the controller's.
func (c *Config) PodSettings(s steps.Settings) steps.Settings {
	if c.BuildkitHost != "" {
		s.BuildkitHost = c.BuildkitHost
	}
	if len(c.RegistryMirrors) > 0 {
		s.RegistryMirror = strings.Join(c.RegistryMirrors, ",")
	}
	if c.Registry != "" {
		s.Registry = c.Registry
	}
	return s
}

// ParseConfig reads the executor section of a config file (YAML), strictly:
// an unknown key is an error, as a typo in a pod template would otherwise
// be silently ignored.
func ParseConfig(data []byte) (*Config, error) {
	var c Config
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return nil, fmt.Errorf("kubernetes executor: %w", err)
	}
	// Case-sensitive, as the API server reads pod specs: nodeselector is
	// not nodeSelector.
	strict, err := kjson.UnmarshalStrict(js, &c, kjson.DisallowDuplicateFields, kjson.DisallowUnknownFields)
	if err == nil && len(strict) > 0 {
		err = errors.Join(strict...)
	}
	if err != nil {
		return nil, fmt.Errorf("kubernetes executor: %w", err)
	}
	if c.Kind != "" && c.Kind != "kubernetes" {
		return nil, fmt.Errorf("kubernetes executor: kind %q: want kubernetes", c.Kind)
	}
	for name, t := range c.templates() {
		if t.Idle < 0 || t.Idle > maxIdle {
			return nil, fmt.Errorf("kubernetes executor: %s.idle %d: want 0 to %d", name, t.Idle, maxIdle)
		}
		for i, e := range t.Env {
			if errs := validation.IsEnvVarName(e.Name); len(errs) > 0 {
				return nil, fmt.Errorf("kubernetes executor: %s.env[%d].name %q: %s", name, i, e.Name, strings.Join(errs, "; "))
			}
			if run.IsOwnVariable(e.Name) {
				return nil, fmt.Errorf("kubernetes executor: %s.env[%d].name %s: RUNNER_* variables are runner's own, never a step's", name, i, e.Name)
			}
		}
	}
	return &c, nil
}

// maxIdle bounds a template's idle pods (the kubelet's default maxPods is
// 110 a node).
const maxIdle = 50

// templates are the pod templates by their place in the config:
// "default" and "templates.LABEL".
func (c *Config) templates() map[string]PodTemplate {
	m := map[string]PodTemplate{"default": c.Default}
	for l, t := range c.Templates {
		m["templates."+l] = t
	}
	return m
}

var quietOnce sync.Once

// quiet keeps client-go's own logging (klog: "Copying stdout failed" when
// a pod is deleted while attached) off runner's stderr: what matters
// reaches the job's log as an error.
func quiet() {
	klog.SetLogger(logr.Discard())
}
