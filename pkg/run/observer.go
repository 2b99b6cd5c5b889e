package run

import (
	"sync"
	"time"
)

// EventKind says what an Event reports.
type EventKind int

// The kinds of events, in the order a run produces them.
const (
	// RunStarted: Text is the run's title (run-name) and number.
	RunStarted EventKind = iota + 1
	// JobStarted: Text is the job's display name.
	JobStarted
	// JobEnded: Status is success, failure, cancelled or skipped; Text says
	// why when the job did not run (kept from an earlier attempt; cached
	// (run N, key …): restored from the job cache).
	JobEnded
	// StepStarted and StepEnded name the step in Step.
	StepStarted
	StepEnded
	// Line is a line of a job's log (of a step when Step is set). Job is
	// "run" for a run-level warning.
	Line
	// Annotation is an ::error/::warning/::notice of a step, in Text.
	Annotation
	// JobRunner names, in Text, the runner a job leg runs on when it is
	// not this process: a Kubernetes pod's name (Options.Remote).
	JobRunner
	// GroupEnded is a step's ::endgroup::: the group its last "▸ title"
	// line (::group::) opened ends. Step names the step; no Text.
	GroupEnded
)

// String is the kind's name in the CLI's JSON events ("event" field).
func (k EventKind) String() string {
	switch k {
	case RunStarted:
		return "run"
	case JobStarted, StepStarted:
		return "start"
	case JobEnded, StepEnded:
		return "end"
	case Line:
		return "line"
	case Annotation:
		return "annotation"
	case JobRunner:
		return "runner"
	case GroupEnded:
		return "endgroup"
	}
	return "unknown"
}

// Event is one thing that happened in a run. Text and Step are already
// masked: an observer may store or print them as they are.
type Event struct {
	Kind     EventKind
	Time     time.Time
	Job      string // the job's key (a matrix leg's includes its values)
	Step     string
	Text     string
	Status   string
	Duration time.Duration
	// Cached is set on a JobEnded whose job was restored from the job
	// cache (docs/cache.md), not run: Text then says so as well.
	Cached *CacheHit
	// Leg is, on JobStarted and JobEnded, the leg's index in its job's
	// matrix expansion (strategy.job-index; 0 without a matrix): with the
	// job's place in the workflow, the order GitHub lists jobs in.
	Leg int
	// Kept is set on a JobEnded whose job did not run but keeps the
	// result of an earlier attempt (Options.Reuse).
	Kept bool
	// Annotation is set on an Annotation event: the command's
	// properties, as GitHub's check run annotations keep them; Text is
	// its one-line form.
	Annotation *Issue
}

// Issue is an ::error, ::warning or ::notice a step wrote (or a
// problem matcher made), with the command's properties: title, file,
// line, endLine, col, endColumn (GitHub's runner calls it an issue).
// Numbers a command did not give (or gave as no number) are 0.
type Issue struct {
	Level     string // error, warning or notice
	Message   string
	Title     string
	File      string
	Line      int
	EndLine   int
	Col       int
	EndColumn int
}

// Observer receives a run's events in order. The engine calls it from
// one goroutine at a time; it should return quickly (the jobs wait).
type Observer interface {
	Observe(Event)
}

// ObserverFunc is a function as an Observer.
type ObserverFunc func(Event)

// Observe calls f.
func (f ObserverFunc) Observe(e Event) { f(e) }

// observers delivers each event, masked and timed, to the run's observer,
// one at a time.
type observers struct {
	mu     sync.Mutex
	obs    Observer
	masker *Masker
}

func (o *observers) emit(e Event) {
	e.Text = o.masker.Mask(e.Text)
	e.Step = o.masker.Mask(e.Step)
	if e.Annotation != nil {
		a := *e.Annotation
		a.Message, a.Title, a.File = o.masker.Mask(a.Message), o.masker.Mask(a.Title), o.masker.Mask(a.File)
		e.Annotation = &a
	}
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.obs.Observe(e)
}
