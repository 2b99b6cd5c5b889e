package kube

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/birdflock/runner/pkg/container"
	"github.com/birdflock/runner/pkg/run"
)

// A leg's test-image runs its image as a pod of its own (an image pod),
// pulled by the node's container runtime and probed by the leg over the
// pod network: the leg's pod has no runc and no privilege to run one.
// The controller makes the pod (run.ContainerHost), so the leg's steps
// need no cluster credentials. An image pod carries its leg pod's labels
// (Sweep finds it) and the leg pod as its owner (deleting the leg pod
// deletes it).

// LabelRole marks the pods a leg's steps asked for: "image".
const LabelRole = "runner.birdflock.io/role"

// imageContainer is the container's name in an image pod.
const imageContainer = "image"

// Scratch is the scratch registry (run.LegScratch): the legs' test-image
// archives go through it.
func (l legs) Scratch() (push, pull string, ok bool) { return l.t.Config.scratch() }

// Containers runs the leg's containers (run.ContainerHost): as image
// pods, and those that mount the job's directories (a Docker action's) as
// ephemeral containers of the leg's pod (stepcontainer.go).
func (c *Conn) Containers() container.Runtime { return podRuntime{c} }

type podRuntime struct{ leg *Conn }

// Setup checks spec; the pod or container is made by Start.
func (r podRuntime) Setup(ctx context.Context, spec container.Spec) (container.Container, error) {
	if len(spec.Mounts) > 0 || spec.Workdir != "" {
		return newStepContainer(r.leg, spec)
	}
	switch {
	case len(spec.SecretEnv) > 0:
		return nil, errors.New("kubernetes: an image pod's env is in its spec: it takes no secret")
	case spec.Archive != "":
		return nil, errors.New("kubernetes: an image pod runs an image reference, not an archive")
	case spec.Ref == "":
		return nil, errors.New("kubernetes: an image pod needs an image reference")
	case spec.Entrypoint != nil && len(spec.Entrypoint) == 0:
		return nil, errors.New("kubernetes: an empty entrypoint cannot be given to a pod (it would keep the image's)")
	}
	return &imagePod{leg: r.leg, spec: spec, outcome: newOutcome()}, nil
}

// imagePod is one image pod (a container.Container).
type imagePod struct {
	leg  *Conn
	spec container.Spec
	name string
	ip   string

	outcome

	// mu orders Start's create and Destroy: a container removed before
	// it started makes no pod, one removed while its pod is being made
	// loses it.
	mu      sync.Mutex
	removed bool

	stop    context.CancelFunc
	destroy sync.Once
	derr    error
}

func (p *imagePod) ID() string { return p.name }

// pod is the image pod's object.
func (p *imagePod) pod() *corev1.Pod {
	c := p.leg
	no := false
	grace := int64(1)
	labels := map[string]string{}
	for k, v := range c.labels {
		labels[k] = v
	}
	labels[LabelRole] = "image"
	ct := corev1.Container{Name: imageContainer, Image: p.spec.Ref, ImagePullPolicy: corev1.PullIfNotPresent,
		Command: literals(p.spec.Entrypoint), Args: literals(p.spec.Command), Env: envVars(p.spec.Env)}
	for _, port := range p.spec.Ports {
		ct.Ports = append(ct.Ports, corev1.ContainerPort{ContainerPort: int32(port), Protocol: corev1.ProtocolTCP})
	}
	if m := p.spec.Limits.Memory; m > 0 {
		// memory-limit is a cap, as docker's --memory: a limit without a
		// request would also be the pod's request (the API server
		// defaults one to the other), reserving the whole limit (4g by
		// default) on the node, so that a limit larger than a node's
		// free memory, or a few legs' defaults, never schedule.
		ct.Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: *resource.NewQuantity(m, resource.BinarySI)}
		ct.Resources.Requests = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("0")}
	}
	p2 := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: dnsLabel(c.Pod, 50) + "-image-",
			Namespace:    c.t.Client.Namespace,
			Labels:       labels,
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: "v1", Kind: "Pod", Name: c.Pod, UID: c.uid, BlockOwnerDeletion: &no,
			}},
		},
		Spec: corev1.PodSpec{
			RestartPolicy:                 corev1.RestartPolicyNever,
			TerminationGracePeriodSeconds: &grace,
			AutomountServiceAccountToken:  &no,
			EnableServiceLinks:            &no,
			Containers:                    []corev1.Container{ct},
		},
	}
	// Where the leg's template puts its pods (nodes dedicated to CI, a
	// taint they tolerate), and its service account for the pull
	// (imagePullSecrets), without its token.
	p2.Spec.NodeSelector, p2.Spec.Tolerations = c.where.NodeSelector, c.where.Tolerations
	p2.Spec.ServiceAccountName = c.where.ServiceAccountName
	if !c.deadline.IsZero() {
		// A controller that is gone (runner exec killed) cannot delete
		// the pod, and its owner, the leg's pod, stays once it ended
		// (stdin closed, the leg cancelled): the image pod ends by the
		// leg pod's deadline, not never.
		d := max(int64(time.Until(c.deadline).Seconds()), 1)
		p2.Spec.ActiveDeadlineSeconds = &d
	}
	return p2
}

// Start makes the pod and waits until its container runs (or cannot:
// a pull error, a crash, a pod never scheduled within the executor's
// start-timeout); Ports are then the pod's address.
func (p *imagePod) Start(ctx context.Context) error {
	c := p.leg
	pods := c.t.Client.Set.CoreV1().Pods(c.t.Client.Namespace)
	p.mu.Lock()
	if p.removed {
		p.mu.Unlock()
		return errors.New("kubernetes: the container was removed before it started")
	}
	made, err := pods.Create(ctx, p.pod(), metav1.CreateOptions{})
	if err != nil {
		p.mu.Unlock()
		p.end(-1)
		p.logWriter().Close()
		return fmt.Errorf("kubernetes: creating the image's pod: %w", err)
	}
	p.name = made.Name
	p.mu.Unlock()
	wctx, cancel := context.WithTimeout(ctx, c.t.Config.startTimeout())
	defer cancel()
	var cause error
	got, err := c.t.watchPod(wctx, p.name, func(q *corev1.Pod, gone bool) (bool, error) {
		if gone {
			cause = fmt.Errorf("pod %s was deleted before it ran", p.name)
			return false, cause
		}
		ok, err := imageState(q)
		cause = err
		return ok, err
	})
	if err == nil && got != nil {
		p.ip = got.Status.PodIP
	}
	if err != nil || p.ip == "" {
		// What the container said before it failed belongs in the log.
		p.copyLogs(false)
		p.end(-1)
		switch {
		case cause != nil:
			return fmt.Errorf("kubernetes: %w", cause)
		case ctx.Err() != nil:
			return ctx.Err()
		case wctx.Err() != nil:
			return fmt.Errorf("kubernetes: the image's pod %s did not run within %s: %s", p.name, c.t.Config.startTimeout(), pendingWhy(got))
		case err != nil:
			return fmt.Errorf("kubernetes: watching pod %s: %w", p.name, err)
		}
		return fmt.Errorf("kubernetes: the image's pod %s runs without an address", p.name)
	}
	if c.log != nil {
		c.log(fmt.Sprintf("Running image %s in pod %s/%s on node %s (%s)", p.spec.Ref, c.t.Client.Namespace, p.name, got.Spec.NodeName, p.ip))
	}
	wctx2, stop := context.WithCancel(context.Background())
	p.mu.Lock()
	p.stop = stop
	p.mu.Unlock()
	go p.copyLogs(true)
	go p.watchEnd(wctx2)
	return nil
}

// imageState says whether an image pod's container runs, cannot run, or
// neither yet.
func imageState(q *corev1.Pod) (bool, error) {
	if q.DeletionTimestamp != nil {
		return false, fmt.Errorf("pod %s is being deleted before it ran", q.Name)
	}
	for _, s := range q.Status.ContainerStatuses {
		if s.Name != imageContainer {
			continue
		}
		switch {
		case s.State.Running != nil:
			return true, nil
		case s.State.Terminated != nil:
			t := s.State.Terminated
			return false, fmt.Errorf("pod %s: the image's process exited with code %d (%s) before it answered", q.Name, t.ExitCode, t.Reason)
		case s.State.Waiting != nil && waitingFailures[s.State.Waiting.Reason]:
			return false, fmt.Errorf("pod %s: %s: %s", q.Name, s.State.Waiting.Reason, strings.TrimSpace(s.State.Waiting.Message))
		}
	}
	if q.Status.Phase == corev1.PodFailed {
		return false, fmt.Errorf("pod %s failed: %s: %s", q.Name, q.Status.Reason, strings.TrimSpace(q.Status.Message))
	}
	return false, nil
}

// copyLogs copies the container's log into Logs, following it until the
// container ends when follow is set, and then closes Logs.
func (p *imagePod) copyLogs(follow bool) {
	w := p.logWriter()
	defer w.Close()
	if p.name == "" {
		return
	}
	c := p.leg
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if !follow {
		ctx, cancel = context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
	}
	rc, err := c.t.Client.Set.CoreV1().Pods(c.t.Client.Namespace).GetLogs(p.name, &corev1.PodLogOptions{Container: imageContainer, Follow: follow}).Stream(ctx)
	if err != nil {
		return
	}
	defer rc.Close()
	_, _ = io.Copy(w, rc)
}

// watchEnd waits for the container's end (or the pod's) and records its
// exit code.
func (p *imagePod) watchEnd(ctx context.Context) {
	code := -1
	_, _ = p.leg.t.watchPod(ctx, p.name, func(q *corev1.Pod, gone bool) (bool, error) {
		if gone {
			return true, nil
		}
		for _, s := range q.Status.ContainerStatuses {
			if s.Name == imageContainer && s.State.Terminated != nil {
				code = int(s.State.Terminated.ExitCode)
				return true, nil
			}
		}
		return q.Status.Phase == corev1.PodFailed, nil
	})
	if ctx.Err() == nil {
		p.end(code)
	}
}

// Ports are the pod's address at each of Spec.Ports.
func (p *imagePod) Ports() map[int]string {
	out := map[int]string{}
	for _, port := range p.spec.Ports {
		out[port] = net.JoinHostPort(p.ip, strconv.Itoa(port))
	}
	return out
}

// Destroy deletes the pod and waits until it is gone.
func (p *imagePod) Destroy(ctx context.Context) error {
	p.destroy.Do(func() {
		p.mu.Lock()
		p.removed = true
		stop, name := p.stop, p.name
		p.mu.Unlock()
		if stop != nil {
			defer stop()
		}
		if name == "" {
			p.logWriter().Close()
			p.end(-1)
			return
		}
		c := p.leg
		zero := int64(0)
		bg := metav1.DeletePropagationBackground
		err := c.t.Client.Set.CoreV1().Pods(c.t.Client.Namespace).Delete(ctx, p.name, metav1.DeleteOptions{GracePeriodSeconds: &zero, PropagationPolicy: &bg})
		if err != nil && !apierrors.IsNotFound(err) {
			p.derr = fmt.Errorf("kubernetes: deleting the image's pod %s: %w", p.name, err)
			return
		}
		if _, err := c.t.watchPod(ctx, p.name, func(_ *corev1.Pod, gone bool) (bool, error) { return gone, nil }); err != nil {
			p.derr = fmt.Errorf("kubernetes: the image's pod %s is still there after its deletion: %w", p.name, err)
		}
		p.end(-1)
	})
	return p.derr
}

var _ run.ContainerHost = (*Conn)(nil)
var _ run.LegScratch = legs{}
