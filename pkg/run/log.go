package run

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// console is the Observer of `runner exec`: it prints every job's events to
// one writer, as "job | step | text" lines or as zerolog JSON events.
type console struct {
	out   io.Writer
	json  *zerolog.Logger
	color bool
}

// NewConsole returns an Observer that prints to out: text lines (with ANSI
// colours when color is set), or zerolog JSON events when jsonEvents is
// set (the CLI's machine output).
func NewConsole(out io.Writer, jsonEvents, color bool) Observer {
	c := &console{out: out, color: color}
	if jsonEvents {
		l := zerolog.New(out).With().Timestamp().Logger()
		c.json = &l
	}
	return c
}

// Observe prints one event.
func (c *console) Observe(e Event) {
	text := e.Text
	if c.json != nil {
		ev := c.json.Info()
		if e.Kind == Annotation && strings.HasPrefix(text, "Error") {
			ev = c.json.Error()
		}
		ev = ev.Str("event", e.Kind.String()).Str("job", e.Job)
		if e.Step != "" {
			ev = ev.Str("step", e.Step)
		}
		if e.Status != "" {
			ev = ev.Str("status", e.Status)
		}
		if e.Duration > 0 {
			ev = ev.Dur("duration", e.Duration)
		}
		ev.Msg(text)
		return
	}
	switch e.Kind {
	case JobRunner:
		return // the job's log line "Running in pod …" says it
	case GroupEnded:
		return // the console shows groups open
	case RunStarted:
		fmt.Fprintf(c.out, "%s\n", c.paint("1", "▶ "+text))
	case JobStarted, StepStarted:
		what := e.Step
		if e.Kind == JobStarted {
			what = "job " + text
		}
		fmt.Fprintf(c.out, "%s ▶ %s\n", c.paint("1", e.Job), what)
	case JobEnded, StepEnded:
		what := e.Step
		if e.Kind == JobEnded {
			what = "job " + e.Status
		}
		fmt.Fprintf(c.out, "%s %s %s (%s)\n", c.paint("1", e.Job), mark(e.Status, c.color), what, round(e.Duration))
	default:
		fmt.Fprintf(c.out, "%s | %s\n", c.paint("2", e.Job), text)
	}
}

func (c *console) paint(code, s string) string {
	if !c.color {
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}

func mark(status string, color bool) string {
	m, code := "•", "33"
	switch status {
	case "success":
		m, code = "✓", "32"
	case "failure":
		m, code = "✗", "31"
	case "skipped":
		m, code = "-", "90"
	}
	if !color {
		return m
	}
	return "\x1b[" + code + "m" + m + "\x1b[0m"
}

func round(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(100 * time.Microsecond)
	}
	return d
}

// maxLine is where lineWriter cuts a runaway line without newline.
const maxLine = 1 << 20

// lineWriter splits a byte stream into lines and hands each to fn. Partial
// lines are kept until a newline or Flush.
type lineWriter struct {
	mu     sync.Mutex
	buf    []byte
	fn     func(string)
	masker *Masker // where a long line is cut: never inside a secret; nil: anywhere
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		line := string(bytes.TrimSuffix(w.buf[:i], []byte("\r")))
		w.buf = w.buf[i+1:]
		w.fn(line)
	}
	// A runaway line without newline is cut rather than kept in memory.
	if len(w.buf) > maxLine {
		c := w.cut()
		w.fn(string(w.buf[:c]))
		w.buf = w.buf[:copy(w.buf, w.buf[c:])]
	}
	return len(p), nil
}

// cut is where to cut the buffer: the last bytes, as many as a secret is
// long less one, stay for the next write, so that a secret whose first
// bytes are in the buffer arrives whole before it is logged; and the cut
// moves before a secret that spans it.
func (w *lineWriter) cut() int {
	if w.masker == nil {
		return len(w.buf)
	}
	keep := w.masker.maxLen() - 1
	p := w.masker.safeCut(string(w.buf), len(w.buf)-max(keep, 0))
	if p <= 0 {
		return len(w.buf)
	}
	return p
}

// Flush emits a trailing partial line.
func (w *lineWriter) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.fn(string(w.buf))
		w.buf = w.buf[:0]
	}
}

// jobLog is the log file of one job under the run directory. Lines are
// masked before they are written.
type jobLog struct {
	mu     sync.Mutex
	f      *os.File
	masker *Masker
	start  time.Time
	// tee, when set, receives each line written, masked, without its
	// newline (a remote leg's log travels to the controller: remote.go).
	tee func(line string)
}

func (l *jobLog) line(step, text string) {
	if l == nil || l.f == nil {
		return
	}
	ts := strconv.FormatFloat(time.Since(l.start).Seconds(), 'f', 3, 64)
	l.raw(fmt.Sprintf("%8s %s | %s", ts, l.masker.Mask(step), l.masker.Mask(text)))
}

// raw writes one line as it is formatted, masked: a line of a remote leg's
// log (remote.go), or of this one.
func (l *jobLog) raw(line string) {
	if l == nil || l.f == nil {
		return
	}
	line = l.masker.Mask(line)
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintln(l.f, line)
	if l.tee != nil {
		l.tee(line)
	}
}

func (l *jobLog) close() {
	if l != nil && l.f != nil {
		l.f.Close()
	}
}
