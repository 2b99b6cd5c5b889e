package run

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"

	"github.com/birdflock/runner/pkg/gitrepo"
	"github.com/birdflock/runner/pkg/workflow/expr"
)

// LegTransport runs job legs elsewhere (Options.Remote): a Kubernetes pod,
// a child process (ProcessTransport). What runs there is `runner job
// --stdio` (ServeLeg); the controller talks to it only through its
// standard input and output.
type LegTransport interface {
	// Open starts the remote end of one leg and connects to it. ctx is
	// the leg's: cancelling it while Open waits (a pod being scheduled)
	// should end the wait and remove what was started. Once Open returns,
	// the leg ends through the LegConn only.
	Open(ctx context.Context, leg LegInfo) (LegConn, error)
}

// LegInfo says which leg a transport runs: what it names and labels the
// remote after, and picks its template with.
type LegInfo struct {
	Run     int    // the run's record number: STATE/runs/<Run>
	RunID   int    // github.run_id, shared by the run's attempts
	Attempt int    // github.run_attempt
	Job     string // the job's id
	Key     string // the leg's key, unique in the run: "build (1.22, linux)"
	Name    string // the leg's display name: the job's name: evaluated, and the matrix values
	Dir     string // the leg's name in the run record: [A-Za-z0-9._-]+, unique in the run
	// RunsOn are the job's runs-on labels, evaluated, and Group its
	// runs-on group ("" for none).
	RunsOn []string
	Group  string
	// Timeout is the job's timeout-minutes (default 6 hours): the leg ends
	// itself by then; the controller kills it the stop ladder and a minute later.
	Timeout time.Duration
	// Env is the environment steps start from here (Options.Env without
	// runner's variables): a transport on this machine gives it to the
	// remote (ProcessTransport); a pod has its image's.
	Env []string
	// Log writes a line to the leg's job log and events, masked: what the
	// transport has to say about where the leg runs ("pod runner-12-build
	// on node n2", "pulling image …"). Safe to call from any goroutine
	// until Wait returned.
	Log func(text string)
	// Container is the job's container:, evaluated: the transport runs
	// the leg in its image (runner's binary put in beside), with its
	// user, workdir and hostname. Nil for none.
	Container *LegContainer
	// Services are the job's services, evaluated, when the transport runs
	// container images and every service can be a container of the leg's
	// pod (LegService). None otherwise.
	Services []LegService
	// Containers names what of the job runs in containers, and where it
	// is written: "container (ci.yaml:7:5)", "services.redis
	// (ci.yaml:9:7)", "uses: docker://alpine (ci.yaml:12:15)". A transport whose remote cannot run containers (a
	// pod) refuses the leg before it starts anything.
	Containers []string
}

// LegConn is one leg's remote end, started.
type LegConn interface {
	// Stdin is the remote's standard input: the controller writes the
	// leg's spec and source, then control frames; closing it cancels the
	// leg if it still runs.
	Stdin() io.WriteCloser
	// Stdout is the remote's standard output: the frames, until it ends.
	Stdout() io.Reader
	// Wait waits for the remote's end after Stdout reached its end, and
	// returns why it failed ("exit status 2", "OOMKilled", "the pod was
	// evicted"), nil when it ended well.
	Wait() error
	// Kill ends the remote at once (SIGKILL, pod deletion); Stdout then
	// ends and Wait returns.
	Kill() error
}

// A LegConn may also name the runner the leg runs on (a pod's name), with
// a method RunnerName() string: the job's JobResult.Runner, its JobRunner
// event and runner serve's runner_name.

// releaser is a LegConn that can end a leg whose job succeeded without
// waiting to learn how its remote ended (a pod's exit status comes from the
// kubelet up to a second later, and its deletion takes as long): Release,
// called instead of Wait once Stdout ended, removes the remote in the
// background. A transport with such legs settles them (settler) before
// the run ends. A failed or cancelled leg is still waited for: how its
// remote ended (OOMKilled, evicted) explains the failure.
type releaser interface{ Release() error }

// settler is a LegTransport whose released legs are removed in the
// background: Settle waits until those of the run (LegInfo.Run) are gone,
// and returns what failed.
type settler interface {
	Settle(ctx context.Context, run int) error
}

// settleRemote waits until the legs released in the background are gone,
// so that a run ends with nothing of it left; a failure is a run-level
// warning.
func (r *runState) settleRemote() {
	s, ok := r.opts.Remote.(settler)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := s.Settle(ctx, r.id); err != nil {
		r.obs.emit(Event{Kind: Line, Job: "run", Text: "Warning: removing the remote legs: " + r.masker.Mask(err.Error())})
	}
}

// remote reports whether this leg runs through Options.Remote: every leg
// that runs steps, those of a called workflow (call.go) included (their
// spec carries the callee's file, its inputs and mapped secrets, and the
// caller's name for the github context).
func (jr *legRun) remote() bool {
	return jr.r.opts.Remote != nil
}

// runRemote runs the leg through Options.Remote and fills res from what
// comes back. The job's if:, needs, name, concurrency group, env and
// runs-on were settled here already; the cache lookup too (legRun.run).
// coerced: the remote's job failed and continue-on-error made it a success.
func (jr *legRun) runRemote(ctx context.Context, res *JobResult, timeout time.Duration) (coerced bool, err error) {
	r := jr.r
	spec, err := jr.remoteSpec(ctx)
	if err != nil {
		return false, err
	}
	// A transport that runs a leg in the job's container image (a pod)
	// says so; the process transport runs it on this machine, where the
	// leg starts its container itself.
	var ctr *LegContainer
	var services []LegService
	podImages := false // the transport runs the job's container: as the leg's image
	if ri, ok := r.opts.Remote.(interface{ RunsContainerImages() bool }); ok && ri.RunsContainerImages() {
		podImages = true
		if ctr, err = jr.podContainer(); err != nil {
			return false, err
		}
		if services, err = jr.podServices(); err != nil {
			return false, err
		}
	}
	if ctr != nil && ctr.Image == "" {
		ctr = nil
	}
	spec.PodContainer = ctr != nil
	if sc, ok := r.opts.Remote.(LegScratch); ok {
		// The controller runs the leg's containers (test-image).
		spec.RemoteContainers = true
		if push, pull, ok := sc.Scratch(); ok {
			spec.Scratch = &legScratch{Push: push, Pull: pull}
		}
	}
	if wd, ok := r.opts.Remote.(LegWorkDir); ok {
		spec.WorkDir = wd.WorkDir()
		spec.SealKey = make([]byte, 32)
		if _, err := rand.Read(spec.SealKey); err != nil {
			return false, err
		}
	}
	if len(services) > 0 {
		spec.PodServices = map[string][]int{}
		for _, s := range services {
			spec.PodServices[s.Label] = s.Ports
		}
	}
	line, err := json.Marshal(spec)
	if err != nil {
		return false, err
	}
	info := LegInfo{
		Run: r.id, RunID: spec.RunID, Attempt: spec.Attempt, Job: jr.job.ID, Key: jr.key, Name: res.Name, Dir: jr.dirName,
		Timeout: timeout, Env: slices.Clone(r.base), Log: func(text string) { jr.emit("job", text) },
	}
	info.RunsOn, info.Group = jr.runsOn()
	// A transport that runs the container: image runs the services too
	// (podServices), and docker:// steps where its pods hold the work
	// directories on volumes (LegWorkDir).
	info.Containers = jobContainers(r.w.File, jr.job, podImages, podImages, spec.WorkDir != "" && spec.RemoteContainers)
	info.Container, info.Services = ctr, services
	conn, err := r.opts.Remote.Open(ctx, info)
	if err != nil {
		if ctx.Err() != nil {
			res.Result = "cancelled"
			return false, nil
		}
		return false, fmt.Errorf("start the remote leg: %w", err)
	}
	if n, ok := conn.(interface{ RunnerName() string }); ok {
		res.Runner = n.RunnerName()
		r.obs.emit(Event{Job: jr.key, Kind: JobRunner, Text: res.Runner})
	}
	done := make(chan struct{})
	fed := make(chan error, 1)
	in := &legStdin{w: conn.Stdin()}
	hctx, hcancel := context.WithCancel(context.WithoutCancel(ctx))
	host := &hostContainers{in: in, log: func(text string) { jr.emit("job", text) }, secrets: r.opts.Secrets, sealKey: spec.SealKey}
	if ch, ok := conn.(ContainerHost); ok {
		host.rt = ch.Containers()
	}
	go func() { fed <- jr.feedRemote(ctx, conn, in, spec, append(line, '\n'), timeout, done) }()
	frames := bufio.NewReaderSize(conn.Stdout(), 64<<10)
	got, readErr := jr.readRemote(hctx, frames, res, host)
	// The leg is over: what it left running goes.
	hcancel()
	host.close()
	close(done) // stdin closes: the remote has nothing left to do
	if !got {
		// A remote that stopped talking without a result is dead or
		// dying: make sure, so that Wait returns.
		_ = conn.Kill()
	}
	// The remote ends after its last frame; one that does not is killed.
	drained := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, frames)
		close(drained)
	}()
	select {
	case <-drained:
	case <-time.After(r.opts.ladder().total() + 10*time.Second):
		_ = conn.Kill()
		<-drained
	}
	var waitErr error
	if rel, ok := conn.(releaser); ok && got && res.Result == "success" {
		// Nothing can change the result now: the remote goes in the
		// background (settleRemote waits for it at the run's end).
		waitErr = rel.Release()
	} else {
		waitErr = conn.Wait()
	}
	feedErr := <-fed
	if got {
		if waitErr != nil {
			// The leg's result came, but its remote ended badly: a
			// step killed by the pod's memory limit (OOMKilled), an
			// eviction during the post steps. The job log says so.
			jr.emit("job", "Warning: the remote leg's end: "+waitErr.Error())
		}
		return res.coerced, nil
	}
	why := []string{}
	for _, e := range []error{readErr, waitErr, feedErr} {
		if e != nil && !slices.Contains(why, e.Error()) {
			why = append(why, e.Error())
		}
	}
	if len(why) == 0 {
		why = append(why, "it ended without a word")
	}
	if ctx.Err() != nil {
		res.Result = "cancelled"
		jr.emit("job", "the remote leg ended without a result: "+strings.Join(why, "; "))
		return false, nil
	}
	return false, fmt.Errorf("the remote leg ended without a result: %s", strings.Join(why, "; "))
}

// feedRemote writes the leg's spec and source, then waits: the leg's
// cancellation becomes a cancel frame, Options.Force a force frame, and
// the stop ladder (and ten seconds) after the force, or a minute past the job's
// timeout, the remote is killed. done ends it; stdin is closed then.
func (jr *legRun) feedRemote(ctx context.Context, conn LegConn, stdin *legStdin, spec *legSpec, line []byte, timeout time.Duration, done <-chan struct{}) error {
	r := jr.r
	defer stdin.Close()
	backstop := time.NewTimer(timeout + r.opts.ladder().total() + time.Minute)
	defer backstop.Stop()
	// A remote that takes neither its source nor its end is killed.
	written := make(chan struct{})
	go func() {
		select {
		case <-written:
		case <-done:
			_ = conn.Kill()
		case <-backstop.C:
			_ = conn.Kill()
		}
	}()
	w := bufio.NewWriterSize(stdin.w, 64<<10)
	err := func() error {
		defer close(written)
		stdin.mu.Lock()
		defer stdin.mu.Unlock()
		if _, err := w.Write(line); err != nil {
			return err
		}
		if err := writeSource(w, spec.gitDir, filepath.Join(r.dir, "artifacts")); err != nil {
			return err
		}
		return w.Flush()
	}()
	if err != nil {
		// The remote cannot run without its source; nor wait for it.
		_ = conn.Kill()
		return fmt.Errorf("send the leg's spec and source: %w", err)
	}
	control := func(kind string) { _ = stdin.frame(wireFrame{Type: kind}) }
	cancelled, forced := ctx.Done(), r.opts.Force.Done()
	var kill <-chan time.Time
	for {
		select {
		case <-done:
			return nil
		case <-cancelled:
			control(frameCancel)
			cancelled = nil
		case <-forced:
			control(frameForce)
			forced = nil
			kill = time.After(r.opts.ladder().total() + 10*time.Second)
		case <-kill:
			_ = conn.Kill()
			return errors.New("killed: it did not end after it was forced")
		case <-backstop.C:
			_ = conn.Kill()
			return fmt.Errorf("killed: still running a minute past the job's timeout of %s", timeout)
		}
	}
}

// readRemote reads the remote's frames into the run as a local leg's
// would arrive: events to the observers, log lines to the job log,
// summary to the run's summary.md, artifacts under the run's artifacts
// directory, the result into res. got: a result came.
func (jr *legRun) readRemote(ctx context.Context, br *bufio.Reader, res *JobResult, host *hostContainers) (got bool, err error) {
	r := jr.r
	var art *artifactSink
	defer func() {
		if art != nil {
			art.abort()
		}
	}()
	for {
		fr, err := readFrame(br)
		if err == io.EOF {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("read the leg's output: %w", err)
		}
		switch fr.Type {
		case frameEvent:
			e := fr.Event
			if e == nil || e.Kind == RunStarted || e.Kind == JobStarted || e.Kind == JobEnded {
				continue // the controller reports the job's start and end
			}
			r.obs.emit(Event{Kind: e.Kind, Time: e.Time, Job: jr.key, Step: e.Step, Text: e.Text, Status: e.Status, Duration: e.Duration, Annotation: e.Annotation})
		case frameLog:
			jr.log.raw(fr.text())
		case frameSummary:
			text := r.masker.Mask(fr.text())
			jr.noteSummary(text)
			if err := appendFile(filepath.Join(r.dir, "summary.md"), text); err != nil {
				jr.emit("job", "Warning: the run's step summary: "+err.Error())
			}
		case frameArtifact:
			if art != nil {
				return false, fmt.Errorf("artifact %q: started before artifact %q ended", fr.Name, art.name)
			}
			if art, err = newArtifactSink(filepath.Join(r.dir, "artifacts"), fr.Name); err != nil {
				return false, err
			}
		case frameFile:
			if art == nil {
				return false, fmt.Errorf("file %q outside an artifact", fr.Path)
			}
			if err := art.file(fr, br); err != nil {
				return false, err
			}
		case frameEnd:
			if art == nil {
				return false, errors.New("artifact-end outside an artifact")
			}
			if err := art.finish(); err != nil {
				return false, err
			}
			jr.noteArtifact(art.name)
			art = nil
		case frameResult:
			j := fr.Job
			if j == nil {
				return false, errors.New("a result frame without a result")
			}
			res.Result, res.Error, res.Steps, res.coerced = j.Result, r.masker.Mask(j.Error), j.Steps, fr.Coerced
			if j.Outputs != nil {
				res.Outputs = j.Outputs
			}
			return true, nil
		case frameError:
			return false, errors.New(fr.Text)
		case frameContainer:
			host.start(ctx, fr)
		case frameContainerStop:
			host.stop(fr)
		}
		// Frames of kinds this version does not know are skipped.
	}
}

// runsOn is the job's runs-on labels and group, evaluated (evalEnv
// checked that they evaluate).
func (jr *legRun) runsOn() (labels []string, group string) {
	ctxs := jr.contexts()
	eval := func(v string) []string {
		t, err := expr.ParseTemplate(v)
		if err != nil {
			return []string{v}
		}
		out, err := t.Eval(jr.r.exprEnv(ctxs, nil, ""))
		if err != nil {
			return []string{v}
		}
		switch x := out.(type) {
		case []any:
			var s []string
			for _, e := range x {
				s = append(s, expr.String(e))
			}
			return s
		}
		return []string{expr.String(out)}
	}
	for _, v := range jr.job.RunsOn {
		labels = append(labels, eval(v.Raw)...)
	}
	if jr.job.RunsOnGroup.Set {
		group = strings.Join(eval(jr.job.RunsOnGroup.Raw), ",")
	}
	return labels, group
}

// remoteSpec is the leg's spec for the remote.
func (jr *legRun) remoteSpec(ctx context.Context) (*legSpec, error) {
	r := jr.r
	p := r.plan
	data, file := p.Source, p.Workflow.File
	var caller *legCaller
	if f := r.frame; f != nil {
		// A called workflow's leg: the callee's file; the github
		// context stays the caller's.
		data, file = f.source, r.w.File
		caller = &legCaller{Name: p.WorkflowName(), File: p.Workflow.File}
	}
	if data == nil {
		var err error
		if data, err = os.ReadFile(file); err != nil {
			return nil, fmt.Errorf("the workflow's file for the remote leg: %w", err)
		}
	}
	combo, err := encodeCombo(jr.combo)
	if err != nil {
		return nil, err
	}
	rc := p.RunContext()
	spec := &legSpec{
		Version: WireVersion, Workflow: data, File: file, Caller: caller, Job: jr.job.ID, Key: jr.key, Dir: jr.dirName,
		Matrix: combo, Needs: jr.needs, Strategy: jr.strategy,
		Event: p.Event, Payload: p.Payload, Inputs: p.Inputs, Vars: p.Vars, Env: p.Env, Repo: p.Repo,
		Run: r.id, RunID: rc.ID, Attempt: rc.Attempt,
		Secrets: r.opts.Secrets, Settings: r.opts.Settings, Actions: r.opts.Actions.Source,
		InterruptGrace: r.opts.InterruptGrace, KillGrace: r.opts.KillGrace, StepLogLimit: r.opts.StepLogLimit,
	}
	if b := r.opts.Builtins; b != nil {
		spec.Builtins = append([]string{}, b.Aliases()...)
	} else {
		spec.NoBuiltins = true
	}
	switch {
	case r.repo == "":
		spec.Source = sourceNone
	case gitrepo.IsURL(r.repo) && !strings.HasPrefix(r.repo, "file://"):
		spec.Source, spec.Repo.Path = sourceURL, r.repo
	default:
		g, err := gitrepo.Open(ctx, r.repo, gitrepo.OpenOptions{})
		if err != nil {
			// Not a repository: steps that need none run; a checkout
			// fails there as it would here.
			spec.Source, spec.Repo.Path = sourceNone, r.repo
			break
		}
		spec.Source, spec.Repo.Path = sourceTar, ""
		spec.Upstream, spec.gitDir = g.Info().Upstream, gitDirOf(g.Info().Dir)
		// Runner's own credentials (Options.Credentials: serve's token)
		// stay here, the controller masks what comes back with them; those
		// in the upstream's URL go, as the leg's origin needs them.
		spec.Credentials = URLCredentials(spec.Upstream)
	}
	return spec, nil
}

// artifactSink receives one artifact from a remote leg: built beside its
// final place, then renamed over it, as upload-artifact does, so a leg
// that dies midway leaves nothing half-written.
type artifactSink struct {
	name, dst, tmp string
}

func newArtifactSink(dir, name string) (*artifactSink, error) {
	if name == "" || strings.ContainsAny(name, `/\:"<>|*?`+"\x00\r\n") || name == "." || name == ".." {
		return nil, fmt.Errorf("invalid artifact name %q", name)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(dir, ".remote-"+name+"-")
	if err != nil {
		return nil, fmt.Errorf("artifact %q: %w", name, err)
	}
	return &artifactSink{name: name, dst: filepath.Join(dir, name), tmp: tmp}, nil
}

// file writes one file of the artifact: fr.Size bytes that follow in br.
func (a *artifactSink) file(fr wireFrame, br *bufio.Reader) error {
	bad := func(err error) error { return fmt.Errorf("artifact %q: file %q: %w", a.name, fr.Path, err) }
	if fr.Size < 0 {
		return bad(errors.New("negative size"))
	}
	p, err := securejoin.SecureJoin(a.tmp, fr.Path)
	if err != nil || p == a.tmp {
		return bad(errors.New("not a path inside the artifact"))
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return bad(err)
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, os.FileMode(fr.Mode&0o777|0o600))
	if err != nil {
		return bad(err)
	}
	_, err = io.CopyN(f, br, fr.Size)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return bad(err)
	}
	return nil
}

func (a *artifactSink) finish() error {
	if err := os.RemoveAll(a.dst); err != nil {
		return fmt.Errorf("artifact %q: replace: %w", a.name, err)
	}
	if err := os.Rename(a.tmp, a.dst); err != nil {
		return fmt.Errorf("artifact %q: %w", a.name, err)
	}
	return nil
}

func (a *artifactSink) abort() { os.RemoveAll(a.tmp) }
