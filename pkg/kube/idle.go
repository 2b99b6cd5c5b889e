package kube

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Idle pods. A template's `idle: N` keeps N leg pods of it created and
// running ahead of the jobs, runner in each waiting on its stdin for a
// leg: a job of that template (with no container: and no services:,
// whose pods depend on the job) claims one instead of creating a pod and
// waiting for the kubelet to start it, and a new idle pod is started in
// its place. A claimed pod runs one leg and is deleted after it, as any
// leg pod: no job ever runs in a pod another job used.
//
// The new idle pod is started once no run of the transport is running
// (its legs ended and it settled), or idleRefillAfter after the claim if
// runs keep going: starting a pod takes the node's CPU (runc, the network
// plugin, the kubelet) for a while, and on a small node it would slow the
// job that just claimed one and the jobs that follow it in the run.
//
// Claiming relabels the pod (LabelIdle removed; LabelRun, LabelAttempt,
// LabelJob and AnnotationLeg set) and sets its activeDeadlineSeconds (a
// pod's deadline may be set once after its creation) with one patch,
// which needs the patch verb on pods (IdleRules). Idle pods carry the
// instance's labels, so Sweep deletes those a killed controller left;
// Close deletes the others.

// LabelIdle marks an idle pod; its value is the template's name in the
// config ("default" or the runs-on label).
const LabelIdle = "runner.birdflock.io/idle"

// IdleRules are what idle pods need beyond Rules: the patch that claims
// one.
var IdleRules = []string{"patch"}

// idleRetry is how long a pool waits after an idle pod failed to start
// before it tries again.
var idleRetry = 10 * time.Second

// oneRunIdleDeadline is the activeDeadlineSeconds of a one-run
// transport's idle pods: GitHub's longest job (6 h) and an hour.
const oneRunIdleDeadline = 7 * time.Hour

// idleRefillAfter is how long after a claim its pool is refilled at the
// latest, when legs keep running.
var idleRefillAfter = 10 * time.Second

// pool keeps the idle pods of one template.
type pool struct {
	t     *Transport
	name  string   // the template's key: "default" or its runs-on label
	leg   []string // the runs-on labels that pick the template
	want  int
	ctx   context.Context
	stop  context.CancelFunc
	wg    sync.WaitGroup
	mu    sync.Mutex
	ready []*corev1.Pod // started, unclaimed pods (as seen started), oldest first
	made  int           // pods being created or started
}

// idleTemplates are how many idle pods the templates want, by
// templateLabel ("" for Default); templates without are left out.
func (c *Config) idleTemplates() map[string]int {
	m := map[string]int{}
	if c.Default.Idle > 0 {
		m[""] = c.Default.Idle
	}
	for l, t := range c.Templates {
		if t.Idle > 0 {
			m[l] = t.Idle
		}
	}
	return m
}

// StartIdle starts the idle pods of the templates that ask for them
// (runner serve calls it once, after Check and Sweep; runner exec, with
// OneRun, before its run). Close deletes them.
func (t *Transport) StartIdle() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.pools != nil {
		return
	}
	t.pools = map[string]*pool{}
	for label, want := range t.Config.idleTemplates() {
		ctx, stop := context.WithCancel(context.Background())
		p := &pool{t: t, name: "default", want: want, ctx: ctx, stop: stop}
		if label != "" {
			p.name, p.leg = label, []string{label}
		}
		t.pools[label] = p
		p.fill()
	}
}

// Close stops refilling the idle pods and deletes those not claimed,
// waiting for their deletion.
func (t *Transport) Close() error {
	t.mu.Lock()
	pools := t.pools
	t.mu.Unlock()
	var first error
	for _, p := range pools {
		p.mu.Lock()
		p.stop() // under mu: no fill adds to wg after this
		p.mu.Unlock()
		p.wg.Wait() // the pods being started are deleted by their fillers
		p.mu.Lock()
		ready := p.ready
		p.ready = nil
		p.mu.Unlock()
		errs := make([]error, len(ready))
		var wg sync.WaitGroup
		for i, idle := range ready {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = t.deletePod(idle.Name)
			}()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil && first == nil {
				first = err
			}
		}
	}
	return first
}

// fill starts pods until the pool has want, counting those starting;
// the ready pods deleted or ended since (prune) do not count.
func (p *pool) fill() {
	if p.ctx.Err() != nil {
		return
	}
	p.prune()
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.ready)+p.made < p.want && p.ctx.Err() == nil {
		p.made++
		p.wg.Add(1)
		go p.start()
	}
}

// prune drops from ready the pods that are no longer there and running
// (deleted by hand, evicted while idle), and deletes them: the pool would
// count them and never replace them. Only pods ready before the list are
// judged by it. A failed list prunes nothing.
func (p *pool) prune() {
	t := p.t
	p.mu.Lock()
	before := map[types.UID]bool{}
	for _, pod := range p.ready {
		before[pod.UID] = true
	}
	p.mu.Unlock()
	if len(before) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(p.ctx, deleteTimeout)
	defer cancel()
	list, err := t.Client.Set.CoreV1().Pods(t.Client.Namespace).List(ctx, metav1.ListOptions{
		LabelSelector: instanceSelector(t.Instance) + "," + LabelIdle + "=" + labelValue(p.name),
	})
	if err != nil {
		return
	}
	alive := map[types.UID]bool{}
	for i := range list.Items {
		if ok, _ := startState(&list.Items[i]); ok {
			alive[list.Items[i].UID] = true
		}
	}
	var dead []*corev1.Pod
	p.mu.Lock()
	ready := p.ready[:0]
	for _, pod := range p.ready {
		if before[pod.UID] && !alive[pod.UID] {
			dead = append(dead, pod)
			continue
		}
		ready = append(ready, pod)
	}
	p.ready = ready
	p.mu.Unlock()
	for _, pod := range dead {
		t.deletePod(pod.Name)
	}
}

// refillLater fills the pool idleRefillAfter from now, or before when no
// run of the transport is left (refillIfQuiet).
func (p *pool) refillLater() {
	if p.t.OneRun {
		return
	}
	time.AfterFunc(idleRefillAfter, p.fill)
}

// legOpened counts a leg of run attached to its pod, until legEnded;
// the run counts as running until its Settle.
func (t *Transport) legOpened(run int) {
	t.mu.Lock()
	t.open++
	if t.running == nil {
		t.running = map[int]bool{}
	}
	t.running[run] = true
	t.mu.Unlock()
}

// legEnded counts a leg's end.
func (t *Transport) legEnded() {
	t.mu.Lock()
	t.open--
	t.refillIfQuiet()
}

// runSettled counts run's end (its Settle).
func (t *Transport) runSettled(run int) {
	t.mu.Lock()
	delete(t.running, run)
	t.refillIfQuiet()
}

// refillIfQuiet, called with t.mu held, releases it and refills the pools
// when no leg and no run is left (never for OneRun). The fill is not on
// the caller's path (a run's Settle): it lists and deletes.
func (t *Transport) refillIfQuiet() {
	var pools []*pool
	if t.open == 0 && len(t.running) == 0 && !t.OneRun {
		for _, p := range t.pools {
			pools = append(pools, p)
		}
	}
	t.mu.Unlock()
	for _, p := range pools {
		go p.fill()
	}
}

// start creates one idle pod and waits for it to run; it retries after
// idleRetry when the pod cannot start (an image that does not pull).
func (p *pool) start() {
	defer p.wg.Done()
	pod, err := p.create()
	p.mu.Lock()
	p.made--
	if err == nil {
		p.ready = append(p.ready, pod)
	}
	p.mu.Unlock()
	if err == nil || p.ctx.Err() != nil {
		return
	}
	p.t.logf("idle pod of template %s: %v (next try in %s)", p.name, err, idleRetry)
	select {
	case <-p.ctx.Done():
	case <-time.After(idleRetry):
		p.fill()
	}
}

// create makes an idle pod and waits until runner in it runs; on error
// no pod is left.
func (p *pool) create() (*corev1.Pod, error) {
	t := p.t
	pod := t.Config.legPod(t.Instance, t.Client.Namespace, Leg{Job: "idle", Labels: p.leg})
	delete(pod.Labels, LabelRun)
	delete(pod.Labels, LabelAttempt)
	delete(pod.Labels, LabelJob)
	pod.Labels[LabelIdle] = labelValue(p.name)
	pod.Annotations = nil
	pod.GenerateName = "runner-idle-"
	if t.OneRun {
		// No later start sweeps a one-run controller's pods: a
		// killed one's idle pods end by themselves.
		d := int64(oneRunIdleDeadline.Seconds())
		pod.Spec.ActiveDeadlineSeconds = &d
	}
	made, err := t.Client.Set.CoreV1().Pods(t.Client.Namespace).Create(p.ctx, pod, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("creating it: %w", err)
	}
	started, err := t.waitStarted(p.ctx, made.Name, 0)
	if err != nil {
		t.deletePod(made.Name)
		return nil, err
	}
	return started, nil
}

// claim takes a started idle pod of leg's template for leg: it labels the
// pod as leg's and sets its deadline. ok is false when the template keeps
// no idle pods, leg's pod depends on the job (container:, services:) or
// none is ready: the caller then creates a pod of its own.
func (t *Transport) claim(ctx context.Context, leg Leg) (pod *corev1.Pod, ok bool) {
	if leg.Container != nil || len(leg.Services) > 0 {
		return nil, false
	}
	t.mu.Lock()
	p := t.pools[t.Config.templateLabel(leg.Labels)]
	t.mu.Unlock()
	if p == nil {
		return nil, false
	}
	defer func() {
		if ok {
			p.refillLater()
		}
	}()
	for {
		p.mu.Lock()
		if len(p.ready) == 0 {
			p.mu.Unlock()
			return nil, false
		}
		idle := p.ready[0]
		deadline := claimDeadline(idle, leg)
		if !fits(idle, deadline) {
			p.mu.Unlock()
			return nil, false
		}
		p.ready = p.ready[1:]
		p.mu.Unlock()
		got, err := t.relabel(ctx, idle, leg, deadline)
		if err == nil && got.DeletionTimestamp == nil {
			if ok, _ := startState(got); ok {
				return got, true
			}
		}
		// Gone, going or ended while idle (evicted, deleted by hand):
		// never used; the next one is tried.
		t.deletePod(idle.Name)
		if ctx.Err() != nil {
			return nil, false
		}
	}
}

// relabel makes the idle pod leg's: its labels and annotation as legPod
// gives them, and its activeDeadlineSeconds (claimDeadline; 0: none).
func (t *Transport) relabel(ctx context.Context, idle *corev1.Pod, leg Leg, deadline int64) (*corev1.Pod, error) {
	name := idle.Name
	pods := t.Client.Set.CoreV1().Pods(t.Client.Namespace)
	labels := map[string]any{LabelIdle: nil}
	for k, v := range legLabels(t.Instance, leg) {
		labels[k] = v
	}
	meta := map[string]any{"labels": labels, "annotations": map[string]any{AnnotationLeg: leg.Key}}
	patch := map[string]any{"metadata": meta}
	if deadline > 0 {
		patch["spec"] = map[string]any{"activeDeadlineSeconds": deadline}
	}
	data, err := json.Marshal(patch)
	if err != nil {
		return nil, err
	}
	got, err := pods.Patch(ctx, name, types.StrategicMergePatchType, data, metav1.PatchOptions{})
	if apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("idle pod %s is gone", name)
	}
	return got, err
}

// claimDeadline is the activeDeadlineSeconds of the idle pod once leg
// claims it: leg's timeout counted from the pod's start (a pod's deadline
// runs from its start, which idle was seen with; 0: none).
func claimDeadline(idle *corev1.Pod, leg Leg) int64 {
	if leg.TimeoutSeconds <= 0 {
		return 0
	}
	secs := leg.TimeoutSeconds
	if st := idle.Status.StartTime; st != nil {
		secs += int64(math.Ceil(time.Since(st.Time).Seconds())) + 1
	}
	return secs
}

// fits reports whether a leg whose claim sets deadline (claimDeadline)
// may claim idle: a pod's deadline may only be lowered, so one with a
// deadline (OneRun) takes only legs that end before it.
func fits(idle *corev1.Pod, deadline int64) bool {
	d := idle.Spec.ActiveDeadlineSeconds
	return d == nil || (deadline > 0 && deadline <= *d)
}

// logf writes to the transport's log, when it has one.
func (t *Transport) logf(format string, args ...any) {
	if t.Logf != nil {
		t.Logf("kubernetes: "+format, args...)
	}
}
