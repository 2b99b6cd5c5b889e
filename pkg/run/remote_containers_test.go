package run

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/birdflock/runner/pkg/container"
	ct "github.com/birdflock/runner/pkg/containertest"
)

// frameSink is a leg's stdin as the controller writes it: the frames kept.
type frameSink struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (f *frameSink) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.buf.Write(p)
}
func (f *frameSink) Close() error { return nil }

func (f *frameSink) frames(t *testing.T) []wireFrame {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []wireFrame
	br := bufio.NewReader(bytes.NewReader(f.buf.Bytes()))
	for {
		fr, err := readFrame(br)
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fr)
	}
}

// TestHostContainerRemovedDuringSetup: a leg that removes its container
// while the controller still sets it up (its step was cancelled) gets no
// container: the controller never starts it (before, the remove found
// nothing yet and the container then ran until the leg's end).
func TestHostContainerRemovedDuringSetup(t *testing.T) {
	ct.Require(t, ct.Root, ct.Runc, ct.Busybox)
	addr, _ := ct.EmptyRegistry(t)
	ref := ct.Push(t, ct.HTTPDImage(t, "8080", "hello"), addr, "test/httpd", "1")
	rt, err := container.NewRunc(container.RuncOptions{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	sink := &frameSink{}
	h := &hostContainers{rt: rt, in: &legStdin{w: sink}}
	h.start(context.Background(), wireFrame{Type: frameContainer, Name: "c1", Container: &wireContainer{Image: ref, Ports: []int{8080}}})
	// Setup pulls and unpacks the image: the remove lands while it runs.
	h.stop(wireFrame{Type: frameContainerStop, Name: "c1"})
	h.close()
	for _, fr := range sink.frames(t) {
		if fr.Type == frameContainerUp {
			t.Errorf("the container started after its removal: %+v", fr)
		}
	}
	out, _ := exec.Command("runc", "list", "-q").Output()
	for _, id := range strings.Fields(string(out)) {
		if strings.Contains(id, "c1") {
			t.Errorf("container %s left", id)
		}
	}
}
