package steps

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/birdflock/runner/pkg/container"
	"github.com/birdflock/runner/pkg/registry"
	"github.com/birdflock/runner/pkg/workflow"
)

// Builtin is one built-in action, used from a workflow as `uses: NAME`.
//
// The engine calls Spec while validating a workflow (before anything runs)
// and Run once per step execution. Run may be called concurrently for
// different steps; a Builtin must keep no per-run state in itself.
type Builtin interface {
	// Spec describes the action: name, aliases, inputs and outputs.
	Spec() Spec
	// Run executes the step. A returned error fails the step; its message is
	// shown in the step log (masked). Cancellation of ctx means the step must
	// stop promptly and clean up what it started.
	Run(ctx context.Context, s *Context) error
}

// Spec is what validation and documentation know about a built-in.
type Spec struct {
	Name        string   // e.g. "checkout"
	Aliases     []string // e.g. "actions/checkout": matched without the @ref
	Description string
	Inputs      []Input
	Outputs     []string
}

// Input declares one `with:` key.
type Input struct {
	Name        string
	Default     string // used when the workflow does not set it
	Required    bool
	Description string
}

// Context is what a running built-in sees. The engine fills it.
type Context struct {
	// Inputs holds every declared input, after expressions are evaluated and
	// defaults applied. Keys are the input names as declared in Spec.
	Inputs map[string]string
	// Env is the step's environment after GitHub's layering
	// (workflow, job, step env plus the default GITHUB_* variables).
	Env map[string]string
	// Workspace is the job's GITHUB_WORKSPACE; relative paths resolve here.
	Workspace string
	// Temp is the job's RUNNER_TEMP, removed when the job ends.
	Temp string
	// Run identifies the run and its shared state (artifacts, repository).
	Run RunInfo
	// Log receives the step's log, one line per Write call or newline.
	// Everything written is masked before it is shown or stored.
	Log io.Writer
	// OnMask, when set, receives every AddMask value at once: the engine
	// masks it in each line logged after the call. Default: none (the
	// values are only kept for Masks).
	OnMask func(value string)

	outputs map[string]string
	masks   []string
}

// RunInfo is shared by every job of one run.
type RunInfo struct {
	ID           string // run id, unique per run
	StateDir     string // runner's state dir (e.g. .runner): caches, registries
	ArtifactsDir string // where this run's artifacts live
	Repo         string // the repository the run was started for (path or URL)
	SHA          string // github.sha
	Ref          string // github.ref
	Actor        string
	// Scope is shared by the run's steps (the embedded registry). Nil
	// outside the engine: steps then start what they need for themselves.
	Scope *Scope
	// Settings are runner's own settings for the built-ins. They never
	// reach a step's environment. Default: none.
	Settings Settings
	// Containers, when set, is where the step's containers run
	// (test-image): a leg in a Kubernetes pod runs them as pods of their
	// own, started by the controller. Default: runc on this machine.
	Containers container.Runtime
}

// Settings are runner's own configuration that built-ins read, given to
// them explicitly: runner's process environment is not a step's (a `run:`
// step must not see runner's variables). A step's env may still set the
// same variable names for itself (Context.Getenv).
type Settings struct {
	RegistryMirror string // RUNNER_REGISTRY_MIRROR: REGISTRY=URL,… (exec's --registry-mirror, serve's registry-mirrors)
	BuildkitHost   string // BUILDKIT_HOST: an existing buildkitd instead of runner's own
	// Registry is what the registry input `embedded` of build-image and
	// push-image stands for when runner's registry is not this machine's:
	// host:port (http://host:port for plain HTTP, as runner's registry
	// serves) of the controller's registry as a leg that runs elsewhere
	// reaches it (a Kubernetes pod: the executor's registry). Default "":
	// the state dir's registry, served on a loopback address.
	Registry string `json:",omitempty"`
}

// SettingsFromEnv reads Settings from variables of those names, as getenv
// (e.g. os.Getenv) returns them.
func SettingsFromEnv(getenv func(string) string) Settings {
	return Settings{RegistryMirror: getenv(registry.EnvMirrors), BuildkitHost: getenv("BUILDKIT_HOST")}
}

// lookup is the setting a variable name stands for, "" for other names.
func (st Settings) lookup(k string) string {
	switch k {
	case registry.EnvMirrors:
		return st.RegistryMirror
	case "BUILDKIT_HOST":
		return st.BuildkitHost
	}
	return ""
}

// Getenv is the step's variable k, else runner's setting of that name
// (RUNNER_REGISTRY_MIRROR, BUILDKIT_HOST: Settings), never runner's
// process environment.
func (s *Context) Getenv(k string) string {
	if v, ok := s.Env[k]; ok {
		return v
	}
	return s.Run.Settings.lookup(k)
}

// Input returns an input value ("" when unset and without default).
func (s *Context) Input(name string) string { return s.Inputs[name] }

// SetOutput records a step output, available as steps.<id>.outputs.<name>.
func (s *Context) SetOutput(name, value string) {
	if s.outputs == nil {
		s.outputs = map[string]string{}
	}
	s.outputs[name] = value
}

// Outputs returns the outputs set so far.
func (s *Context) Outputs() map[string]string { return s.outputs }

// AddMask asks the engine to mask value in every later output, like
// `::add-mask::`. Use it for credentials a step derives at run time.
func (s *Context) AddMask(value string) {
	s.masks = append(s.masks, value)
	if s.OnMask != nil {
		s.OnMask(value)
	}
}

// Masks returns the values added with AddMask.
func (s *Context) Masks() []string { return s.masks }

// Logf writes one formatted line to the step log.
func (s *Context) Logf(format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	if !strings.HasSuffix(line, "\n") {
		line += "\n"
	}
	_, _ = io.WriteString(s.Log, line)
}

// Set is a set of built-ins looked up by name or alias. The zero value is
// empty; Default returns every built-in of this package.
type Set struct {
	byName map[string]Builtin
	names  []string
}

// NewSet builds a Set; a duplicate name or alias is a programming error.
func NewSet(bs ...Builtin) *Set {
	s := &Set{byName: map[string]Builtin{}}
	for _, b := range bs {
		spec := b.Spec()
		for _, n := range append([]string{spec.Name}, spec.Aliases...) {
			if _, dup := s.byName[n]; dup {
				panic("steps: duplicate built-in " + n)
			}
			s.byName[n] = b
		}
		s.names = append(s.names, spec.Name)
	}
	sort.Strings(s.names)
	return s
}

// Lookup resolves a `uses:` value. "actions/checkout@v4" matches the alias
// "actions/checkout"; a plain name matches with or without "@ref".
func (s *Set) Lookup(uses string) (Builtin, bool) {
	if s == nil {
		return nil, false
	}
	name := uses
	if i := strings.LastIndex(name, "@"); i > 0 {
		name = name[:i]
	}
	b, ok := s.byName[name]
	return b, ok
}

// Action resolves a `uses:` value for workflow validation.
func (s *Set) Action(uses string) (string, []workflow.ActionInput, bool) {
	b, ok := s.Lookup(uses)
	if !ok {
		return "", nil, false
	}
	spec := b.Spec()
	inputs := make([]workflow.ActionInput, len(spec.Inputs))
	for i, in := range spec.Inputs {
		inputs[i] = workflow.ActionInput{Name: in.Name, Default: in.Default, Required: in.Required}
	}
	return spec.Name, inputs, true
}

// Names lists the built-ins' primary names, sorted.
func (s *Set) Names() []string {
	if s == nil {
		return nil
	}
	return s.names
}

// Without returns a copy of the set in which the named aliases
// ("actions/checkout") are no longer built-ins: a uses: of them then runs
// the real action, fetched like any owner/repo@ref. A name that is not
// an alias of a built-in is an error that lists them.
func (s *Set) Without(aliases ...string) (*Set, error) {
	out := &Set{byName: make(map[string]Builtin, len(s.byName)), names: s.names}
	for k, v := range s.byName {
		out.byName[k] = v
	}
	for _, a := range aliases {
		a = strings.TrimSpace(a)
		if i := strings.LastIndex(a, "@"); i > 0 {
			a = a[:i]
		}
		b, ok := out.byName[a]
		if !ok || b.Spec().Name == a {
			return nil, fmt.Errorf("%q is not an alias of a built-in action; the aliases are: %s", a, strings.Join(s.Aliases(), ", "))
		}
		delete(out.byName, a)
	}
	return out, nil
}

// Aliases lists the GitHub action names (owner/repo) the built-ins stand
// in for, sorted.
func (s *Set) Aliases() []string {
	var out []string
	for k, b := range s.byName {
		if b.Spec().Name != k {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}
