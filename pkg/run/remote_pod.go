package run

import (
	"fmt"
	"strings"

	"github.com/birdflock/runner/pkg/registry"
	"github.com/birdflock/runner/pkg/workflow"
	"github.com/google/go-containerregistry/pkg/name"
)

// What of a job's containers a transport that runs legs in container
// images (a pod) carries: the job's container: as the leg's image, its
// services as containers beside it, and what it cannot carry, named.

// jobContainers lists the job's container:, services: and docker://
// steps, with where they are written (LegInfo.Containers). An image
// written as an expression counts: it is evaluated only in the remote.
func jobContainers(file string, j *workflow.Job, podImage, podServices, podSteps bool) []string {
	var out []string
	at := func(p workflow.Pos) string { return fmt.Sprintf("%s:%d:%d", file, p.Line, p.Col) }
	if c := j.Container; c != nil && c.Image.Raw != "" && !podImage {
		out = append(out, "container ("+at(c.Pos)+")")
	}
	for _, s := range j.Services {
		if s.Image.Raw != "" && !podServices {
			out = append(out, "services."+s.Label+" ("+at(s.Pos)+")")
		}
	}
	// A Dockerfile action is only known once resolved (in the remote);
	// a docker:// step is written. A pod with work volumes runs them
	// beside the leg (LegWorkDir).
	for _, st := range j.Steps {
		if strings.HasPrefix(st.Uses.Raw, "docker://") && !podSteps {
			out = append(out, "uses: "+st.Uses.Raw+" ("+at(st.Uses.Pos)+")")
		}
	}
	return out
}

// LegContainer is the job's container: when a transport runs the leg in
// its image (a pod's image): the image and the options a pod carries. Its
// env is not here: the leg sets it for its steps (it may hold secrets, and a
// pod spec is readable by whoever may read pods).
type LegContainer struct {
	Image    string
	User     string // --user: name, uid, or either with :group
	Workdir  string // --workdir
	Hostname string // --hostname
	// Credentials are its credentials: for its image's registry (nil for
	// none): the node pulls the image with them (an image pull Secret).
	Credentials *registry.Credential
	// Node is set when a step of the job may run a JavaScript action (a
	// uses: neither docker:// nor a built-in): the pod copies the
	// template image's node in beside runner (Options.BundledNode).
	Node bool
}

// podContainer is the job's container:, evaluated, when a remote leg runs
// in its image (LegInfo.Container); nil for no container:, an empty Image
// for one whose image evaluates to "" (the job runs without). Its
// credentials: are for the node's pull. What a pod cannot carry is an
// error naming it: volumes (a pod mounts no path of this machine).
func (jr *legRun) podContainer() (*LegContainer, error) {
	c, r := jr.job.Container, jr.r
	if c == nil {
		return nil, nil
	}
	at := func(p workflow.Pos) string { return fmt.Sprintf("%s:%d:%d", r.w.File, p.Line, p.Col) }
	ctxs := jr.contexts()
	image, err := r.evalString(c.Image, ctxs, nil)
	if err != nil {
		return nil, err
	}
	if image = strings.TrimSpace(image); image == "" {
		return &LegContainer{}, nil // none: the job runs on the pod's image, as on GitHub's host
	}
	if len(c.Volumes) > 0 {
		return nil, fmt.Errorf("%s: container.volumes: the job runs in its container's image as a pod, which mounts no path of the controller's machine; run it with --executor local", at(c.Volumes[0].Pos))
	}
	creds, err := jr.podCredentials(image, c.Username, c.Password, c.Image.Pos, "container")
	if err != nil {
		return nil, err
	}
	optText, err := r.evalString(c.Options, ctxs, nil)
	if err != nil {
		return nil, err
	}
	opts, err := workflow.ParseContainerOptions(optText)
	if err != nil {
		pos := c.Options.Pos
		if optText == c.Options.Raw {
			pos = workflow.OptionPos(c.Options, err)
		}
		return nil, fmt.Errorf("%s: container.options: %w", at(pos), err)
	}
	node := false
	for _, s := range jr.job.Steps {
		if !s.Uses.Set || strings.HasPrefix(strings.TrimSpace(s.Uses.Raw), "docker://") {
			continue
		}
		if _, builtin := r.opts.Builtins.Lookup(s.Uses.Raw); !builtin {
			node = true
		}
	}
	return &LegContainer{Image: image, User: opts.User, Workdir: opts.Workdir, Hostname: opts.Hostname, Credentials: creds, Node: node}, nil
}

// podCredentials are the credentials: of a container: or a service whose
// image the pod's node pulls (nil for none), for the image's registry; the
// password is masked from here on.
func (jr *legRun) podCredentials(image string, user, pass workflow.Value, imagePos workflow.Pos, what string) (*registry.Credential, error) {
	r, ctxs := jr.r, jr.contexts()
	u, err := r.evalString(user, ctxs, nil)
	if err != nil {
		return nil, err
	}
	p, err := r.evalString(pass, ctxs, nil)
	if err != nil {
		return nil, err
	}
	if p != "" {
		r.masker.Add(p)
	}
	if u == "" && p == "" {
		return nil, nil
	}
	ref, err := name.ParseReference(image)
	if err != nil {
		return nil, fmt.Errorf("%s:%d:%d: %s image %q: %w", r.w.File, imagePos.Line, imagePos.Col, what, image, err)
	}
	return &registry.Credential{Registry: ref.Context().RegistryStr(), Username: u, Password: p}, nil
}

// LegService is a service of a remote leg's job that the transport runs as
// a container beside the leg (a container of its pod, on localhost, as on
// GitHub's jobs on the host): the leg starts only once each is healthy.
type LegService struct {
	Label string
	Image string
	Env   []string // KEY=VALUE: no value holds a secret
	// SecretEnv are the KEY=VALUE whose value holds a secret: they must
	// not be written where the job's env is readable (a pod's spec).
	SecretEnv []string
	Ports     []int // container ports, reached at the same number on localhost
	// Credentials are its credentials: for its image's registry (nil for
	// none): the node pulls the image with them (an image pull Secret).
	Credentials *registry.Credential
	// Health is the service's options: --health-* (HealthCmd "" for
	// none: the service counts as ready once it runs) and --entrypoint.
	Health workflow.ServiceOptions
}

// podServices are the job's services as containers of the leg's pod: an
// image (with its credentials: for the node's pull), env (the values that
// hold a secret apart, in SecretEnv), ports, and --health-*, --entrypoint
// and --env options.
func (jr *legRun) podServices() ([]LegService, error) {
	var out []LegService
	for _, s := range jr.job.Services {
		sp, ok, err := jr.evalService(s)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		ls := LegService{Label: s.Label, Image: sp.image, Health: sp.opts}
		if sp.user != "" || sp.password != "" {
			ref, err := name.ParseReference(sp.image)
			if err != nil {
				return nil, fmt.Errorf("%s:%d:%d: services.%s image %q: %w", jr.r.w.File, s.Image.Line, s.Image.Col, s.Label, sp.image, err)
			}
			ls.Credentials = &registry.Credential{Registry: ref.Context().RegistryStr(), Username: sp.user, Password: sp.password}
		}
		for _, e := range sp.env {
			_, v, _ := strings.Cut(e, "=")
			if jr.holdsSecret(v) {
				ls.SecretEnv = append(ls.SecretEnv, e)
			} else {
				ls.Env = append(ls.Env, e)
			}
		}
		for _, p := range sp.ports {
			ls.Ports = append(ls.Ports, p.Container)
		}
		out = append(out, ls)
	}
	return out, nil
}

// holdsSecret reports whether v holds what the run masks: a secret, a
// credential, or one of their encodings the masker knows.
func (jr *legRun) holdsSecret(v string) bool {
	return jr.r.masker.Mask(v) != v
}
