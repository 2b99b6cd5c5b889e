package run

import (
	"bufio"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/birdflock/runner/pkg/container"
	"github.com/birdflock/runner/pkg/registry"
)

// A remote leg's containers (`uses: test-image` in a pod) run beside the
// leg, not in it: a pod holds no runc and no privilege to run one. The
// leg asks the controller for each container with a container frame; the
// controller starts it through the leg's LegConn (ContainerHost: a pod of
// its own on Kubernetes) and answers on the leg's standard input. The
// image travels through a registry both ends reach (LegScratch): the leg
// pushes an archive there, the cluster's nodes pull it from there.
// docs/kubernetes.md, "Containers of a leg in a pod", says more.

// ContainerHost is a LegConn that runs containers for its leg's steps:
// Containers is the runtime (its Setup gets a Spec with Ref set, never
// Archive), whose containers' Ports are addresses the leg reaches.
type ContainerHost interface {
	Containers() container.Runtime
}

// LegScratch is implemented by a LegTransport whose legs' containers
// run elsewhere: Scratch is the registry an image archive goes through,
// Push as the leg reaches it ("http://10.0.0.1:5000": plain HTTP with
// that scheme, else HTTPS), Pull as the runtime's image references name
// it ("127.0.0.1:5000"). ok is false when the transport has none: a
// leg's test-image then fails with that reason.
type LegScratch interface {
	Scratch() (push, pull string, ok bool)
}

// LegWorkDir is implemented by a LegTransport whose legs hold the job's
// work directories on volumes that a container beside the leg mounts (a
// Kubernetes pod's emptyDirs, which a Docker action's ephemeral container
// mounts): WorkDir is their root, with workspace, _temp,
// _temp/_github_home, _temp/_runner_file_commands and _github_workflow
// each a volume.
type LegWorkDir interface {
	WorkDir() string
}

// The repository in the scratch registry that test-image archives are
// pushed to, each under the tag "sha256-<hex>" of its digest.
const scratchRepo = "runner/test-images"

// legScratch is the spec's part for the leg's containers.
type legScratch struct {
	Push, Pull string
}

// wireContainer is a container a leg asks the controller for.
type wireContainer struct {
	Image      string   // a reference the runtime pulls
	Command    []string `json:",omitempty"`
	Entrypoint []string `json:",omitempty"`
	// EntrypointSet: Entrypoint replaces the image's even when empty.
	EntrypointSet bool     `json:",omitempty"`
	Env           []string `json:",omitempty"`
	Ports         []int    `json:",omitempty"`
	Memory        int64    `json:",omitempty"`
	Pids          int64    `json:",omitempty"`
	// Mounts are the leg's directories the container shares (a Docker
	// action's, on the pod's work volumes: LegWorkDir), Workdir its
	// working directory.
	Mounts  []container.Mount `json:",omitempty"`
	Workdir string            `json:",omitempty"`
	// SecretEnv are the env entries whose values hold the run's secrets,
	// for a container beside the leg (Mounts), sent as references: the
	// frames are the leg pod's log, readable by whoever may read pod
	// logs. The controller puts each value together from its secrets
	// (container.Spec.SecretEnv).
	SecretEnv []wireSecretEnv `json:",omitempty"`
	// SecretArgs: Command[i] (sent empty) is the value of the SecretEnv
	// entry named SecretArgs[i] (RUNNER_ARG_<i+1>), as the runtime
	// passes it (container.Spec.SecretArgs).
	SecretArgs map[int]string `json:",omitempty"`
}

// wireSecretEnv is an env entry whose value is its Parts, joined.
type wireSecretEnv struct {
	Name  string
	Parts []wirePart
}

// wirePart is literal Text, the value of the run's secret named Secret,
// or Sealed: text sealed with the leg's SealKey (AES-GCM, nonce first).
type wirePart struct {
	Text   string `json:",omitempty"`
	Secret string `json:",omitempty"`
	Sealed []byte `json:",omitempty"`
}

// legContainers is a remote leg's container.Runtime: each container is
// asked of the controller over the frame stream.
type legContainers struct {
	fw      *frameWriter
	scratch *legScratch
	log     io.Writer // where Setup says what it pushed; may be nil
	// masker holds the leg's secrets (and its ::add-mask:: values): a
	// container's env or command holding one is refused, as the
	// controller writes both into a pod's spec (readable by whoever may
	// read pods), and the container frame is not masked.
	masker *Masker
	// sealKey seals a secret value that is not made of the run's
	// secrets (legSpec.SealKey); nil: such a value is refused.
	sealKey []byte
	// ladder stops the processes of a container in the leg's pod that
	// the leg stops (stopProcesses).
	ladder stopLadder
	// secrets are the run's (name → value): an env value of a container
	// beside the leg made of them and of plain text goes as references
	// (wireSecretEnv).
	secrets map[string]string

	mu   sync.Mutex
	next int
	live map[string]*legContainer
}

func newLegContainers(fw *frameWriter, scratch *legScratch) *legContainers {
	return &legContainers{fw: fw, scratch: scratch, live: map[string]*legContainer{}}
}

// legContainer is one container the controller runs for the leg.
type legContainer struct {
	lc   *legContainers
	id   string // the leg's name for it, in its frames
	name string // the controller's (a pod's name), once it runs
	req  wireContainer
	logR *io.PipeReader
	logW *io.PipeWriter

	runtime string // the runtime's id of a container in the leg's pod
	// abandoned: its Start gave up (cancelled) before it ran (under
	// lc.mu); if it runs after all, its processes are stopped.
	abandoned bool
	up        chan wireFrame // the answer to the container frame
	gone      chan wireFrame // the answer to container-stop
	done      chan struct{}  // closed at container-end or container-gone
	endOnce   sync.Once
	code      int
	ports     map[int]string
	stopped   sync.Once
	removed   bool // a container-gone came (under lc.mu)
}

// Setup pushes an archive to the scratch registry (or takes Ref as it
// is) and reads the ports to publish from the image when Ports is empty.
// Nothing runs until Start.
func (lc *legContainers) Setup(ctx context.Context, spec container.Spec) (container.Container, error) {
	if lc.scratch == nil && (spec.Archive != "" || len(spec.Mounts) == 0) {
		return nil, errors.New("this leg runs in a pod, and its executor has no scratch registry for the pods' containers (the kubernetes executor's scratch-registry setting, docs/kubernetes.md)")
	}
	env, secretEnv := spec.Env, []wireSecretEnv(nil)
	var secretArgs map[int]string
	if len(spec.Mounts) > 0 {
		// Beside the leg, in its pod: the runtime keeps secret values
		// out of the spec (a Secret of their own).
		var err error
		if env, secretEnv, err = lc.splitSecrets(spec.Env); err != nil {
			return nil, err
		}
		spec.Env = env
		if spec.Command, secretArgs, secretEnv, err = lc.splitSecretArgs(spec.Command, secretEnv); err != nil {
			return nil, err
		}
	}
	if err := lc.refuseSecrets(spec); err != nil {
		return nil, err
	}
	req := wireContainer{Image: spec.Ref, Command: spec.Command, Entrypoint: spec.Entrypoint, EntrypointSet: spec.Entrypoint != nil,
		Env: env, Ports: spec.Ports, Memory: spec.Limits.Memory, Pids: spec.Limits.Pids, Mounts: spec.Mounts, Workdir: spec.Workdir, SecretEnv: secretEnv, SecretArgs: secretArgs}
	if spec.Archive != "" {
		ref, ports, err := lc.pushArchive(ctx, spec.Archive)
		if err != nil {
			return nil, err
		}
		req.Image = ref
		if len(req.Ports) == 0 && len(spec.Mounts) == 0 {
			req.Ports = ports // a container beside the leg in its pod publishes none
		}
	} else if len(req.Ports) == 0 && spec.Pull != nil {
		img, err := spec.Pull(ctx, spec.Ref)
		if err != nil {
			// The node pulls the image, maybe from where the job's
			// pod cannot (another address, credentials of the node's
			// own): only its exposed ports are read here.
			return nil, fmt.Errorf("reading the image's exposed ports from the job's pod (give port: to skip this): %w", err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			return nil, err
		}
		req.Ports = container.ExposedTCP(cf.Config)
	}
	lc.mu.Lock()
	lc.next++
	id := "c" + strconv.Itoa(lc.next)
	c := &legContainer{lc: lc, id: id, req: req, up: make(chan wireFrame, 1), gone: make(chan wireFrame, 1), done: make(chan struct{})}
	c.logR, c.logW = io.Pipe()
	lc.live[id] = c
	lc.mu.Unlock()
	return c, nil
}

// splitSecrets splits env into the entries without a secret and those
// whose values are the run's secrets and plain text, as references; a
// value that holds a secret otherwise (an encoding of one, a masked
// output) is refused.
func (lc *legContainers) splitSecrets(env []string) ([]string, []wireSecretEnv, error) {
	if lc.masker == nil {
		return env, nil, nil
	}
	var plain []string
	var secret []wireSecretEnv
	names := slices.Sorted(maps.Keys(lc.secrets))
	// Longest values first: a secret that holds another is matched whole.
	slices.SortStableFunc(names, func(a, b string) int { return len(lc.secrets[b]) - len(lc.secrets[a]) })
	for _, e := range env {
		k, v, _ := strings.Cut(e, "=")
		if lc.masker.Mask(v) == v {
			plain = append(plain, e)
			continue
		}
		var parts []wirePart
		lit := ""
		for i := 0; i < len(v); {
			matched := false
			for _, n := range names {
				if sv := lc.secrets[n]; sv != "" && strings.HasPrefix(v[i:], sv) {
					if lit != "" {
						parts, lit = append(parts, wirePart{Text: lit}), ""
					}
					parts = append(parts, wirePart{Secret: n})
					i += len(sv)
					matched = true
					break
				}
			}
			if !matched {
				lit += v[i : i+1]
				i++
			}
		}
		if lit != "" {
			parts = append(parts, wirePart{Text: lit})
		}
		for i, p := range parts {
			if p.Text != "" && lc.masker.Mask(p.Text) != p.Text {
				// A masked value, an encoding of a secret: sealed.
				sealed, err := seal(lc.sealKey, p.Text)
				if err != nil {
					return nil, nil, fmt.Errorf("env %s holds a secret that is not one of the run's secrets as it is (an encoding, or a masked value), and it cannot be sealed for the controller (%v): the container's spec would hold it; run the job with --executor local (docs/kubernetes.md)", k, err)
				}
				parts[i] = wirePart{Sealed: sealed}
			}
		}
		secret = append(secret, wireSecretEnv{Name: k, Parts: parts})
	}
	return plain, secret, nil
}

// splitSecretArgs moves each of args that holds a secret into secretEnv
// as RUNNER_ARG_<i+1> (splitSecrets' rules), leaving it empty in args.
func (lc *legContainers) splitSecretArgs(args []string, secretEnv []wireSecretEnv) ([]string, map[int]string, []wireSecretEnv, error) {
	if lc.masker == nil {
		return args, nil, secretEnv, nil
	}
	var refs map[int]string
	out := slices.Clone(args)
	for i, w := range args {
		if lc.masker.Mask(w) == w {
			continue
		}
		name := "RUNNER_ARG_" + strconv.Itoa(i+1)
		_, se, err := lc.splitSecrets([]string{name + "=" + w})
		if err != nil {
			return nil, nil, nil, fmt.Errorf("arg %d: %w", i+1, err)
		}
		if refs == nil {
			refs = map[int]string{}
		}
		secretEnv = append(secretEnv, se...)
		refs[i], out[i] = name, ""
	}
	return out, refs, secretEnv, nil
}

// resolve puts e's value together from secrets; an unknown name is an
// error.
func (e wireSecretEnv) resolve(secrets map[string]string, key []byte) (string, error) {
	var b strings.Builder
	for _, p := range e.Parts {
		if p.Sealed != nil {
			text, err := unseal(key, p.Sealed)
			if err != nil {
				return "", fmt.Errorf("env %s: %w", e.Name, err)
			}
			b.WriteString(text)
			continue
		}
		if p.Secret == "" {
			b.WriteString(p.Text)
			continue
		}
		v, ok := secrets[p.Secret]
		if !ok {
			return "", fmt.Errorf("env %s: no secret %s in the run", e.Name, p.Secret)
		}
		b.WriteString(v)
	}
	return b.String(), nil
}

// refuseSecrets fails a container whose env or command holds a secret:
// the controller would write it into the image pod's spec.
func (lc *legContainers) refuseSecrets(spec container.Spec) error {
	if lc.masker == nil {
		return nil
	}
	why := "the image runs as a pod of its own, whose spec (readable by whoever may read pods) would hold it; pass it another way, or run the job with --executor local (docs/kubernetes.md)"
	if len(spec.Mounts) > 0 {
		why = "the container's entrypoint and args are in the job pod's spec (readable by whoever may read pods); pass the secret in an input or env, which reach the container through a Secret, or run the job with --executor local (docs/kubernetes.md)"
	}
	for _, e := range spec.Env {
		if k, v, _ := strings.Cut(e, "="); lc.masker.Mask(v) != v {
			return fmt.Errorf("env %s holds a secret: %s", k, why)
		}
	}
	for _, w := range append(slices.Clone(spec.Entrypoint), spec.Command...) {
		if lc.masker.Mask(w) != w {
			return fmt.Errorf("command holds a secret: %s", why)
		}
	}
	return nil
}

// pushArchive pushes an OCI archive to the scratch registry: the
// reference the runtime pulls it by (digest) and its exposed TCP ports.
func (lc *legContainers) pushArchive(ctx context.Context, file string) (string, []int, error) {
	a, err := registry.OpenArchive(file, "")
	if err != nil {
		return "", nil, err
	}
	defer a.Close()
	img, err := a.Image(nil)
	if err != nil {
		return "", nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return "", nil, err
	}
	dg, err := a.Digest()
	if err != nil {
		return "", nil, err
	}
	host, insecure := strings.CutPrefix(lc.scratch.Push, "http://")
	host = strings.TrimPrefix(host, "https://")
	log := lc.log
	if log == nil {
		log = io.Discard
	}
	c := registry.New(registry.Options{Insecure: insecure, Log: log})
	start := time.Now()
	if _, err := c.Push(ctx, a, host+"/"+scratchRepo, []string{"sha256-" + dg.Hex}); err != nil {
		return "", nil, fmt.Errorf("the image to the scratch registry: %w", err)
	}
	fmt.Fprintf(log, "pushed the image to the scratch registry in %.2fs\n", time.Since(start).Seconds())
	return lc.scratch.Pull + "/" + scratchRepo + "@" + dg.String(), container.ExposedTCP(cf.Config), nil
}

// answer routes a controller's frame about a container to it.
func (lc *legContainers) answer(fr wireFrame) {
	lc.mu.Lock()
	c := lc.live[fr.Name]
	lc.mu.Unlock()
	if c == nil {
		return
	}
	switch fr.Type {
	case frameContainerUp:
		lc.mu.Lock()
		abandoned := c.abandoned
		lc.mu.Unlock()
		if abandoned {
			go lc.stopLate(fr.Runtime) // its step gave up waiting
			return
		}
		select {
		case c.up <- fr:
		default:
		}
	case frameContainerLog:
		_, _ = io.WriteString(c.logW, fr.text()+"\n")
	case frameContainerEnd:
		c.end(fr.Code)
	case frameContainerLate:
		go lc.stopLate(fr.Runtime)
	case frameContainerGone:
		lc.mu.Lock()
		c.removed = true
		lc.mu.Unlock()
		c.end(-1)
		select {
		case c.gone <- fr:
		default:
		}
		select {
		case c.up <- wireFrame{Type: frameContainerGone, Text: cmpText(fr.Text, "the controller removed it")}:
		default:
		}
	}
}

func cmpText(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// closeAll ends every container's wait: the controller is gone.
func (lc *legContainers) closeAll() {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	for _, c := range lc.live {
		c.end(-1)
		select {
		case c.up <- wireFrame{Type: frameContainerGone, Text: "the controller went away"}:
		default:
		}
		select {
		case c.gone <- wireFrame{Type: frameContainerGone}:
		default:
		}
	}
}

func (c *legContainer) end(code int) {
	c.endOnce.Do(func() {
		c.code = code
		c.logW.Close()
		close(c.done)
	})
}

func (c *legContainer) ID() string {
	if c.name != "" {
		return c.name
	}
	return c.id
}
func (c *legContainer) Logs() io.Reader { return c.logR }

// Start asks the controller to run the container and waits until it
// runs (its ports reachable) or cannot.
func (c *legContainer) Start(ctx context.Context) error {
	req := c.req
	if err := c.lc.fw.send(wireFrame{Type: frameContainer, Name: c.id, Container: &req}); err != nil {
		return fmt.Errorf("asking the controller for the container: %w", err)
	}
	select {
	case fr := <-c.up:
		if fr.Type != frameContainerUp {
			return errors.New(fr.Text)
		}
		c.ports, c.name, c.runtime = fr.Ports, fr.Text, fr.Runtime
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *legContainer) Ports() map[int]string { return c.ports }

func (c *legContainer) Wait(ctx context.Context) (int, error) {
	select {
	case <-c.done:
		return c.code, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

func (c *legContainer) Done() <-chan struct{} { return c.done }

// Destroy asks the controller to remove the container and waits until it
// did: the step ends with nothing of it left.
func (c *legContainer) Destroy(ctx context.Context) error {
	var err error
	c.stopped.Do(func() {
		c.lc.mu.Lock()
		gone := c.removed
		c.lc.mu.Unlock()
		if gone {
			return // it never ran, or the controller removed it already
		}
		if serr := c.lc.fw.send(wireFrame{Type: frameContainerStop, Name: c.id}); serr != nil {
			err = serr
			return
		}
		select {
		case fr := <-c.gone:
			if fr.Text != "" && fr.Type == frameContainerGone && fr.Code != 0 {
				err = errors.New(fr.Text)
			}
		case <-ctx.Done():
			err = ctx.Err()
		}
	})
	c.end(-1)
	return err
}

// hostContainers runs a remote leg's containers on the controller's side
// (readRemote's container frames), answering on the leg's stdin.
type hostContainers struct {
	rt  container.Runtime // nil: the LegConn runs none
	in  *legStdin
	log func(string)
	// secrets are the run's: a container's SecretEnv is put together
	// from them (or unsealed with sealKey).
	secrets map[string]string
	sealKey []byte

	mu      sync.Mutex
	live    map[string]container.Container
	removed map[string]bool // asked to go before Setup returned
	wg      sync.WaitGroup
}

// start runs the container fr asks for, in the background.
func (h *hostContainers) start(ctx context.Context, fr wireFrame) {
	id, req := fr.Name, fr.Container
	if h.rt == nil || req == nil {
		_ = h.in.frame(wireFrame{Type: frameContainerGone, Name: id, Code: 1, Text: "this executor cannot run a container for a leg"})
		return
	}
	h.mu.Lock()
	h.pending(id)
	h.mu.Unlock()
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		spec := container.Spec{Ref: req.Image, Command: req.Command, Env: req.Env, Ports: req.Ports,
			Limits: container.Limits{Memory: req.Memory, Pids: req.Pids}, Mounts: req.Mounts, Workdir: req.Workdir, SecretArgs: req.SecretArgs}
		for _, e := range req.SecretEnv {
			v, err := e.resolve(h.secrets, h.sealKey)
			if err != nil {
				_ = h.in.frame(wireFrame{Type: frameContainerGone, Name: id, Code: 1, Text: err.Error()})
				return
			}
			spec.SecretEnv = append(spec.SecretEnv, e.Name+"="+v)
		}
		if req.EntrypointSet {
			spec.Entrypoint = append([]string{}, req.Entrypoint...)
		}
		c, err := h.rt.Setup(ctx, spec)
		if err != nil {
			_ = h.in.frame(wireFrame{Type: frameContainerGone, Name: id, Code: 1, Text: err.Error()})
			return
		}
		h.mu.Lock()
		if h.removed[id] {
			// The leg removed it while Setup ran: it never starts.
			delete(h.removed, id)
			h.mu.Unlock()
			dctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			_ = c.Destroy(dctx)
			return
		}
		if h.live == nil {
			h.live = map[string]container.Container{}
		}
		h.live[id] = c
		h.mu.Unlock()
		logsDone := make(chan struct{})
		go func() {
			defer close(logsDone)
			sc := bufio.NewScanner(c.Logs())
			sc.Buffer(make([]byte, 64<<10), maxLine)
			for sc.Scan() {
				line := textFrame(frameContainerLog, sc.Text())
				line.Name = id
				_ = h.in.frame(line)
			}
			_, _ = io.Copy(io.Discard, c.Logs())
		}()
		if err := c.Start(ctx); err != nil {
			_ = h.in.frame(wireFrame{Type: frameContainerGone, Name: id, Code: 1, Text: err.Error()})
			h.remove(id)
			<-logsDone
			if l, ok := c.(interface{ Late() <-chan string }); ok {
				// A pod cannot stop its containers that run after all:
				// the leg does. Not waited for by close: the watch ends
				// with the pod, deleted after the leg.
				go func() {
					if cid := <-l.Late(); cid != "" {
						_ = h.in.frame(wireFrame{Type: frameContainerLate, Name: id, Runtime: cid})
					}
				}()
			}
			return
		}
		up := wireFrame{Type: frameContainerUp, Name: id, Ports: c.Ports(), Text: c.ID()}
		if r, ok := c.(interface{ RuntimeID() string }); ok {
			up.Runtime = r.RuntimeID()
		}
		_ = h.in.frame(up)
		go func() {
			<-logsDone
			code, err := c.Wait(context.WithoutCancel(ctx))
			if err == nil {
				_ = h.in.frame(wireFrame{Type: frameContainerEnd, Name: id, Code: code})
			}
		}()
	}()
}

// stop removes the container fr names and says so to the leg.
func (h *hostContainers) stop(fr wireFrame) {
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		err := h.remove(fr.Name)
		out := wireFrame{Type: frameContainerGone, Name: fr.Name}
		if err != nil {
			out.Code, out.Text = 1, err.Error()
		}
		_ = h.in.frame(out)
	}()
}

// pending notes that id is being set up (h.mu held): a remove before
// Setup returns marks it, and start then destroys it instead of starting
// it.
func (h *hostContainers) pending(id string) {
	if h.live == nil {
		h.live = map[string]container.Container{}
	}
	h.live[id] = nil
}

// remove destroys a container on a context that outlives the run's; one
// still being set up is marked, and start destroys it.
func (h *hostContainers) remove(id string) error {
	h.mu.Lock()
	c, known := h.live[id]
	delete(h.live, id)
	if known && c == nil {
		if h.removed == nil {
			h.removed = map[string]bool{}
		}
		h.removed[id] = true
	}
	h.mu.Unlock()
	if c == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return c.Destroy(ctx)
}

// close removes every container the leg left (it ended, or broke) and
// waits for the background work.
func (h *hostContainers) close() {
	h.wg.Wait()
	h.mu.Lock()
	ids := make([]string, 0, len(h.live))
	for id := range h.live {
		ids = append(ids, id)
	}
	h.mu.Unlock()
	for _, id := range ids {
		if err := h.remove(id); err != nil && h.log != nil {
			h.log("Warning: removing a container of the leg: " + err.Error())
		}
	}
}

// legStdin is a remote leg's standard input once the spec and source
// are written: control frames and container answers, one writer at a
// time.
type legStdin struct {
	mu     sync.Mutex
	w      io.WriteCloser
	closed bool
}

func (s *legStdin) frame(fr wireFrame) error {
	data, err := json.Marshal(fr)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return io.ErrClosedPipe
	}
	_, err = s.w.Write(append(data, '\n'))
	return err
}

func (s *legStdin) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	return s.w.Close()
}

// seal encrypts text with key (AES-256-GCM, the nonce first).
func seal(key []byte, text string) ([]byte, error) {
	if len(key) != 32 {
		return nil, errors.New("no seal key from the controller")
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, gcm.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return gcm.Seal(nonce, nonce, []byte(text), nil), nil
}

// unseal decrypts what seal made with key.
func unseal(key, sealed []byte) (string, error) {
	if len(key) != 32 {
		return "", errors.New("a sealed value, and no seal key")
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return "", err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return "", err
	}
	if len(sealed) < gcm.NonceSize() {
		return "", errors.New("a sealed value too short")
	}
	text, err := gcm.Open(nil, sealed[:gcm.NonceSize()], sealed[gcm.NonceSize():], nil)
	if err != nil {
		return "", errors.New("a sealed value that does not open with the leg's key")
	}
	return string(text), nil
}
