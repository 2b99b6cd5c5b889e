package run_test

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/birdflock/runner/pkg/run"
)

// A leg refuses a spec of another protocol version, with an error frame
// that says which versions, and writes nothing else.
func TestServeLegRefusesOtherVersion(t *testing.T) {
	var out bytes.Buffer
	in := strings.NewReader(`{"Version":99,"Job":"a","Key":"a","Dir":"a","Run":1,"Secrets":{"S":"v3ry-s3cret"}}` + "\n")
	err := run.ServeLeg(context.Background(), in, &out, run.Options{StateDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "protocol version 99") {
		t.Fatalf("err %v; want one naming version 99", err)
	}
	var fr map[string]any
	if err := json.Unmarshal(out.Bytes(), &fr); err != nil || fr["Type"] != "error" || !strings.Contains(fmt.Sprint(fr["Text"]), fmt.Sprintf("speaks version %d", run.WireVersion)) {
		t.Errorf("output %q (%v); want one error frame", out.String(), err)
	}
}

// The source a leg is sent is unpacked inside its roots: a name that
// climbs out stays inside, a link is refused with an error frame.
func TestServeLegSourceStaysInside(t *testing.T) {
	wf := "on: push\njobs:\n  a:\n    runs-on: x\n    steps: [{run: echo fine}]\n"
	spec, _ := json.Marshal(map[string]any{"Version": run.WireVersion, "Workflow": []byte(wf), "File": "w.yaml", "Job": "a", "Key": "a", "Dir": "a", "Run": 1})
	source := func(entries ...*tar.Header) []byte {
		var b bytes.Buffer
		b.Write(append(spec, '\n'))
		tw := tar.NewWriter(&b)
		for _, h := range entries {
			tw.WriteHeader(h)
			if h.Typeflag == tar.TypeReg {
				tw.Write(make([]byte, h.Size))
			}
		}
		tw.Close()
		return b.Bytes()
	}
	base := t.TempDir()
	state := filepath.Join(base, "a", "b", "state")
	var out bytes.Buffer
	in := source(&tar.Header{Typeflag: tar.TypeReg, Name: "artifacts/../../../../../../escaped.txt", Size: 3, Mode: 0o644})
	// The controller keeps the stream open while the leg runs (its end
	// would cancel the leg).
	open := io.MultiReader(bytes.NewReader(in), blockUntil{t.Context()})
	if err := run.ServeLeg(context.Background(), open, &out, run.Options{StateDir: state, Env: []string{"PATH=" + os.Getenv("PATH")}}); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), `"Result":"success"`) {
		t.Errorf("frames:\n%s", out.String())
	}
	filepath.WalkDir(base, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Name() == "escaped.txt" {
			t.Errorf("the entry landed at %s", p)
		}
		return nil
	})
	out.Reset()
	in = source(&tar.Header{Typeflag: tar.TypeSymlink, Name: "repo/.git/hooks", Linkname: "/etc"})
	err := run.ServeLeg(context.Background(), bytes.NewReader(in), &out, run.Options{StateDir: state})
	if err == nil || !strings.Contains(out.String(), `"Type":"error"`) || !strings.Contains(out.String(), `repo/.git/hooks\": not a file or directory`) {
		t.Errorf("err %v, frames %s; want an error frame naming the link", err, out.String())
	}
	// A link among the artifacts, which arrive while the steps start: the
	// step (not checkout) waits for them and does not run (it fails, or is
	// skipped once the broken stream cancelled the leg).
	out.Reset()
	in = source(&tar.Header{Typeflag: tar.TypeReg, Name: "repo/.git/HEAD", Size: 3, Mode: 0o644},
		&tar.Header{Typeflag: tar.TypeSymlink, Name: "artifacts/a/link", Linkname: "/etc"})
	open = io.MultiReader(bytes.NewReader(in), blockUntil{t.Context()})
	err = run.ServeLeg(context.Background(), open, &out, run.Options{StateDir: state, Env: []string{"PATH=" + os.Getenv("PATH")}})
	if err == nil || !strings.Contains(out.String(), `artifacts/a/link\": not a file or directory`) || strings.Contains(out.String(), `| fine"`) {
		t.Errorf("err %v, frames %s; want an error frame naming the link, and the step not run", err, out.String())
	}
}

// blockUntil is a reader whose Read waits for ctx's end, then ends.
type blockUntil struct{ ctx context.Context }

func (b blockUntil) Read([]byte) (int, error) {
	<-b.ctx.Done()
	return 0, io.EOF
}
