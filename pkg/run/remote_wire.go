package run

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/birdflock/runner/pkg/actions"
	"github.com/birdflock/runner/pkg/steps"
	"github.com/birdflock/runner/pkg/workflow"
	"github.com/birdflock/runner/pkg/workflow/expr"
)

// WireVersion is the version of the protocol between a controller and a
// remote leg (docs/kubernetes.md, "How a job runs remotely"). The leg
// refuses a spec of another version, so that a pod whose image holds an
// older runner than its controller fails saying so instead of dropping
// what it does not know. 2: the pod's work directories (WorkDir),
// sealed values (SealKey), step containers and their late frames.
const WireVersion = 2

// BundledNodeEnv names, in runner job's environment, a node copied in
// beside runner (Options.BundledNode); runner job unsets it before the
// leg's steps see the environment.
const BundledNodeEnv = "RUNNER_BUNDLED_NODE"

// The source a leg's spec announces (legSpec.Source): where checkout in
// the leg clones from.
const (
	sourceNone = ""    // the run has no repository
	sourceURL  = "url" // Repo.Path is a URL: the leg clones it itself
	sourceTar  = "tar" // a tar of the repository's git directory follows
)

// legSpec is the first line the controller writes to a remote leg: all it
// needs to run the leg as the controller would, secrets included (the
// stream is the only place they travel; the leg keeps them in memory).
type legSpec struct {
	Version  int
	Workflow []byte // the workflow file's bytes
	File     string // its path as the run shows it (positions in errors)
	// Caller is set for a leg of a called workflow (Workflow is the
	// callee's file): the calling workflow, whose github context the
	// leg sees.
	Caller   *legCaller `json:",omitempty"`
	Job      string     // the job's id
	Key      string     // the leg's key: job id and matrix values
	Dir      string     // the leg's directory and log name in the run record
	Matrix   legCombo
	Needs    map[string]any // the needs context
	Strategy map[string]any `json:",omitempty"`

	Event   string
	Payload map[string]any
	Inputs  map[string]any
	Vars    map[string]string
	Env     map[string]string
	Repo    Repo   // Path: the URL for sourceURL, "" otherwise
	Source  string // sourceNone, sourceURL or sourceTar
	// Upstream is where the repository's clones push (sourceTar): the
	// leg's copy gets it as its origin.
	Upstream string `json:",omitempty"`
	// gitDir is the git directory sent as the source (sourceTar): the
	// repository's .git, the common one of a linked worktree, or the
	// repository itself when bare. The controller's only.
	gitDir  string
	Run     int // the run's record number: the leg's run directory
	RunID   int
	Attempt int

	Secrets     map[string]string
	Credentials []string // masked like secrets: those in Upstream's URL
	Settings    steps.Settings
	Actions     actions.Source
	Builtins    []string // the aliases kept (runner exec --real-action drops some)
	NoBuiltins  bool     // the controller has no built-ins at all
	// InterruptGrace and KillGrace are the stop ladder's waits
	// (Options); an older controller sends no InterruptGrace, and the
	// leg takes the default.
	InterruptGrace time.Duration `json:",omitempty"`
	KillGrace      time.Duration
	StepLogLimit   int64
	// PodContainer says that the leg runs in the job's container:
	// image (LegInfo.Image): its steps run where they are, not in a
	// container the leg would start.
	PodContainer bool `json:",omitempty"`
	// PodServices are the job's services as containers of the leg's pod
	// (LegInfo.Services): label → container ports.
	PodServices map[string][]int `json:",omitempty"`
	// RemoteContainers says that the controller runs the leg's
	// containers (test-image), through Scratch; nil Scratch: it has
	// no scratch registry, and test-image fails saying so.
	RemoteContainers bool        `json:",omitempty"`
	Scratch          *legScratch `json:",omitempty"`
	// WorkDir is where the leg's pod holds the job's work directories,
	// each on a volume of its own (LegWorkDir); "" for the leg's own.
	WorkDir string `json:",omitempty"`
	// SealKey (32 random bytes, made per leg) seals the masked values of
	// a container's env that are not the run's secrets as they are (a
	// value exported to GITHUB_ENV after ::add-mask::): the frames are
	// the pod's log, the spec (stdin) is not.
	SealKey []byte `json:",omitempty"`
}

// legCaller is the workflow that called a leg's workflow: github.workflow
// and github.workflow_ref are its.
type legCaller struct {
	Name string // its name, else its file
	File string
}

// legCombo is a matrix combination on the wire: its values keep their
// object keys' order (expr.Object marshals in order; decodeOrdered reads
// it back).
type legCombo struct {
	Keys   []string
	Values map[string]json.RawMessage
}

func encodeCombo(c workflow.Combo) (legCombo, error) {
	out := legCombo{Keys: c.Keys, Values: map[string]json.RawMessage{}}
	for k, v := range c.Values {
		data, err := json.Marshal(expr.Normalize(v))
		if err != nil {
			return out, fmt.Errorf("matrix value %s: %w", k, err)
		}
		out.Values[k] = data
	}
	return out, nil
}

func (c legCombo) decode() (workflow.Combo, error) {
	out := workflow.Combo{Keys: c.Keys, Values: map[string]any{}}
	for k, raw := range c.Values {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		v, err := decodeOrdered(dec)
		if err != nil {
			return out, fmt.Errorf("matrix value %s: %w", k, err)
		}
		out.Values[k] = v
	}
	return out, nil
}

// decodeOrdered reads one JSON value as an expression value: objects
// become *expr.Object with their keys in the order written.
func decodeOrdered(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			o := expr.NewObject()
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return nil, err
				}
				v, err := decodeOrdered(dec)
				if err != nil {
					return nil, err
				}
				o.Set(k.(string), v)
			}
			_, err := dec.Token()
			return o, err
		case '[':
			out := []any{}
			for dec.More() {
				v, err := decodeOrdered(dec)
				if err != nil {
					return nil, err
				}
				out = append(out, v)
			}
			_, err := dec.Token()
			return out, err
		}
		return nil, fmt.Errorf("unexpected %v", t)
	case json.Number:
		return t.Float64()
	}
	return tok, nil
}

// The frames a remote leg writes, one JSON object a line.
const (
	frameEvent    = "event"    // Event: one of the leg's events, masked
	frameLog      = "log"      // Text: a line of the leg's job log, masked
	frameSummary  = "summary"  // Text: the leg's part of the step summary, masked
	frameArtifact = "artifact" // Name: an artifact the leg uploaded; file frames follow
	frameFile     = "file"     // Path, Mode, Size: a file of it; Size raw bytes follow the line
	frameEnd      = "artifact-end"
	frameResult   = "result" // Job: the leg's result, masked; the last frame
	frameError    = "error"  // Text: why the leg could not run, masked; the last frame

	// From the leg: its steps' containers, run by the controller
	// (remote_containers.go).
	frameContainer     = "container"      // Name (the leg's id for it), Container: run it
	frameContainerStop = "container-stop" // Name: remove it

	// From the controller, after the source: control frames.
	frameCancel = "cancel" // cancel the leg (like Ctrl-C)
	frameForce  = "force"  // end even the steps that run after a cancellation

	// From the controller: about the leg's containers.
	frameContainerUp   = "container-up"   // Name, Ports, Text (the runtime's name for it): it runs
	frameContainerLog  = "container-log"  // Name, Text: a line of its output
	frameContainerEnd  = "container-end"  // Name, Code: its process exited
	frameContainerGone = "container-gone" // Name; Code 1 and Text: why it could not run or be removed
	// Name, Runtime: a container in the leg's pod whose start failed (or
	// was given up) runs after all: the leg stops its processes.
	frameContainerLate = "container-late"
)

// wireFrame is one line of the protocol (see the frame* constants).
type wireFrame struct {
	Type  string
	Event *wireEvent `json:",omitempty"`
	Text  string     `json:",omitempty"`
	// Bytes replaces Text (log, summary) when that is not valid UTF-8,
	// which a JSON string cannot carry unchanged.
	Bytes []byte     `json:",omitempty"`
	Name  string     `json:",omitempty"`
	Path  string     `json:",omitempty"`
	Mode  uint32     `json:",omitempty"`
	Size  int64      `json:",omitempty"`
	Job   *JobResult `json:",omitempty"`
	// Coerced: the job failed and continue-on-error made it a success
	// (the cache does not store it).
	Coerced bool `json:",omitempty"`
	// Container frames (remote_containers.go).
	Container *wireContainer `json:",omitempty"`
	Ports     map[int]string `json:",omitempty"`
	Code      int            `json:",omitempty"`
	// Runtime is the container runtime's id of a container that runs in
	// the leg's own pod (containerd://…): the leg stops its processes.
	Runtime string `json:",omitempty"`
}

// textFrame is a frame of kind typ carrying text, as Text, or as Bytes
// when it is not valid UTF-8.
func textFrame(typ, text string) wireFrame {
	if utf8.ValidString(text) {
		return wireFrame{Type: typ, Text: text}
	}
	return wireFrame{Type: typ, Bytes: []byte(text)}
}

// text is the frame's text (Text, or Bytes).
func (fr wireFrame) text() string {
	if fr.Bytes != nil {
		return string(fr.Bytes)
	}
	return fr.Text
}

// wireEvent is an Event on the wire: its kind by number (EventKind).
type wireEvent struct {
	Kind     EventKind
	Time     time.Time
	Step     string        `json:",omitempty"`
	Text     string        `json:",omitempty"`
	Status   string        `json:",omitempty"`
	Duration time.Duration `json:",omitempty"`
	// Annotation is an Annotation event's properties.
	Annotation *Issue `json:",omitempty"`
}

// frameWriter writes frames to a remote leg's output, one at a time. A
// write that fails (the controller went away) ends further writes.
type frameWriter struct {
	mu  sync.Mutex
	w   *bufio.Writer
	err error
}

func newFrameWriter(w io.Writer) *frameWriter {
	return &frameWriter{w: bufio.NewWriterSize(w, 64<<10)}
}

// send writes one frame and flushes it.
func (f *frameWriter) send(fr wireFrame) error {
	data, err := json.Marshal(fr)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.writeLocked(append(data, '\n'), nil, 0)
}

// sendFile writes a file frame followed by the file's bytes.
func (f *frameWriter) sendFile(fr wireFrame, body io.Reader) error {
	data, err := json.Marshal(fr)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.writeLocked(append(data, '\n'), body, fr.Size)
}

// writeLocked writes line, then exactly size bytes of body (none when
// body is nil): a file that shrank while it was sent ends the stream, as
// the reader could not find the next frame.
func (f *frameWriter) writeLocked(line []byte, body io.Reader, size int64) error {
	if f.err != nil {
		return f.err
	}
	if _, f.err = f.w.Write(line); f.err != nil {
		return f.err
	}
	if body != nil {
		var n int64
		if n, f.err = io.CopyN(f.w, body, size); f.err == nil && n != size {
			f.err = errors.New("a file changed while it was sent")
		}
		if f.err != nil {
			return f.err
		}
	}
	f.err = f.w.Flush()
	return f.err
}

// Observe sends a leg's event as a frame (the leg's Observer).
func (f *frameWriter) Observe(e Event) {
	_ = f.send(wireFrame{Type: frameEvent, Event: &wireEvent{Kind: e.Kind, Time: e.Time, Step: e.Step, Text: e.Text, Status: e.Status, Duration: e.Duration, Annotation: e.Annotation}})
}

// maxFrameLine bounds one frame's line: a log line is cut at maxLine
// (JSON escapes a byte in six at most), a summary is sent in parts of
// summaryPart, so a longer frame is not the protocol.
const maxFrameLine = 6*maxLine + 64<<10

// summaryPart is the most of a step summary one frame carries.
const summaryPart = maxLine

// splitText cuts s into parts of at most n bytes, between runes.
func splitText(s string, n int) []string {
	var out []string
	for len(s) > n {
		cut := n
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		if cut == 0 {
			cut = n
		}
		out = append(out, s[:cut])
		s = s[cut:]
	}
	return append(out, s)
}

// readFrame reads one frame line; io.EOF at a clean end of the stream.
func readFrame(br *bufio.Reader) (wireFrame, error) {
	var fr wireFrame
	var line []byte
	for {
		part, isPrefix, err := br.ReadLine()
		if err != nil {
			if err == io.EOF && len(line) > 0 {
				err = io.ErrUnexpectedEOF
			}
			return fr, err
		}
		line = append(line, part...)
		if len(line) > maxFrameLine {
			return fr, fmt.Errorf("a frame longer than %d bytes", maxFrameLine)
		}
		if !isPrefix {
			break
		}
	}
	if err := json.Unmarshal(line, &fr); err != nil {
		return fr, fmt.Errorf("bad frame %q: %w", truncate(string(line), 80), err)
	}
	return fr, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}
