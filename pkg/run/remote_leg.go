package run

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/birdflock/runner/pkg/actions"
	"github.com/birdflock/runner/pkg/gitrepo"
	"github.com/birdflock/runner/pkg/workflow"
)

// ServeLeg is the remote end of one leg (runner job --stdio, in a pod or a
// child process): it reads the leg's spec and source from in, runs the
// leg with this package's engine as a local run would, and writes its
// frames to out (docs/kubernetes.md, "How a job runs remotely"). It
// returns nil once the result frame was written, whatever the job's
// result; an error means an error frame was written (or could not be).
//
// opts gives what belongs to where the leg runs: StateDir (the actions
// cache; the leg's run directory is made under STATE/legs and removed at
// the end), Builtins (narrowed to those the controller has), Env, Node,
// Containers, Force. The spec gives the rest: secrets, settings, actions
// source, kill grace. A cancel frame, or the end of in, cancels the leg as
// Ctrl-C would (if: always() steps still run); a force frame ends those
// too.
func ServeLeg(ctx context.Context, in io.Reader, out io.Writer, opts Options) error {
	fw := newFrameWriter(out)
	masker := &Masker{}
	fail := func(err error) error {
		msg := masker.Mask(err.Error())
		if serr := fw.send(wireFrame{Type: frameError, Text: msg}); serr != nil {
			return fmt.Errorf("%s (and the error frame: %v)", msg, serr)
		}
		return errors.New(msg)
	}
	br := bufio.NewReaderSize(in, 64<<10)
	spec, err := readSpec(br)
	if spec != nil {
		for _, v := range spec.Secrets {
			masker.Add(v)
		}
		for _, v := range spec.Credentials {
			masker.Add(v)
		}
	}
	if err != nil {
		return fail(err)
	}
	if opts, err = spec.options(opts); err != nil {
		return fail(err)
	}
	opts, state, err := opts.withDefaults()
	if err != nil {
		return fail(err)
	}
	opts.remoteLeg = true
	legs := filepath.Join(state, "legs")
	if err := os.MkdirAll(legs, 0o755); err != nil {
		return fail(err)
	}
	root, err := os.MkdirTemp(legs, "leg-")
	if err != nil {
		return fail(err)
	}
	defer os.RemoveAll(root)
	dir := filepath.Join(root, "runs", strconv.Itoa(spec.Run))
	repoDir := filepath.Join(root, "source")
	artifacts := filepath.Join(dir, "artifacts")
	for _, d := range []string{dir, repoDir, artifacts} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fail(err)
		}
	}
	src := newSourceReader(br, repoDir, artifacts)
	gotRepo, err := src.repo()
	if err != nil {
		return fail(err)
	}
	// The artifacts arrive while the steps start: those that may read
	// them wait (artifactGate). Then the controller's control frames;
	// the end of the stream (the controller went away) cancels too.
	gate := &artifactGate{done: make(chan struct{})}
	// Whatever the return, the artifacts are unpacked (or failed) before
	// the leg's directory goes (the RemoveAll deferred above).
	defer func() { <-gate.done }()
	legCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	force, forceCancel := context.WithCancel(opts.Force)
	defer forceCancel()
	var lc *legContainers
	if spec.RemoteContainers {
		lc = newLegContainers(fw, spec.Scratch)
		opts.legContainers = lc
	}
	go func() {
		gate.err = src.rest()
		if gate.err == nil {
			gate.sent, gate.err = artifactNames(artifacts)
		}
		close(gate.done)
		if gate.err != nil {
			cancel() // the stream is not at a frame
			if lc != nil {
				lc.closeAll()
			}
			return
		}
		for {
			fr, err := readFrame(br)
			if err != nil {
				cancel()
				if lc != nil {
					lc.closeAll()
				}
				return
			}
			switch fr.Type {
			case frameCancel:
				cancel()
			case frameForce:
				cancel()
				forceCancel()
			case frameContainerUp, frameContainerLog, frameContainerEnd, frameContainerGone:
				if lc != nil {
					lc.answer(fr)
				}
			}
		}
	}()
	opts.Force = force

	w, errs := workflow.Load(spec.File, spec.Workflow, workflow.Options{Builtins: opts.Builtins})
	if len(errs) > 0 {
		var msgs []string
		for _, e := range errs {
			msgs = append(msgs, e.Error())
		}
		return fail(fmt.Errorf("the workflow: %s", strings.Join(msgs, "; ")))
	}
	j := w.Job(spec.Job)
	if j == nil {
		return fail(fmt.Errorf("%s: no job %q", spec.File, spec.Job))
	}
	combo, err := spec.Matrix.decode()
	if err != nil {
		return fail(err)
	}
	repo := spec.Repo
	switch spec.Source {
	case sourceTar:
		if !gotRepo {
			return fail(errors.New("the spec announces a repository and the source holds none"))
		}
		repo.Path = repoDir
		if spec.Upstream != "" {
			if err := gitrepo.SetOrigin(repoDir, spec.Upstream); err != nil {
				return fail(err)
			}
		}
	case sourceURL:
	default: // none, or a path that is no repository: checkout fails as locally
	}
	plan := &Plan{Workflow: w, Event: spec.Event, Payload: spec.Payload, Inputs: spec.Inputs, Vars: spec.Vars, Env: spec.Env, Repo: repo, ID: spec.Run, RunID: spec.RunID, Attempt: spec.Attempt, caller: spec.Caller}
	opts.Observer = fw
	opts.Calls = Calls{}
	r := newRunState(plan, opts, state, spec.Run, dir)
	r.frames = fw
	r.artifactsIn = gate
	masker = r.masker
	if lc != nil {
		lc.masker = r.masker
		lc.secrets = r.opts.Secrets
		lc.ladder = r.opts.ladder()
		lc.sealKey = spec.SealKey
	}
	defer r.scope.Close()
	if err := r.writeEvent(); err != nil {
		return fail(err)
	}
	jr := &legRun{r: r, job: j, combo: combo, needs: spec.Needs, strategy: spec.Strategy, suffix: combo.Suffix(), key: spec.Key, dirName: spec.Dir}
	if jr.needs == nil {
		jr.needs = map[string]any{}
	}
	res := jr.run(legCtx)
	res.Key, res.Name, res.Error = r.masker.Mask(res.Key), r.masker.Mask(res.Name), r.masker.Mask(res.Error)
	for _, s := range res.Steps {
		s.Name, s.Error = r.masker.Mask(s.Name), r.masker.Mask(s.Error)
	}
	// The artifacts the leg uploaded: those its upload-artifact steps
	// name, and any other new one (an action that writes there).
	<-gate.done
	if gate.err != nil {
		return fail(gate.err)
	}
	sent := gate.sent
	now, err := artifactNames(artifacts)
	if err != nil {
		return fail(err)
	}
	up := slices.Clone(jr.uploaded)
	for _, n := range now {
		if !slices.Contains(sent, n) {
			up = append(up, n)
		}
	}
	slices.Sort(up)
	for _, name := range slices.Compact(up) {
		if err := sendArtifact(fw, name, filepath.Join(artifacts, name)); err != nil {
			return fail(err)
		}
	}
	coerced := res.Result == "success" && (jr.failed || jr.cancelled)
	if err := fw.send(wireFrame{Type: frameResult, Job: res, Coerced: coerced}); err != nil {
		return fmt.Errorf("the result frame: %w", err)
	}
	return nil
}

// readSpec reads and checks the spec line.
func readSpec(br *bufio.Reader) (*legSpec, error) {
	line, err := br.ReadBytes('\n')
	if err != nil {
		return nil, fmt.Errorf("the leg's spec: %w", err)
	}
	spec := &legSpec{}
	if err := json.Unmarshal(line, spec); err != nil {
		return nil, fmt.Errorf("the leg's spec: %w", err)
	}
	if spec.Version != WireVersion {
		return spec, fmt.Errorf("the leg's spec has protocol version %d; this runner speaks version %d", spec.Version, WireVersion)
	}
	if spec.Job == "" || spec.Key == "" || spec.Dir == "" || spec.Run <= 0 || filepath.Base(spec.Dir) != spec.Dir || spec.Dir != unsafeName.ReplaceAllString(spec.Dir, "_") {
		return spec, errors.New("the leg's spec lacks its job, key, run or a plain directory name")
	}
	return spec, nil
}

// options are opts with what the spec decides.
func (spec *legSpec) options(opts Options) (Options, error) {
	opts.Secrets, opts.Credentials, opts.Settings = spec.Secrets, spec.Credentials, spec.Settings
	opts.InterruptGrace, opts.KillGrace, opts.StepLogLimit = spec.InterruptGrace, spec.KillGrace, spec.StepLogLimit
	opts.Parallel, opts.Cache, opts.Remote, opts.Reuse = 1, nil, nil, nil
	opts.KeepWorkspaces = false
	opts.containerIsHere = spec.PodContainer
	opts.podServices = spec.PodServices
	opts.podWorkDir = spec.WorkDir
	state, err := filepath.Abs(cmp.Or(opts.StateDir, ".runner"))
	if err != nil {
		return opts, err
	}
	opts.Actions = &actions.Resolver{StateDir: state, Source: spec.Actions}
	switch {
	case spec.NoBuiltins:
		opts.Builtins = nil
	case opts.Builtins != nil:
		var drop []string
		for _, a := range opts.Builtins.Aliases() {
			if !slices.Contains(spec.Builtins, a) {
				drop = append(drop, a)
			}
		}
		b, err := opts.Builtins.Without(drop...)
		if err != nil {
			return opts, err
		}
		opts.Builtins = b
	}
	return opts, nil
}

// artifactNames lists the artifacts in dir (not those being built).
func artifactNames(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			out = append(out, e.Name())
		}
	}
	return out, nil
}
