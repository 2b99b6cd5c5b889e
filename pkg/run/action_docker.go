package run

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/birdflock/runner/pkg/actions"
	"github.com/birdflock/runner/pkg/container"
	"github.com/birdflock/runner/pkg/registry"
	"github.com/birdflock/runner/pkg/workflow"
)

// Docker container actions (runs.using: docker) and `uses: docker://IMAGE`
// steps run as GitHub's DockerActionRunner runs them, on runc: one
// container per step (or pre/post stage) from the image, its entrypoint
// and args, in the host's network (a job container's too: a sibling of
// it, sharing the same host directories), with GitHub's mounts:
//
//	workspace                          /github/workspace (the working directory)
//	temp/_github_home                  /github/home      HOME
//	run dir/event.json                 /github/workflow/event.json (read-only)
//	temp/_runner_file_commands         /github/file_commands  GITHUB_ENV, GITHUB_OUTPUT, …
//	temp                               /github/runner_temp    RUNNER_TEMP
//
// and the GITHUB_* / RUNNER_* paths of the environment rewritten to them.

// dockerRun is one container run of a Docker action stage or docker://
// step.
type dockerRun struct {
	image      string // reference to pull; "" when img or archive is set
	img        *container.CachedImage
	archive    string   // a built image's OCI archive (a remote leg in a pod)
	entrypoint []string // nil: the image's
	args       []string // nil: the image's Cmd
	inputs     map[string]string
	env        [][2]string // runs.env
	state      map[string]string
	action     *actions.Action
}

// runDockerStep runs `uses: docker://IMAGE`: with.entrypoint replaces the
// image's entrypoint (one executable, as `docker run --entrypoint`),
// with.args its Cmd (split as GitHub's runner splits it, see
// workflow.SplitArgs); every with: key is also
// INPUT_<KEY>.
func (jr *legRun) runDockerStep(ctx context.Context, st *stepRun, ref workflow.ActionRef, env map[string]string, fc fileCommandSet, out *lineWriter) error {
	d := &dockerRun{image: ref.Image, inputs: map[string]string{}}
	for _, kv := range st.s.With {
		v, err := jr.r.evalString(kv.Value, st.ctxs, nil)
		if err != nil {
			return err
		}
		d.inputs[kv.Key] = v
		switch strings.ToLower(kv.Key) {
		case "entrypoint":
			if v != "" {
				d.entrypoint = []string{v}
			}
		case "args":
			if words := workflow.SplitArgs(v); len(words) > 0 {
				d.args = words
			}
		}
	}
	return jr.runDocker(ctx, st.s, d, env, fc, out)
}

// runDocker pulls (or takes) the image and runs the container to its end:
// its exit code is the step's result.
func (jr *legRun) runDocker(ctx context.Context, s *workflow.Step, d *dockerRun, env map[string]string, fc fileCommandSet, out *lineWriter) error {
	r := jr.r
	if r.opts.podWorkDir != "" {
		return jr.runDockerInPod(ctx, s, d, env, fc, out)
	}
	rt, err := r.containerRuntime()
	if err != nil {
		return fmt.Errorf("%s: %w", s.Uses.Raw, err)
	}
	runc, ok := rt.(*container.Runc)
	if !ok {
		return fmt.Errorf("%s: Docker actions need runner's runc runtime, not %T", s.Uses.Raw, rt)
	}
	img := d.img
	if img == nil {
		pulled, err := jr.pullImage(ctx, d.image, out)
		if err != nil {
			return fmt.Errorf("%s: %w", s.Uses.Raw, err)
		}
		img = &pulled
	}
	pmaps, mounts, err := jr.dockerMounts(fc)
	if err != nil {
		return err
	}
	list := jr.dockerEnv(s, d, env, fc, pmaps)
	hosts := map[string]string{}
	for _, sv := range jr.services {
		hosts[sv.label] = "127.0.0.1"
	}
	code, err := runc.RunOnce(ctx, container.JobSpec{
		Image: *img, Env: list, Workdir: "/github/workspace", Mounts: mounts, Hosts: hosts,
	}, container.RunSpec{Entrypoint: d.entrypoint, Args: d.args, Interrupt: r.opts.InterruptGrace, Grace: r.opts.KillGrace, Force: r.opts.Force.Done()}, out)
	out.Flush()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil {
		return fmt.Errorf("%s: %w", s.Uses.Raw, err)
	}
	if code != 0 {
		return fmt.Errorf("Docker run failed with exit code %d", code)
	}
	return nil
}

// dockerEnv is the environment of a Docker action's container, sorted:
// runs.env under the step's, the inputs as INPUT_*, the state as STATE_*,
// HOME, and the job's paths rewritten to the container's view (pmaps).
func (jr *legRun) dockerEnv(s *workflow.Step, d *dockerRun, env map[string]string, fc fileCommandSet, pmaps []pathMap) []string {
	vars := map[string]string{}
	for _, kv := range d.env {
		vars[kv[0]] = kv[1] // runs.env: under the step's environment, as on GitHub
	}
	maps.Copy(vars, jr.defaultEnv(s, fc))
	if d.action != nil {
		repo, ref := actionRepoRef(d.action)
		vars["GITHUB_ACTION_PATH"], vars["GITHUB_ACTION_REPOSITORY"], vars["GITHUB_ACTION_REF"] = "", repo, ref
	}
	delete(vars, "RUNNER_TOOL_CACHE") // not mounted
	for k, v := range env {
		vars[k] = v
	}
	for k, v := range d.inputs {
		vars[inputEnvName(k)] = v
	}
	for k, v := range d.state {
		vars["STATE_"+k] = v
	}
	vars["HOME"] = "/github/home"
	keys := make([]string, 0, len(vars))
	for k := range vars {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	list := make([]string, 0, len(keys))
	for _, k := range keys {
		list = append(list, k+"="+mapPath(pmaps, vars[k]))
	}
	return list
}

// pullImage gets ref into the image cache (STATE/images, unpacked once by
// digest) through pkg/registry: runner's registry mirrors, retries, the
// docker config's credentials.
func (jr *legRun) pullImage(ctx context.Context, ref string, out *lineWriter) (container.CachedImage, error) {
	r := jr.r
	mirrors, err := registry.ParseMirrors(r.opts.Settings.RegistryMirror)
	if err != nil {
		return container.CachedImage{}, fmt.Errorf("registry mirrors: %w", err)
	}
	c := registry.New(registry.Options{Mirrors: mirrors, Log: out})
	pull := func(ctx context.Context, ref string) (v1.Image, error) {
		a, err := c.Pull(ctx, ref)
		if err != nil {
			return nil, err
		}
		return a.Image(nil)
	}
	cache := &container.ImageCache{Dir: filepath.Join(r.state, "images")}
	img, err := cache.Get(ctx, ref, pull)
	if err != nil {
		return img, err
	}
	how := "cached"
	if img.Unpacked {
		how = "unpacked"
	}
	jr.emitTo(out, fmt.Sprintf("Image %s (%s, %s)", ref, img.Digest, how))
	return img, nil
}

// emitTo writes a line of runner's own into a step's output.
func (jr *legRun) emitTo(out *lineWriter, line string) {
	_, _ = out.Write([]byte(line + "\n"))
}

// dockerMounts are GitHub's mounts of a Docker action's container (see
// above), and the path mapping for its environment, longest host path
// first.
func (jr *legRun) dockerMounts(fc fileCommandSet) ([]pathMap, []container.Mount, error) {
	home := filepath.Join(jr.temp, "_github_home")
	if err := os.MkdirAll(home, 0o755); err != nil {
		return nil, nil, err
	}
	mounts := []container.Mount{
		{Source: jr.workspace, Target: "/github/workspace"},
		{Source: home, Target: "/github/home"},
		{Source: filepath.Dir(fc.env), Target: "/github/file_commands"},
		{Source: jr.temp, Target: "/github/runner_temp"},
	}
	ev := filepath.Join(jr.r.dir, "event.json")
	if jr.r.opts.podWorkDir != "" {
		ev = jr.r.podEventFile()
	}
	if fileExists(ev) {
		mounts = append(mounts, container.Mount{Source: ev, Target: "/github/workflow/event.json", ReadOnly: true})
	}
	var maps []pathMap
	for _, m := range mounts {
		maps = append(maps, pathMap{host: m.Source, ctr: m.Target})
	}
	sort.SliceStable(maps, func(i, j int) bool { return len(maps[i].host) > len(maps[j].host) })
	return maps, mounts, nil
}

// mapPath rewrites a host path under one of maps to the container's view;
// other text is returned as is.
func mapPath(maps []pathMap, p string) string {
	for _, m := range maps {
		if p == m.host {
			return m.ctr
		}
		if rest, ok := strings.CutPrefix(p, m.host+"/"); ok {
			return m.ctr + "/" + rest
		}
	}
	return p
}

// runDockerAction runs the main entrypoint of a Docker container action.
func (jr *legRun) runDockerAction(ctx context.Context, st *stepRun, act *actions.Action, env map[string]string, fc fileCommandSet, out *lineWriter) error {
	if act.Meta.Runs.PreEntrypoint.Set && act.Ref.Local {
		jr.annotate(st.sr.Name, command{Name: "warning", Value: fmt.Sprintf("`pre` execution is not supported for local action from '%s'", st.s.Uses.Raw)})
	}
	setActionContext(st.ctxs, act)
	inputs, err := jr.actionInputs(st, act)
	if err != nil {
		return err
	}
	return jr.runDockerStage(ctx, st, &jsStage{s: st.s, act: act, stage: "main", inputs: inputs}, env, fc, out)
}

// runDockerStage runs one stage (pre-entrypoint, main, post-entrypoint)
// of a Docker container action: runs.args evaluated with the inputs
// context, runs.env, the entrypoint of the stage (the image's for main
// without runs.entrypoint).
func (jr *legRun) runDockerStage(ctx context.Context, st *stepRun, p *jsStage, env map[string]string, fc fileCommandSet, out *lineWriter) error {
	r, act, runs := jr.r, p.act, p.act.Meta.Runs
	ctxs := maps.Clone(st.ctxs)
	ins := map[string]any{}
	for k, v := range p.inputs {
		ins[k] = v
	}
	ctxs["inputs"] = ins
	d := &dockerRun{inputs: p.inputs, action: act}
	for _, a := range runs.Args {
		v, err := r.evalString(a, ctxs, nil)
		if err != nil {
			return actionErr(act, a, "runs.args", err)
		}
		d.args = append(d.args, v)
	}
	if len(runs.Args) == 0 {
		// GitHub's rule: with.args when the action has no runs.args.
		d.args = nil
		if v, ok := inputFold(p.inputs, "args"); ok {
			if words := workflow.SplitArgs(v); len(words) > 0 {
				d.args = words
			}
		}
	}
	entries, err := r.envEntries(runs.Env, ctxs)
	if err != nil {
		return fmt.Errorf("%s: runs.env: %w", act.Meta.File, err)
	}
	d.env = entries
	entry := map[string]workflow.Value{"pre": runs.PreEntrypoint, "main": runs.Entrypoint, "post": runs.PostEntrypoint}[p.stage]
	if entry.Set && strings.TrimSpace(entry.Raw) != "" {
		d.entrypoint = []string{strings.TrimSpace(entry.Raw)}
	} else if v, ok := inputFold(p.inputs, "entrypoint"); ok && p.stage == "main" && strings.TrimSpace(v) != "" {
		// GitHub's rule: with.entrypoint when runs.entrypoint is not set.
		d.entrypoint = []string{strings.TrimSpace(v)}
	}
	if p.stage != "post" {
		if p.state == nil {
			p.state = map[string]string{}
		}
		c := *st.s
		jr.registerPost(p, jr.defaultEnv(&c, fc)["GITHUB_ACTION"])
	}
	d.state = p.state
	if r.opts.podWorkDir != "" {
		// In a pod the node runs the image: the archive goes through
		// the scratch registry (runDockerInPod).
		var unlock func()
		if d.archive, unlock, err = jr.dockerActionArchive(ctx, act, out); err != nil {
			return err
		}
		defer unlock()
	} else if d.img, err = jr.dockerActionImage(ctx, act, out); err != nil {
		return err
	}
	if d.img == nil && d.archive == "" {
		d.image = strings.TrimPrefix(strings.TrimSpace(runs.Image.Raw), "docker://")
	}
	err = jr.runDocker(ctx, st.s, d, env, fc, out)
	if p.stage != "post" {
		saved, serr := readEnvFile(fc.state)
		if serr != nil && err == nil {
			err = fmt.Errorf("GITHUB_STATE: %w", serr)
		}
		for _, kv := range saved {
			p.state[kv[0]] = kv[1]
		}
	}
	return err
}

// actionErr places an error of an action.yml value.
func actionErr(act *actions.Action, v workflow.Value, what string, err error) error {
	if e := errors.Unwrap(err); e != nil {
		err = e
	}
	return fmt.Errorf("%s:%d:%d: %s: %w", act.Meta.File, v.Line, v.Col, what, err)
}

// inputFold is the input named name, compared as GitHub compares input
// names (case-insensitively).
func inputFold(inputs map[string]string, name string) (string, bool) {
	for k, v := range inputs {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return "", false
}
