package run

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/birdflock/runner/pkg/container"
	"github.com/birdflock/runner/pkg/registry"
	"github.com/birdflock/runner/pkg/workflow"
)

// A job with `container:` runs its steps in one job container (see
// container.JobContainer), laid out as GitHub's runner lays it out:
//
//	workspace            /__w/<repo>/<repo>   GITHUB_WORKSPACE
//	temp dir             /__w/_temp           RUNNER_TEMP, file commands
//	temp/_github_home    /github/home         HOME
//	run dir/event.json   /github/workflow/event.json (read-only)
//	STATE/actions        /__w/_actions        remote actions (read-only)
//	STATE/toolcache      /__t                 RUNNER_TOOL_CACHE
//	runner's node        /__e/node/bin/node   (read-only, when there is one)
//
// Paths in a step's environment, its script path and working directory
// are rewritten from the host's view to the container's. run: steps,
// composite actions' run: steps and JavaScript actions are exec'd into the
// container; built-in actions run in runner's process on the host side of
// the same mounts.

const containerStep = "Initialize containers"

// jobContainer is a job's running container and its path mapping.
type jobContainer struct {
	c    *container.JobContainer
	maps []pathMap // longest host path first
	env  []string  // the container's environment (image, container.env, HOME)
	path string    // the container's PATH
	bash bool      // bash is on the container's PATH
	node string    // node to run JavaScript actions with, "" for none
	// uid and gid of the container's user: the file-command files are
	// given to a user other than root before each step.
	uid, gid int
}

type pathMap struct{ host, ctr string }

// startContainer starts the job's container, when it has one whose image
// is not empty (an empty image means the job runs on the host, as on
// GitHub). Progress goes to the job log under "Initialize containers".
func (jr *legRun) startContainer(ctx context.Context) error {
	spec, r := jr.job.Container, jr.r
	if spec == nil {
		return nil
	}
	if r.opts.containerIsHere {
		return jr.containerEnvHere()
	}
	ctxs := jr.contexts()
	image, err := r.evalString(spec.Image, ctxs, nil)
	if err != nil {
		return err
	}
	if image = strings.TrimSpace(image); image == "" {
		return nil
	}
	optText, err := r.evalString(spec.Options, ctxs, nil)
	if err != nil {
		return err
	}
	opts, err := workflow.ParseContainerOptions(optText)
	if err != nil {
		pos := spec.Options.Pos
		if optText == spec.Options.Raw {
			pos = workflow.OptionPos(spec.Options, err)
		}
		return fmt.Errorf("%s:%d:%d: container.options: %w", r.w.File, pos.Line, pos.Col, err)
	}
	env := []string{"HOME=/github/home"}
	entries, err := r.envEntries(spec.Env, ctxs)
	if err != nil {
		return err
	}
	for _, e := range entries {
		env = append(env, e[0]+"="+e[1])
	}
	env = append(env, opts.Env...)
	pull, err := jr.containerPuller(image, spec, ctxs)
	if err != nil {
		return err
	}
	rt, err := r.containerRuntime() // the services' runtime: one sweep, one bundle dir
	if err != nil {
		return fmt.Errorf("container: %w", err)
	}
	runc, ok := rt.(*container.Runc)
	if !ok {
		return fmt.Errorf("container: job containers need runner's runc runtime, not %T", rt)
	}
	jr.emit(containerStep, "Pull "+image)
	cache := &container.ImageCache{Dir: filepath.Join(r.state, "images")}
	img, err := cache.Get(ctx, image, pull)
	if err != nil {
		return fmt.Errorf("container %s: %w", image, err)
	}
	how := "cached"
	if img.Unpacked {
		how = "unpacked"
	}
	jr.emit(containerStep, fmt.Sprintf("Image %s (%s, %s)", image, img.Digest, how))
	mounts, err := jr.containerMounts(spec, ctxs)
	if err != nil {
		return err
	}
	// The container shares the host's network: the job's services, each
	// published on the host's loopback, are reached by label at their own
	// port (redis:6379) on the address of the service's own, and at the
	// published port on 127.0.0.1 too.
	hosts := map[string]string{}
	for _, s := range jr.services {
		hosts[s.label] = "127.0.0.1"
		if s.addr != "" {
			hosts[s.label] = s.addr
		}
	}
	c, err := runc.StartJob(ctx, container.JobSpec{
		Image: img, Env: env, User: opts.User, Workdir: opts.Workdir, Hostname: opts.Hostname, Mounts: mounts, Hosts: hosts,
	})
	if err != nil {
		return err
	}
	jc := &jobContainer{c: c, env: c.Env()}
	jc.uid, jc.gid = c.User()
	if jc.uid != 0 {
		// As on GitHub, where the workspace belongs to the runner's user:
		// the container's user may write the workspace and its temp dir.
		for _, d := range []string{jr.workspace, jr.temp} {
			if err := chownTree(d, jc.uid, jc.gid); err != nil {
				_ = c.Destroy(context.WithoutCancel(ctx))
				return err
			}
		}
	}
	for _, m := range mounts {
		jc.maps = append(jc.maps, pathMap{host: m.Source, ctr: m.Target})
	}
	sort.SliceStable(jc.maps, func(i, j int) bool { return len(jc.maps[i].host) > len(jc.maps[j].host) })
	for _, e := range jc.env {
		if v, ok := strings.CutPrefix(e, "PATH="); ok {
			jc.path = v
		}
	}
	jc.bash = container.LookPath(c.Rootfs(), "bash", jc.path) != ""
	jc.node = jr.containerNode(c.Rootfs(), jc.path)
	jr.ctr = jc
	jr.emit(containerStep, fmt.Sprintf("Container %s started (workspace %s)", c.ID(), jc.toContainer(jr.workspace)))
	if ok, why := c.Agent(); ok {
		jr.emit(containerStep, "Steps start through runner's agent in the container")
	} else {
		jr.emit(containerStep, "Steps start with `runc exec` (slower): "+why)
	}
	return nil
}

// containerEnvHere gives the steps of a leg that runs in the job's
// container (a pod of its image) the container's env and --env values,
// as a container made with them would: under the workflow's env layers,
// over the image's. The controller leaves them out of the pod's spec,
// where whoever may read pods would read a secret among them.
func (jr *legRun) containerEnvHere() error {
	spec, r := jr.job.Container, jr.r
	ctxs := jr.contexts()
	optText, err := r.evalString(spec.Options, ctxs, nil)
	if err != nil {
		return err
	}
	opts, err := workflow.ParseContainerOptions(optText)
	if err != nil {
		return fmt.Errorf("%s:%d:%d: container.options: %w", r.w.File, spec.Options.Line, spec.Options.Col, err)
	}
	entries, err := r.envEntries(spec.Env, ctxs)
	if err != nil {
		return err
	}
	var env []string
	for _, e := range entries {
		env = append(env, e[0]+"="+e[1])
	}
	env = append(env, opts.Env...)
	if len(env) == 0 {
		return nil
	}
	base := make([]string, 0, len(r.base)+len(env))
	set := map[string]bool{}
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		set[k] = true
	}
	for _, kv := range r.base {
		if k, _, _ := strings.Cut(kv, "="); !set[k] {
			base = append(base, kv)
		}
	}
	r.base = append(base, env...)
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			r.basePath = v
		}
	}
	jr.emit(containerStep, fmt.Sprintf("Container env: %d variables for the steps", len(env)))
	return nil
}

// containerPuller pulls through pkg/registry with runner's registry
// mirrors, retries, the docker config's credentials and the container's
// own credentials for its registry (masked).
func (jr *legRun) containerPuller(image string, spec *workflow.Container, ctxs map[string]any) (func(context.Context, string) (v1.Image, error), error) {
	r := jr.r
	mirrors, err := registry.ParseMirrors(r.opts.Settings.RegistryMirror)
	if err != nil {
		return nil, fmt.Errorf("registry mirrors: %w", err)
	}
	o := registry.Options{Mirrors: mirrors, Log: &lineWriter{masker: r.masker, fn: func(line string) { jr.emit(containerStep, line) }}}
	user, err := r.evalString(spec.Username, ctxs, nil)
	if err != nil {
		return nil, err
	}
	pass, err := r.evalString(spec.Password, ctxs, nil)
	if err != nil {
		return nil, err
	}
	if pass != "" {
		r.masker.Add(pass)
	}
	if user != "" {
		ref, err := name.ParseReference(image)
		if err != nil {
			return nil, fmt.Errorf("%s:%d:%d: container image %q: %w", r.w.File, spec.Image.Line, spec.Image.Col, image, err)
		}
		o.Credentials = []registry.Credential{{Registry: ref.Context().RegistryStr(), Username: user, Password: pass}}
	}
	c := registry.New(o)
	return func(ctx context.Context, ref string) (v1.Image, error) {
		a, err := c.Pull(ctx, ref)
		if err != nil {
			return nil, err
		}
		return a.Image(nil)
	}, nil
}

// containerMounts are GitHub's mounts (see above) and the container's
// volumes: a host path, or a named volume kept in STATE/volumes/<name>.
func (jr *legRun) containerMounts(spec *workflow.Container, ctxs map[string]any) ([]container.Mount, error) {
	r := jr.r
	repo := "workspace"
	if g := r.githubContext(jr.job.ID, jr.workspace); g != nil {
		if full, _ := g["repository"].(string); full != "" {
			repo = path.Base(full)
		}
	}
	home := filepath.Join(jr.temp, "_github_home")
	actions := filepath.Join(r.state, "actions")
	tools := r.opts.ToolCache // made by setup
	for _, d := range []string{home, actions} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	mounts := []container.Mount{
		{Source: jr.workspace, Target: "/__w/" + repo + "/" + repo},
		{Source: jr.temp, Target: "/__w/_temp"},
		{Source: home, Target: "/github/home"},
		{Source: actions, Target: "/__w/_actions", ReadOnly: true},
		{Source: tools, Target: "/__t"},
	}
	if ev := filepath.Join(r.dir, "event.json"); fileExists(ev) {
		mounts = append(mounts, container.Mount{Source: ev, Target: "/github/workflow/event.json", ReadOnly: true})
	}
	if node, err := r.node(0); err == nil {
		mounts = append(mounts, container.Mount{Source: node.path, Target: "/__e/node/bin/node", ReadOnly: true})
	}
	for _, v := range spec.Volumes {
		text, err := r.evalString(v, ctxs, nil)
		if err != nil {
			return nil, err
		}
		vol, err := workflow.ParseContainerVolume(text)
		if err != nil {
			return nil, r.place(ctxs, v, fmt.Errorf("container.volumes: %w", err))
		}
		src := vol.Source
		if !filepath.IsAbs(src) {
			src = filepath.Join(r.state, "volumes", src)
			if err := os.MkdirAll(src, 0o755); err != nil {
				return nil, err
			}
		} else if _, err := os.Stat(src); err != nil {
			return nil, r.place(ctxs, v, fmt.Errorf("container.volumes: %w", err))
		}
		mounts = append(mounts, container.Mount{Source: src, Target: vol.Target, ReadOnly: vol.ReadOnly})
	}
	return mounts, nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// containerNode is the node JavaScript actions run with in the container:
// runner's own (mounted at /__e/node/bin/node, as GitHub mounts its
// externals) when the image has the dynamic loader it needs, else the
// image's node; "" when neither can run.
func (jr *legRun) containerNode(rootfs, pathVar string) string {
	if node, err := jr.r.node(0); err == nil {
		if missingLoader(node.path, rootfs) == "" {
			return "/__e/node/bin/node"
		}
	}
	return container.LookPath(rootfs, "node", pathVar)
}

// stopContainer removes the job's container, also after a cancellation.
func (jr *legRun) stopContainer(ctx context.Context) {
	if jr.ctr == nil {
		return
	}
	if err := jr.ctr.c.Destroy(context.WithoutCancel(ctx)); err != nil {
		jr.emit("Stop containers", "Warning: "+err.Error())
	}
	jr.ctr = nil
}

// toContainer rewrites a host path under one of the mounts to the
// container's view; other text is returned as is.
func (jc *jobContainer) toContainer(p string) string {
	for _, m := range jc.maps {
		if p == m.host {
			return m.ctr
		}
		if rest, ok := strings.CutPrefix(p, m.host+"/"); ok {
			return m.ctr + "/" + rest
		}
	}
	if rest, ok := strings.CutPrefix(p, jc.c.Rootfs()+"/"); ok {
		return "/" + rest // a working-directory outside the mounts (toHost)
	}
	return p
}

// toHost is where a container path is on the host: under a mount, else
// inside the container's root.
func (jc *jobContainer) toHost(p string) (string, error) {
	p = path.Clean(p)
	for _, m := range jc.maps {
		if p == m.ctr {
			return m.host, nil
		}
		if rest, ok := strings.CutPrefix(p, m.ctr+"/"); ok {
			return filepath.Join(m.host, rest), nil
		}
	}
	return jc.c.HostPath(p)
}

// hasBash says whether bash is there for the default shell: in the job's
// container when it has one, else on the host.
func (jr *legRun) hasBash() bool {
	if jr.ctr != nil {
		return jr.ctr.bash
	}
	return jr.r.hasBash()
}

// agentProcess is a process the job container's agent started.
type agentProcess struct{ p *container.Process }

func (a agentProcess) interrupt(sig syscall.Signal) { _ = a.p.Interrupt(sig) }

func (a agentProcess) signal(sig syscall.Signal) { _ = a.p.Signal(sig) }

func (a agentProcess) wait() error {
	st, err := a.p.Wait()
	if err != nil {
		return err
	}
	return exitError(st.Code, st.Signal)
}

// execInContainer runs argv (host paths) in the job's container: the
// container's environment with the step's variables over it, paths
// rewritten, GITHUB_PATH entries before the container's PATH. Output goes
// through out as for a process on the host; when ctx ends, it is stopped
// by the ladder (SIGINT and SIGTERM to it, SIGKILL to it and every process
// under it).
func (jr *legRun) execInContainer(ctx context.Context, argv []string, wd string, vars map[string]string, out *lineWriter) error {
	jc := jr.ctr
	env := map[string]string{}
	var order []string
	set := func(k, v string) {
		if _, ok := env[k]; !ok {
			order = append(order, k)
		}
		env[k] = v
	}
	for _, e := range jc.env {
		k, v, _ := strings.Cut(e, "=")
		set(k, v)
	}
	keys := make([]string, 0, len(vars))
	for k := range vars {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		set(k, jc.toContainer(vars[k]))
	}
	if len(jr.path) > 0 {
		p := make([]string, len(jr.path))
		for i, e := range jr.path {
			p[i] = jc.toContainer(e)
		}
		set("PATH", strings.Join(p, ":")+":"+env["PATH"])
	}
	list := make([]string, 0, len(order))
	for _, k := range order {
		list = append(list, k+"="+env[k])
	}
	args := make([]string, len(argv))
	for i, a := range argv {
		args[i] = jc.toContainer(a)
	}
	if jc.uid != 0 {
		for _, k := range []string{"GITHUB_ENV", "GITHUB_OUTPUT", "GITHUB_PATH", "GITHUB_STEP_SUMMARY", "GITHUB_STATE"} {
			if f := vars[k]; f != "" {
				_ = os.Chown(f, jc.uid, jc.gid)
			}
		}
	}
	if ok, _ := jc.c.Agent(); ok {
		var started *container.Process
		defer func() {
			if started != nil {
				started.Close()
			}
		}()
		return superviseProcess(ctx, out, jr.r.opts.ladder(), func(pw *os.File) (process, error) {
			p, err := jc.c.Start(args, list, jc.toContainer(wd), pw)
			if err != nil {
				return nil, err
			}
			started = p
			return agentProcess{p}, nil
		})
	}
	cmd, pidFile, cleanup, err := jc.c.ExecCommand(args, list, jc.toContainer(wd))
	if err != nil {
		return err
	}
	defer cleanup()
	// The ladder goes to the step's process itself, not through runc
	// exec (which passes signals on, but waits for every child holding
	// its output): once the process ended, or at the ladder's end, what
	// is left of its tree is killed, so that runc exec ends, and only
	// then is runc's context cancelled.
	tree := container.NewExecTree(pidFile)
	procCtx, stopProc := context.WithCancel(context.WithoutCancel(ctx))
	defer stopProc()
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-ctx.Done():
			ended := make(chan struct{})
			go func() {
				defer close(ended)
				for !tree.Ended() {
					select {
					case <-done:
						return
					case <-time.After(20 * time.Millisecond):
					}
				}
			}()
			jr.r.opts.ladder().climb(ended, tree.Signal, func(syscall.Signal) { tree.Kill() })
			tree.Kill()
			stopProc()
		case <-done:
		}
	}()
	err = runProcess(procCtx, cmd.Args, "", cmd.Env, out, jr.r.opts.ladder(), nil)
	if ctx.Err() != nil {
		tree.Kill()
		return ctx.Err()
	}
	return err
}

// containerDir resolves a step's working-directory given as an absolute
// path: a container path in a container job, whose host side is checked.
func (jr *legRun) containerDir(dir string) (string, error) {
	if jr.ctr == nil {
		return dir, nil
	}
	return jr.ctr.toHost(dir)
}

// jsNode is the node that runs JavaScript actions: in a container job the
// one containerNode chose, else runner's.
func (jr *legRun) jsNode(want int) (nodeBinary, error) {
	if jr.ctr == nil {
		return jr.r.node(want)
	}
	switch jr.ctr.node {
	case "":
		return nodeBinary{}, errors.New("no node can run in the job container: runner's node (mounted at /__e/node/bin/node) needs a dynamic loader the image lacks, and the image has no node on its PATH; use an image with glibc or with node")
	case "/__e/node/bin/node":
		n, err := jr.r.node(0)
		n.path = jr.ctr.node
		return n, err
	}
	return nodeBinary{path: jr.ctr.node, version: "(the image's)"}, nil
}

// runJS runs a JavaScript action's script with node: in the job's
// container when it has one (env: the step's own, for its PATH), else on
// the host.
func (jr *legRun) runJS(ctx context.Context, node, script string, full, env map[string]string, out *lineWriter) error {
	r := jr.r
	if jr.ctr == nil {
		return runProcess(ctx, []string{node, script}, jr.workspace, environ(r.base, full), out, r.opts.ladder(), jr.cgroup)
	}
	// full's PATH was made from the host's; the container's own applies,
	// unless the workflow set one.
	if p, ok := env["PATH"]; ok {
		full["PATH"] = p
	} else {
		delete(full, "PATH")
	}
	return jr.execInContainer(ctx, []string{node, script}, jr.workspace, full, out)
}

// chownTree gives dir and everything in it to uid:gid (symlinks
// themselves, not their targets).
func chownTree(dir string, uid, gid int) error {
	return filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
}

// containerContext is job.container: the container's id and network
// ("host": it shares the host's), empty without one.
func (jr *legRun) containerContext() map[string]any {
	if jr.ctr == nil {
		return map[string]any{}
	}
	return map[string]any{"id": jr.ctr.c.ID(), "network": "host"}
}
