package workflow

import "gopkg.in/yaml.v3"

// Value is a scalar from the workflow file with its position. Expressions in
// it are checked by Validate and evaluated by the engine.
type Value struct {
	Raw string
	Pos
	Set bool // false when the key was absent
	// Quoted is true for a '…' or "…" scalar, whose text starts one
	// column after Pos.
	Quoted bool
	// Indent is the column where the lines of a literal block scalar
	// (run: |) start, 0 for other scalars.
	Indent int
	// Folded is, for a folded block scalar (options: >-) whose text is
	// its lines joined by single spaces, where each line starts and how
	// long it is, so that an offset in Raw can be placed; empty (not nil) for a folded scalar that cannot be
	// placed; nil for other scalars.
	Folded []Span
}

// Span is a run of Len bytes starting at Pos.
type Span struct {
	Pos
	Len int
}

// KV is one entry of an ordered mapping such as env, with or outputs.
// A Key holding ${{ }} is computed by its expression at run time.
type KV struct {
	Key       string
	Value     Value
	KeyPos    Pos  // where the key is written
	KeyQuoted bool // the key is a '…' or "…" scalar
	// Insert marks GitHub's `${{ insert }}: ${{ expr }}` entry, and a
	// mapping given as one expression (env: ${{ expr }}): Value is an
	// expression that gives an object, whose entries take the place of
	// this one at run time. Key is empty.
	Insert bool
}

// Workflow is a parsed workflow file.
type Workflow struct {
	File        string
	Name        Value
	RunName     Value
	On          Triggers
	Env         []KV
	Defaults    Defaults
	Concurrency *Concurrency
	Jobs        []*Job
	// Permissions is the `permissions:` value as written, or nil.
	Permissions *yaml.Node
	root        *yaml.Node // the document, for rules on the YAML itself
}

// Job returns the job with the given id, or nil.
func (w *Workflow) Job(id string) *Job {
	for _, j := range w.Jobs {
		if j.ID == id {
			return j
		}
	}
	return nil
}

// Triggers is the `on:` section. Every event is kept by name; push and
// workflow_dispatch are understood in detail.
type Triggers struct {
	Events   []string
	Push     *PushFilter
	Dispatch *Dispatch
	// Call is on.workflow_call (parse_call.go); nil without it.
	Call *WorkflowCall
	// Node is the `on:` value as written, for the rules on events
	// (rule_events.go); nil when it is missing.
	Node *yaml.Node
}

// Has reports whether the workflow runs on the named event.
func (t Triggers) Has(event string) bool {
	for _, e := range t.Events {
		if e == event {
			return true
		}
	}
	return false
}

// PushFilter holds on.push filters. Empty lists mean "no filter".
type PushFilter struct {
	Branches, BranchesIgnore []Value
	Tags, TagsIgnore         []Value
	Paths, PathsIgnore       []Value
}

// Dispatch is on.workflow_dispatch.
type Dispatch struct {
	Inputs []*InputDef
}

// InputDef declares one workflow_dispatch input.
type InputDef struct {
	Name string
	Pos
	Description string
	Type        string // string (default), boolean, number, choice, environment
	Required    bool
	Default     Value
	Options     []string
}

// Defaults is `defaults.run`.
type Defaults struct {
	Shell            Value
	WorkingDirectory Value
}

// Concurrency is a `concurrency:` group.
type Concurrency struct {
	Group            Value
	CancelInProgress Value
}

// Job is one entry of `jobs:`.
type Job struct {
	ID string
	Pos
	Name            Value
	Needs           []Value
	If              Value
	RunsOn          []Value
	Env             []KV
	Defaults        Defaults
	Outputs         []KV
	Strategy        *Strategy
	TimeoutMinutes  Value
	ContinueOnError Value
	Concurrency     *Concurrency
	Steps           []*Step
	// Services are jobs.<id>.services, in the order written.
	Services []*Service
	// Permissions is the `permissions:` value as written, or nil.
	Permissions *yaml.Node
	// RunsOnGroup is runs-on's group (runs-on: {group, labels}).
	RunsOnGroup Value
	// Call is set on a job that calls a reusable workflow (uses:); such
	// a job has no steps (parse_call.go).
	Call  *Call
	node  *yaml.Node // the job's mapping, shared by aliases
	calls bool       // a reusable-workflow call (job-level uses)
	// Container is jobs.<id>.container (parse_container.go), or nil.
	Container *Container
}

// Strategy is `jobs.<id>.strategy`.
type Strategy struct {
	Pos
	// Matrix is the raw matrix node: a mapping, or a scalar expression that
	// yields one at run time. Nil without a matrix.
	Matrix      *yaml.Node
	FailFast    Value
	MaxParallel Value
}

// Step is one entry of `steps:`.
type Step struct {
	Index int // 0-based position in the job
	Pos
	ID               Value
	Name             Value
	If               Value
	Run              Value
	Shell            Value
	WorkingDirectory Value
	Uses             Value
	With             []KV
	Env              []KV
	ContinueOnError  Value
	TimeoutMinutes   Value
	node             *yaml.Node // the step's mapping, shared by aliases
}

// DisplayName is the step's name as GitHub shows it.
func (s *Step) DisplayName() string {
	switch {
	case s.Name.Set:
		return s.Name.Raw
	case s.Uses.Set:
		return s.Uses.Raw
	default:
		line := s.Run.Raw
		for i, c := range line {
			if c == '\n' {
				line = line[:i]
				break
			}
		}
		return "Run " + line
	}
}
