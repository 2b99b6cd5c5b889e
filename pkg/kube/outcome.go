package kube

import (
	"context"
	"io"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
)

// outcome is what the containers of a leg (an image pod, a step's
// ephemeral container) share as container.Container: their output as a
// pipe (Logs) and their end (Wait, Done). Made with done set.
type outcome struct {
	logMu sync.Mutex
	logR  *io.PipeReader
	logW  *io.PipeWriter

	done     chan struct{}
	doneOnce sync.Once
	code     int
}

func newOutcome() outcome { return outcome{done: make(chan struct{})} }

// Logs is the container's output, from its start until it ends.
func (o *outcome) Logs() io.Reader {
	o.logMu.Lock()
	defer o.logMu.Unlock()
	if o.logR == nil {
		o.logR, o.logW = io.Pipe()
	}
	return o.logR
}

func (o *outcome) logWriter() *io.PipeWriter {
	o.Logs()
	return o.logW
}

// end records the exit code (-1: none) once.
func (o *outcome) end(code int) {
	o.doneOnce.Do(func() {
		o.code = code
		close(o.done)
	})
}

func (o *outcome) Wait(ctx context.Context) (int, error) {
	select {
	case <-o.done:
		return o.code, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

func (o *outcome) Done() <-chan struct{} { return o.done }

// A container's command, args and env values are expanded by Kubernetes:
// $(VAR) is the value of the container's env VAR, $$ is $. What runner
// passes is literal text (a step's args, an input), as docker takes it.

// literal escapes s so that Kubernetes leaves it as it is.
func literal(s string) string { return strings.ReplaceAll(s, "$", "$$") }

// literals is words escaped, nil for nil (the image's).
func literals(words []string) []string {
	if words == nil {
		return nil
	}
	out := make([]string, len(words))
	for i, w := range words {
		out[i] = literal(w)
	}
	return out
}

// envVars are KEY=VALUE entries as a container's literal env.
func envVars(kvs []string) []corev1.EnvVar {
	var out []corev1.EnvVar
	for _, e := range kvs {
		k, v, _ := strings.Cut(e, "=")
		out = append(out, corev1.EnvVar{Name: k, Value: literal(v)})
	}
	return out
}
