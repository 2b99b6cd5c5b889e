package kube

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	authv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/remotecommand"
	watchtools "k8s.io/client-go/tools/watch"

	"github.com/birdflock/runner/pkg/run"
)

// Transport starts leg pods on a cluster and attaches to them.
type Transport struct {
	Config *Config
	Client *Client
	// Instance names the controller (one runner serve, one runner exec
	// state dir): its pods carry it as a label, and Sweep deletes the
	// pods of an instance that was killed.
	Instance string
	// Logf, when set, receives what happens outside any job (an idle pod
	// that does not start).
	Logf func(format string, args ...any)
	// OneRun: the transport serves one run (runner exec). Its idle pods
	// (StartIdle) are started once, ahead of the run's jobs, and a claimed
	// one is not replaced; each has a deadline (oneRunIdleDeadline), as no
	// later start of this controller sweeps them.
	OneRun bool

	mu        sync.Mutex
	releasing map[int]*releases // by run: pods being deleted in the background
	pools     map[string]*pool  // idle pods by templateLabel (idle.go)
	open      int               // legs attached and not ended (legOpened)
	running   map[int]bool      // runs with a leg opened and not settled
}

// releases are a run's pods being deleted in the background (Release).
type releases struct {
	wg   sync.WaitGroup
	mu   sync.Mutex
	errs []error
}

// Conn is an attached leg pod (a run.LegConn): what the controller writes
// to Stdin reaches runner in the pod; what it prints comes out of Stdout.
type Conn struct {
	Pod  string // the pod's name
	Node string // the node it runs on

	stdin  io.WriteCloser
	stdout io.Reader
	stderr tail // the end of runner's stderr in the pod: not frames

	t        *Transport
	done     chan struct{} // the attach stream ended
	err      error         // its error, once done
	stop     context.CancelFunc
	deleteMu sync.Mutex
	log      func(string) // the job log's (Leg.Log), nil for none
	services []string     // the service containers' names
	uid      types.UID    // the pod's: the owner of its image pods
	labels   map[string]string
	run      int // the run's record number (run.LegInfo.Run)
	// deadline is when the pod's activeDeadlineSeconds ends it at the
	// latest (zero for none): its image pods end by then too.
	deadline time.Time
	// where is the leg's template's placement (nodeSelector, tolerations,
	// service account): its image pods go where it may.
	where PodTemplate
	// counted: the leg is counted as running (Transport.open) until its
	// Wait or Release, once.
	counted bool
	endOnce sync.Once
}

// Stdin is the container's standard input.
func (c *Conn) Stdin() io.WriteCloser { return c.stdin }

// Stdout is the container's standard output; it ends when the
// container's does, with the attach stream's error if that broke.
func (c *Conn) Stdout() io.Reader { return c.stdout }

// RunnerName is the pod's name: the job's runner (runner serve's
// runner_name in the jobs API).
func (c *Conn) RunnerName() string { return c.Pod }

// Where names the pod and its node, for the job's log and the jobs API.
func (c *Conn) Where() string {
	return fmt.Sprintf("pod %s/%s on node %s", c.t.Client.Namespace, c.Pod, c.Node)
}

// OpenLeg starts leg's pod: run.LegTransport's Open (see Legs).
func (t *Transport) OpenLeg(ctx context.Context, leg run.LegInfo) (*Conn, error) {
	if len(leg.Containers) > 0 {
		// runner in a pod has no runc and no privilege to run one: the
		// job would fail in its pod with "no runc in PATH".
		return nil, fmt.Errorf("kubernetes: job %s needs containers, which its pod cannot run yet: %s; run it with --executor local (docs/kubernetes.md)",
			leg.Job, strings.Join(leg.Containers, ", "))
	}
	secs := int64(0)
	if leg.Timeout > 0 {
		// The leg ends itself at its timeout; the pod's deadline is the
		// backstop for a controller that is gone by then.
		secs = int64((leg.Timeout + t.Config.grace() + 2*time.Minute).Seconds())
	}
	if ctr := leg.Container; ctr != nil {
		if ctr.User != "" {
			if _, _, err := numericUser(ctr.User); err != nil {
				return nil, fmt.Errorf("kubernetes: job %s: %w", leg.Job, err)
			}
		}
		if ctr.Hostname != "" && len(validation.IsDNS1123Label(ctr.Hostname)) > 0 {
			return nil, fmt.Errorf("kubernetes: job %s: container --hostname %q: a pod's hostname is a DNS label (%s)", leg.Job, ctr.Hostname, strings.Join(validation.IsDNS1123Label(ctr.Hostname), "; "))
		}
	}
	c, err := t.Open(ctx, Leg{RunID: leg.RunID, Attempt: leg.Attempt, Job: leg.Job, Key: leg.Key, Labels: leg.RunsOn, TimeoutSeconds: secs, Log: leg.Log, Container: leg.Container, Services: leg.Services})
	if err != nil {
		return nil, err
	}
	c.run = leg.Run
	c.opened()
	if leg.Log != nil {
		leg.Log("Running in " + c.Where())
	}
	return c, nil
}

// Legs adapts t to run.LegTransport (run.Options.Remote).
func (t *Transport) Legs() run.LegTransport { return legs{t} }

type legs struct{ t *Transport }

// RunsContainerImages: a job's container: image is its pod's (run.LegInfo.Container).
func (l legs) RunsContainerImages() bool { return true }

// Settle waits for the run's pods deleted in the background.
func (l legs) Settle(ctx context.Context, run int) error { return l.t.Settle(ctx, run) }

// Close deletes the idle pods (StartIdle).
func (l legs) Close() error { return l.t.Close() }

// StartIdle starts the transport's idle pods (Transport.StartIdle).
func (l legs) StartIdle() { l.t.StartIdle() }

func (l legs) Open(ctx context.Context, leg run.LegInfo) (run.LegConn, error) {
	c, err := l.t.OpenLeg(ctx, leg)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Open creates leg's pod, waits until its container runs (or cannot: an
// image that does not pull, a pod that is never scheduled within
// StartTimeout) and attaches to its stdin and stdout. On error no pod is
// left.
func (t *Transport) Open(ctx context.Context, leg Leg) (*Conn, error) {
	pods := t.Client.Set.CoreV1().Pods(t.Client.Namespace)
	if t.Config.template(leg.Labels).Image == "" {
		return nil, errors.New("kubernetes: no image for the job's pod (set the executor's image, or a template for its runs-on labels)")
	}
	created := time.Now()
	if p, ok := t.claim(ctx, leg); ok {
		c := t.conn(p, leg, created)
		if leg.Log != nil {
			leg.Log(fmt.Sprintf("Claimed idle pod %s/%s (image %s)", t.Client.Namespace, p.Name, p.Spec.Containers[0].Image))
		}
		c.Node = p.Spec.NodeName
		if err := c.attach(); err != nil {
			c.delete(0)
			return nil, err
		}
		return c, nil
	}
	secret, err := t.createSecret(ctx, leg)
	if err != nil {
		return nil, err
	}
	leg.secret = secret
	if leg.pullSecrets, err = t.pullSecrets(ctx, leg); err != nil {
		_ = t.deleteSecret(secret)
		return nil, err
	}
	p, err := pods.Create(ctx, t.Config.legPod(t.Instance, t.Client.Namespace, leg), metav1.CreateOptions{})
	if err != nil {
		_ = t.deleteSecret(secret)
		return nil, fmt.Errorf("kubernetes: creating the job's pod in namespace %s: %w", t.Client.Namespace, err)
	}
	c := t.conn(p, leg, created)
	if err := t.ownSecret(ctx, secret, p); err != nil {
		c.delete(0)
		_ = t.deleteSecret(secret)
		return nil, err
	}
	if leg.Log != nil {
		leg.Log(fmt.Sprintf("Created pod %s/%s (image %s)", t.Client.Namespace, p.Name, p.Spec.Containers[0].Image))
	}
	// A pod with services has started once it is Ready, every container
	// running: those that read the Secret have been created, so it goes.
	started, err := t.waitStarted(ctx, p.Name, leg.healthBudget())
	if derr := t.deleteSecret(secret); err == nil && derr != nil {
		err = derr
	}
	if err != nil {
		c.delete(0)
		return nil, err
	}
	c.Node = started.Spec.NodeName
	if err := c.attach(); err != nil {
		c.delete(0)
		return nil, err
	}
	return c, nil
}

// opened counts the leg as running (legOpened) until its Wait or Release.
func (c *Conn) opened() {
	c.t.legOpened(c.run)
	c.counted = true
}

// ended counts the leg's end once (legEnded).
func (c *Conn) ended() {
	if c.counted {
		c.endOnce.Do(c.t.legEnded)
	}
}

// conn is the Conn of leg's pod p, created (or claimed) at created.
func (t *Transport) conn(p *corev1.Pod, leg Leg, created time.Time) *Conn {
	c := &Conn{Pod: p.Name, t: t, done: make(chan struct{}), log: leg.Log, uid: p.UID, labels: p.Labels}
	if leg.TimeoutSeconds > 0 {
		c.deadline = created.Add(time.Duration(leg.TimeoutSeconds) * time.Second)
	}
	c.where = t.Config.template(leg.Labels)
	for _, s := range leg.Services {
		c.services = append(c.services, serviceContainer(s.Label))
	}
	return c
}

// watchPod waits until cond holds for the pod name, watching it.
func (t *Transport) watchPod(ctx context.Context, name string, cond func(p *corev1.Pod, gone bool) (bool, error)) (*corev1.Pod, error) {
	pods := t.Client.Set.CoreV1().Pods(t.Client.Namespace)
	sel := fields.OneTermEqualSelector("metadata.name", name).String()
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.FieldSelector = sel
			return pods.List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.FieldSelector = sel
			return pods.Watch(ctx, o)
		},
	}
	var last *corev1.Pod
	_, err := watchtools.UntilWithSync(ctx, lw, &corev1.Pod{}, func(store cache.Store) (bool, error) {
		if _, ok, err := store.GetByKey(t.Client.Namespace + "/" + name); err != nil || ok {
			return false, err
		}
		return cond(nil, true)
	}, func(e watch.Event) (bool, error) {
		p, ok := e.Object.(*corev1.Pod)
		if !ok {
			return false, nil
		}
		last = p
		return cond(p, e.Type == watch.Deleted)
	})
	return last, err
}

// waitStarted waits for the leg container of pod name to run.
func (t *Transport) waitStarted(ctx context.Context, name string, health time.Duration) (*corev1.Pod, error) {
	wait := t.Config.startTimeout()
	if health > 0 {
		// The services' health checks get what docker gives them:
		// start period and retries of interval and timeout, once the
		// pod runs (30 s for that).
		wait = min(wait, health+30*time.Second)
	}
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	var cause error
	p, err := t.watchPod(wctx, name, func(p *corev1.Pod, gone bool) (bool, error) {
		if gone {
			cause = fmt.Errorf("pod %s was deleted before it ran", name)
			return false, cause
		}
		ok, err := startState(p)
		cause = err
		return ok, err
	})
	switch {
	case cause != nil:
		return nil, fmt.Errorf("kubernetes: %w", cause)
	case err != nil && ctx.Err() != nil:
		return nil, ctx.Err()
	case err != nil && wctx.Err() != nil && p != nil && legContainer(p) != nil && legContainer(p).State.Running != nil:
		return nil, fmt.Errorf("kubernetes: pod %s: services not healthy within %s: %s%s", name, wait, strings.Join(unready(p), ", "), t.serviceLogs(p))
	case err != nil && wctx.Err() != nil:
		return nil, fmt.Errorf("kubernetes: pod %s did not start within %s: %s", name, wait, pendingWhy(p))
	case err != nil:
		return nil, fmt.Errorf("kubernetes: watching pod %s: %w", name, err)
	}
	return p, nil
}

// attach connects Stdin and Stdout to the pod's container, over
// WebSocket, else SPDY (older API servers).
func (c *Conn) attach() error {
	t := c.t
	req := t.Client.Set.CoreV1().RESTClient().Post().
		Resource("pods").Namespace(t.Client.Namespace).Name(c.Pod).SubResource("attach").
		VersionedParams(&corev1.PodAttachOptions{Container: containerName, Stdin: true, Stdout: true, Stderr: true}, scheme.ParameterCodec)
	ws, err := remotecommand.NewWebSocketExecutor(t.Client.REST, "GET", req.URL().String())
	if err != nil {
		return fmt.Errorf("kubernetes: attaching to pod %s: %w", c.Pod, err)
	}
	spdy, err := remotecommand.NewSPDYExecutor(t.Client.REST, "POST", req.URL())
	if err != nil {
		return fmt.Errorf("kubernetes: attaching to pod %s: %w", c.Pod, err)
	}
	exec, err := remotecommand.NewFallbackExecutor(ws, spdy, func(err error) bool {
		return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
	})
	if err != nil {
		return fmt.Errorf("kubernetes: attaching to pod %s: %w", c.Pod, err)
	}
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	c.stdin, c.stdout = inW, outR
	ctx, stop := context.WithCancel(context.Background())
	c.stop = stop
	go func() {
		// Stderr is not part of the protocol (runner prints "interrupted"
		// there on SIGTERM): kept apart, its end shown when the pod fails.
		err := exec.StreamWithContext(ctx, remotecommand.StreamOptions{Stdin: inR, Stdout: outW, Stderr: &c.stderr})
		c.err = err
		inR.CloseWithError(io.ErrClosedPipe)
		outW.CloseWithError(err)
		close(c.done)
	}()
	return nil
}

// Wait waits for the leg's end: the attach stream closed and the pod's
// container terminated (at most the grace period and a minute after the
// stream's end: a broken stream closed the pod's stdin, which cancels
// its leg). It then deletes the pod and returns why the pod failed
// (OOMKilled, evicted, deadline, a lost node, a non-zero exit), nil when
// runner in it exited 0.
func (c *Conn) Wait() error {
	<-c.done
	defer c.ended()
	ctx, cancel := context.WithTimeout(context.Background(), c.t.Config.grace()+time.Minute)
	defer cancel()
	var why error
	_, err := c.t.watchPod(ctx, c.Pod, func(p *corev1.Pod, gone bool) (bool, error) {
		if gone {
			why = fmt.Errorf("pod %s was deleted while its job ran (node lost, or deleted by hand)", c.Pod)
			return true, nil
		}
		if !ended(p) {
			return false, nil
		}
		why = endReason(p)
		return true, nil
	})
	c.printServiceLogs()
	derr := c.delete(0)
	if why != nil {
		if e := c.stderr.String(); e != "" {
			why = fmt.Errorf("%w; its stderr ends: %s", why, e)
		}
	}
	switch {
	case why != nil:
		return fmt.Errorf("kubernetes: %w", why)
	case err != nil && c.err != nil:
		return fmt.Errorf("kubernetes: pod %s: attach stream: %w", c.Pod, c.err)
	case err != nil:
		return fmt.Errorf("kubernetes: pod %s did not end: %w", c.Pod, err)
	}
	return derr
}

// Release ends a leg whose job succeeded (run's releaser), in place of
// Wait: once the attach stream is over (runner in the pod has exited or
// is exiting), the services' logs are printed and the pod is deleted in
// the background, without waiting for the kubelet to report the
// container's end (its status comes with the kubelet's next relist, up to
// a second later). Settle waits for the deletion.
func (c *Conn) Release() error {
	<-c.done
	defer c.ended()
	c.printServiceLogs()
	t := c.t
	t.mu.Lock()
	if t.releasing == nil {
		t.releasing = map[int]*releases{}
	}
	rel := t.releasing[c.run]
	if rel == nil {
		rel = &releases{}
		t.releasing[c.run] = rel
	}
	rel.wg.Add(1)
	t.mu.Unlock()
	go func() {
		defer rel.wg.Done()
		if err := c.delete(0); err != nil {
			rel.mu.Lock()
			rel.errs = append(rel.errs, err)
			rel.mu.Unlock()
		}
	}()
	return nil
}

// Settle waits until the pods of run (its record number) that Release
// deletes in the background are gone, and returns the deletions that
// failed (the pods' deadline and Sweep remain for those).
func (t *Transport) Settle(ctx context.Context, run int) error {
	t.mu.Lock()
	rel := t.releasing[run]
	delete(t.releasing, run)
	t.mu.Unlock()
	defer t.runSettled(run)
	if rel == nil {
		return nil
	}
	done := make(chan struct{})
	go func() {
		rel.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		return fmt.Errorf("kubernetes: pods of run %d still being deleted: %w", run, ctx.Err())
	}
	rel.mu.Lock()
	defer rel.mu.Unlock()
	return errors.Join(rel.errs...)
}

// Kill deletes the pod at once; Stdout then ends and Wait returns.
func (c *Conn) Kill() error {
	err := c.delete(0)
	if c.stop != nil {
		c.stop()
	}
	return err
}

// deleteTimeout bounds a deletion (after the grace period).
const deleteTimeout = 30 * time.Second

// deletePod deletes the pod name at once and waits until it is gone.
func (t *Transport) deletePod(name string) error {
	return (&Conn{Pod: name, t: t}).delete(0)
}

func (c *Conn) delete(grace time.Duration) error {
	c.deleteMu.Lock()
	defer c.deleteMu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), grace+deleteTimeout)
	defer cancel()
	secs := int64(grace.Seconds())
	bg := metav1.DeletePropagationBackground
	err := c.t.Client.Set.CoreV1().Pods(c.t.Client.Namespace).Delete(ctx, c.Pod, metav1.DeleteOptions{GracePeriodSeconds: &secs, PropagationPolicy: &bg})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("kubernetes: deleting pod %s: %w", c.Pod, err)
	}
	_, err = c.t.watchPod(ctx, c.Pod, func(p *corev1.Pod, gone bool) (bool, error) { return gone, nil })
	if err != nil {
		return fmt.Errorf("kubernetes: pod %s still there %s after its deletion: %w", c.Pod, grace+deleteTimeout, err)
	}
	return nil
}

// Check makes sure the executor can run legs before any job starts: a
// server-side dry run of a leg pod (a namespace that does not exist, a
// kubeconfig without the right to create pods, a pod the namespace's
// admission refuses), then the other rights of Rules
// (SelfSubjectAccessReview). Nothing is created.
func (t *Transport) Check(ctx context.Context) error {
	ns := t.Client.Namespace
	p := t.Config.legPod(t.Instance, ns, Leg{Job: "check", Key: "check"})
	if p.Spec.Containers[0].Image == "" {
		p.Spec.Containers[0].Image = "check"
	}
	_, err := t.Client.Set.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	switch {
	case apierrors.IsNotFound(err):
		return fmt.Errorf("kubernetes: namespace %s does not exist (--namespace, or the executor's namespace)", ns)
	case apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err):
		return fmt.Errorf("kubernetes: cannot create pods in namespace %s with %s (it needs a Role with docs/kubernetes.md's rules): %w", ns, t.Client.who(), err)
	case err != nil:
		return fmt.Errorf("kubernetes: a job's pod in namespace %s: %w", ns, err)
	}
	rules := Rules
	if len(t.Config.idleTemplates()) > 0 {
		rules = append(rules[:len(rules):len(rules)], rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: IdleRules})
	}
	for _, r := range rules {
		for _, res := range r.Resources {
			resource, sub, _ := strings.Cut(res, "/")
			for _, verb := range r.Verbs {
				review := &authv1.SelfSubjectAccessReview{Spec: authv1.SelfSubjectAccessReviewSpec{
					ResourceAttributes: &authv1.ResourceAttributes{Namespace: ns, Verb: verb, Resource: resource, Subresource: sub},
				}}
				got, err := t.Client.Set.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, review, metav1.CreateOptions{})
				if err != nil {
					return fmt.Errorf("kubernetes: checking the right to %s %s in namespace %s: %w", verb, res, ns, err)
				}
				if !got.Status.Allowed {
					return fmt.Errorf("kubernetes: %s may not %s %s in namespace %s (the executor needs docs/kubernetes.md's rules)", t.Client.who(), verb, res, ns)
				}
			}
		}
	}
	return nil
}

// tail keeps the last tailSize bytes written to it.
type tail struct {
	mu  sync.Mutex
	buf []byte
}

const tailSize = 4 << 10

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > tailSize {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-tailSize:]...)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(string(t.buf))
}

// serviceLogs is the last lines of each unready service container's log,
// for the error of a leg whose services never became healthy.
func (t *Transport) serviceLogs(p *corev1.Pod) string {
	var b strings.Builder
	tail := int64(20)
	for _, name := range unready(p) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		data, err := t.Client.Set.CoreV1().Pods(t.Client.Namespace).GetLogs(p.Name, &corev1.PodLogOptions{Container: name, TailLines: &tail}).DoRaw(ctx)
		cancel()
		if err == nil && len(data) > 0 {
			fmt.Fprintf(&b, "\n%s's log (last lines):\n%s", name, strings.TrimRight(string(data), "\n"))
		}
	}
	return b.String()
}

// printServiceLogs writes the end of each service container's log into the
// job's log before the pod goes, as GitHub's "Stop containers" prints the
// service containers' logs.
func (c *Conn) printServiceLogs() {
	if c.log == nil {
		return
	}
	limit := int64(1 << 20)
	for _, name := range c.services {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		data, err := c.t.Client.Set.CoreV1().Pods(c.t.Client.Namespace).GetLogs(c.Pod, &corev1.PodLogOptions{Container: name, LimitBytes: &limit}).DoRaw(ctx)
		cancel()
		c.log("Print service container logs: " + name)
		if err != nil {
			c.log("Warning: " + err.Error())
			continue
		}
		for _, line := range strings.Split(strings.TrimRight(string(data), "\n"), "\n") {
			c.log(line)
		}
	}
}
