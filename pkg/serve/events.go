package serve

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/birdflock/runner/pkg/run"
	"github.com/birdflock/runner/pkg/serve/store"
)

// LogEvent is one line of a run's log file STATE/logs/<id>.jsonl, and one
// message of the live log stream.
type LogEvent struct {
	T        int64   `json:"t"` // unix milliseconds
	Job      string  `json:"job"`
	Step     string  `json:"step,omitempty"`
	Kind     string  `json:"kind"` // line, start, end, annotation
	Status   string  `json:"status,omitempty"`
	Text     string  `json:"text,omitempty"`
	Duration float64 `json:"duration_ms,omitempty"`
	// Scope says what a start or end is about: "job" or "step".
	Scope string `json:"scope,omitempty"`
	// Annotation is an annotation event's properties in GitHub's shape
	// (none in logs written before they were recorded).
	Annotation *ghAnnotation `json:"annotation,omitempty"`
}

// hub wakes live log readers when a run's log grows or the run ends.
type hub struct {
	mu sync.Mutex
	ch map[int64]chan struct{}
}

// wait returns a channel closed at the run's next change. Take it before
// reading, so that no change is missed.
func (h *hub) wait(id int64) <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ch == nil {
		h.ch = map[int64]chan struct{}{}
	}
	c, ok := h.ch[id]
	if !ok {
		c = make(chan struct{})
		h.ch[id] = c
	}
	return c
}

func (h *hub) notify(id int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if c, ok := h.ch[id]; ok {
		close(c)
		delete(h.ch, id)
	}
}

func logPath(state string, id int64) string {
	return filepath.Join(state, "logs", fmt.Sprintf("%d.jsonl", id))
}

// sink is the run.Observer of one run: it appends its events to the log
// file, records job and step states and wakes live readers. Observe only
// queues the event: a slow database never holds up the engine.
type sink struct {
	id    int64
	prev  int64  // the attempt this one re-runs (0: none): where kept jobs come from
	state string // the state dir (the previous attempt's log)
	f     *os.File
	store *store.Store
	hub   *hub
	logf  func(format string, args ...any)

	in        chan run.Event // closed by close
	drained   chan struct{}
	closeOnce sync.Once
}

func newSink(state string, id, prev int64, st *store.Store, h *hub, logf func(string, ...any)) (*sink, error) {
	if err := os.MkdirAll(filepath.Join(state, "logs"), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(logPath(state, id), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	s := &sink{id: id, prev: prev, state: state, f: f, store: st, hub: h, logf: logf, in: make(chan run.Event, 4096), drained: make(chan struct{})}
	go s.work()
	return s, nil
}

// Observe implements run.Observer.
func (s *sink) Observe(e run.Event) { s.in <- e }

// line appends a line written by the server itself (not by the engine),
// after everything observed before it.
func (s *sink) line(text string) {
	s.Observe(run.Event{Kind: run.Line, Time: time.Now(), Text: text})
}

func (s *sink) work() {
	defer close(s.drained)
	for e := range s.in {
		s.handle(e)
		// Wake readers once per burst, not once per line.
		for n := len(s.in); n > 0; n-- {
			s.handle(<-s.in)
		}
		s.hub.notify(s.id)
	}
}

// close waits until every event observed so far is in the file and the
// database, then closes the file. Call it before marking the run completed,
// so that a reader who sees the run completed has seen its whole log.
func (s *sink) close() {
	s.closeOnce.Do(func() {
		close(s.in)
		<-s.drained
		s.f.Close()
		s.hub.notify(s.id)
	})
}

func (s *sink) handle(e run.Event) {
	if e.Kind == run.RunStarted {
		// The run's title line (the evaluated run-name): not part of any
		// job's log; the run page shows the workflow's name.
		return
	}
	ev := LogEvent{T: e.Time.UnixMilli(), Job: e.Job, Step: e.Step, Kind: e.Kind.String(), Status: e.Status, Text: e.Text,
		Duration: float64(e.Duration) / float64(time.Millisecond)}
	var err error
	switch e.Kind {
	case run.JobStarted:
		ev.Scope = "job"
		err = s.store.JobStarted(s.id, e.Job, e.Text, e.Time)
		if err == nil && e.Leg != 0 {
			err = s.store.JobLeg(s.id, e.Job, e.Leg)
		}
	case run.StepStarted:
		ev.Scope = "step"
		_, err = s.store.StepStarted(s.id, e.Job, e.Step, e.Time)
	case run.JobEnded:
		ev.Scope = "job"
		if e.Cached != nil {
			err = s.cachedStep(e)
		}
		if err == nil {
			err = s.store.JobEnded(s.id, e.Job, conclusionOf(e.Status), e.Time)
		}
		if err == nil && e.Cached != nil {
			err = s.store.JobCached(s.id, e.Job, int64(e.Cached.Run), e.Cached.Key)
		}
		if err == nil && e.Leg != 0 {
			err = s.store.JobLeg(s.id, e.Job, e.Leg)
		}
		if err == nil && e.Kept && s.prev != 0 {
			err = s.copyKept(e.Job)
		}
	case run.Annotation:
		if e.Annotation != nil {
			a := storedAnnotation(e)
			g := toGitHub(a)
			ev.Annotation = &g
			err = s.store.AddAnnotation(s.id, a)
		}
	case run.JobRunner:
		ev.Scope = "job"
		err = s.store.JobRunner(s.id, e.Job, e.Text)
	case run.StepEnded:
		ev.Scope = "step"
		err = s.store.StepEnded(s.id, e.Job, e.Step, conclusionOf(e.Status), e.Time)
	}
	if err != nil {
		s.logf("run %d: record %s event: %v", s.id, ev.Kind, err)
	}
	s.append(ev)
}

// cachedStep records the one step of a job restored from the job cache
// (docs/cache.md), which did not run: GitHub's job shape has no field for
// it, so its steps say where the result came from: the run (its id,
// github.run_id) and the whole key (`runner cache ls`).
func (s *sink) cachedStep(e run.Event) error {
	name := fmt.Sprintf(cachedStepPrefix+" (run %d, key %s)", e.Cached.Run, e.Cached.Key)
	if _, err := s.store.StepStarted(s.id, e.Job, name, e.Time); err != nil {
		return err
	}
	return s.store.StepEnded(s.id, e.Job, name, conclusionOf(e.Status), e.Time)
}

// copyKept gives job key, kept from the previous attempt, what it had
// there, as GitHub's new attempt shows it: its steps, annotations and
// times in the database, and its log lines (with their times) in this
// attempt's log, before the job's end. A previous log that is gone (its
// logs deleted) gives no lines.
func (s *sink) copyKept(key string) error {
	if err := s.store.CopyKept(s.prev, s.id, key); err != nil {
		return err
	}
	f, err := os.Open(logPath(s.state, s.prev))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	dec := json.NewDecoder(f)
	for {
		var ev LogEvent
		if err := dec.Decode(&ev); err == io.EOF {
			return nil
		} else if err != nil {
			return fmt.Errorf("log of run %d: %w", s.prev, err)
		}
		// The job's own start and end are this attempt's.
		if ev.Job == key && ev.Scope != "job" {
			s.append(ev)
		}
	}
}

func conclusionOf(status string) string {
	if status == "" {
		return "failure"
	}
	return status
}

func (s *sink) append(ev LogEvent) {
	data, _ := json.Marshal(ev)
	data = append(data, '\n')
	// One write per event: a crash keeps every whole line before it.
	if _, err := s.f.Write(data); err != nil {
		s.logf("run %d: write log: %v", s.id, err)
	}
}

// writeText renders a log file as text lines: "job | step | text".
func writeText(w io.Writer, r io.Reader) error {
	dec := json.NewDecoder(r)
	for {
		var ev LogEvent
		if err := dec.Decode(&ev); err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
		var line string
		switch ev.Kind {
		case "start":
			line = fmt.Sprintf("%s ▶ %s", ev.Job, what(ev))
		case "end":
			line = fmt.Sprintf("%s %s %s (%s)", ev.Job, mark(ev.Status), what(ev), time.Duration(ev.Duration*float64(time.Millisecond)).Round(time.Millisecond))
		default:
			parts := []string{}
			for _, p := range []string{ev.Job, ev.Step} {
				if p != "" {
					parts = append(parts, p)
				}
			}
			parts = append(parts, ev.Text)
			line = strings.Join(parts, " | ")
		}
		if _, err := fmt.Fprintln(w, line); err != nil {
			return err
		}
	}
}

// what names what a start or end event is about: its step, or the job.
func what(ev LogEvent) string {
	switch {
	case ev.Step != "":
		return ev.Step
	case ev.Kind == "start":
		return "job " + ev.Text
	}
	return "job " + ev.Status
}

func mark(status string) string {
	switch status {
	case "success":
		return "✓"
	case "failure":
		return "✗"
	case "skipped":
		return "-"
	}
	return "•"
}

// streamBuffer is what one live log reader holds of the log at a time.
const streamBuffer = 32 << 10

// sendLines sends the whole lines of a log from offset on as Server-Sent
// Events, each with the offset past it as id, reading through buf only: a
// line longer than buf is found, then copied through it. A line still
// being written (no newline yet) waits for the next call. It returns the
// offset past the last line sent.
func sendLines(w io.Writer, f io.ReaderAt, offset int64, buf []byte) (int64, error) {
	for {
		n, err := f.ReadAt(buf, offset)
		chunk := buf[:n]
		sent := false
		for {
			i := bytes.IndexByte(chunk, '\n')
			if i < 0 {
				break
			}
			offset += int64(i + 1)
			if _, err := fmt.Fprintf(w, "id: %d\ndata: %s\n\n", offset, chunk[:i]); err != nil {
				return offset, err
			}
			chunk, sent = chunk[i+1:], true
		}
		switch {
		case sent:
			continue // read on from the first line not sent
		case n < len(buf) || err != nil:
			return offset, nil // the end, or a line still being written
		}
		// A line longer than buf: find its end, then copy it through buf.
		end, ok := lineEnd(f, offset+int64(n), buf)
		if !ok {
			return offset, nil
		}
		if _, err := fmt.Fprintf(w, "id: %d\ndata: ", end+1); err != nil {
			return offset, err
		}
		for pos := offset; pos < end; {
			n, err := f.ReadAt(buf[:min(int64(len(buf)), end-pos)], pos)
			if _, werr := w.Write(buf[:n]); werr != nil {
				return offset, werr
			}
			pos += int64(n)
			if err != nil && pos < end {
				return offset, err
			}
		}
		if _, err := io.WriteString(w, "\n\n"); err != nil {
			return offset, err
		}
		offset = end + 1
	}
}

// lineEnd finds the next newline at or after pos, reading through buf.
func lineEnd(f io.ReaderAt, pos int64, buf []byte) (int64, bool) {
	for {
		n, err := f.ReadAt(buf, pos)
		if i := bytes.IndexByte(buf[:n], '\n'); i >= 0 {
			return pos + int64(i), true
		}
		if err != nil || n == 0 {
			return 0, false
		}
		pos += int64(n)
	}
}
