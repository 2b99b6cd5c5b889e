package kube

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/birdflock/runner/pkg/container"
)

// A Docker action's container (a container.Spec with Mounts) runs in the
// leg's own pod, as an ephemeral container (the pods/ephemeralcontainers
// subresource): it mounts the pod's work volumes (workVolumes) where
// GitHub mounts the job's directories (/github/workspace, …), shares the
// pod's network (the services on localhost), and joins the leg
// container's process namespace (targetContainerName), so that the leg
// stops its processes on a cancel or a timeout: a pod cannot stop one of
// its ephemeral containers, nor remove it. The image is pulled by the
// node. Each step's is a new one (step-1, step-2, …); it ends with its
// process, and with the pod.

// WorkDir is where a leg's pod holds the job's work directories
// (run.LegWorkDir).
func (l legs) WorkDir() string { return workDir }

// stepContainer is one ephemeral container of the leg's pod.
type stepContainer struct {
	leg    *Conn
	spec   container.Spec
	mounts []corev1.VolumeMount
	name   string
	cid    string // the runtime's id ("containerd://…"), once it runs
	secret string // the Secret of spec.SecretEnv, until the container runs

	outcome
	mu      sync.Mutex
	stop    context.CancelFunc // ends the log and end watches, once it runs
	started bool               // the pod has it
	removed bool               // Destroy was called
	late    chan string        // Late
	destroy sync.Once
	derr    error
}

// stepSeq numbers a pod's ephemeral containers.
var stepSeq atomic.Int64

// newStepContainer checks spec: each mount's source is one of the pod's
// work volumes.
func newStepContainer(c *Conn, spec container.Spec) (*stepContainer, error) {
	switch {
	case spec.Archive != "":
		return nil, errors.New("kubernetes: a step's container runs an image reference, not an archive")
	case spec.Ref == "":
		return nil, errors.New("kubernetes: a step's container needs an image reference")
	case spec.Entrypoint != nil && len(spec.Entrypoint) == 0:
		return nil, errors.New("kubernetes: an empty entrypoint cannot be given to a container (it would keep the image's)")
	case len(spec.Ports) > 0:
		return nil, errors.New("kubernetes: a step's container in the job's pod publishes no port (it shares the pod's network)")
	}
	s := &stepContainer{leg: c, spec: spec, outcome: newOutcome(), late: make(chan string, 1)}
	for _, m := range spec.Mounts {
		name := ""
		for _, v := range workVolumes {
			if path.Clean(m.Source) == path.Join(workDir, v.dir) {
				name = v.name
			}
		}
		if name == "" {
			return nil, fmt.Errorf("kubernetes: a step's container mounts only the pod's work directories (%s/…), not %s", workDir, m.Source)
		}
		s.mounts = append(s.mounts, corev1.VolumeMount{Name: name, MountPath: m.Target, ReadOnly: m.ReadOnly})
	}
	return s, nil
}

func (s *stepContainer) ID() string { return s.leg.Pod + "/" + s.name }

// RuntimeID is the container runtime's id of the running container
// ("containerd://…"): the leg finds its processes by it.
func (s *stepContainer) RuntimeID() string { return s.cid }

// ephemeral is the container's object.
func (s *stepContainer) ephemeral() corev1.EphemeralContainer {
	ec := corev1.EphemeralContainer{
		EphemeralContainerCommon: corev1.EphemeralContainerCommon{
			Name: s.name, Image: s.spec.Ref, ImagePullPolicy: corev1.PullIfNotPresent,
			Command: literals(s.spec.Entrypoint), Args: literals(s.spec.Command), WorkingDir: s.spec.Workdir,
			Env: envVars(s.spec.Env), VolumeMounts: s.mounts,
		},
		TargetContainerName: containerName,
	}
	for i, name := range s.spec.SecretArgs {
		if i >= 0 && i < len(ec.Args) {
			ec.Args[i] = "$(" + name + ")" // the kubelet puts in the env's value
		}
	}
	for i, e := range s.spec.SecretEnv {
		k, _, _ := strings.Cut(e, "=")
		ec.Env = append(ec.Env, corev1.EnvVar{Name: k, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: s.secret}, Key: "e" + strconv.Itoa(i),
		}}})
	}
	return ec
}

// createSecret makes the Secret of the container's SecretEnv, owned by
// the leg's pod, if it has any: the spec refers to it, and it goes once
// the container runs (its env is fixed then).
func (s *stepContainer) createSecret(ctx context.Context) error {
	if len(s.spec.SecretEnv) == 0 {
		return nil
	}
	c := s.leg
	no := false
	data := map[string][]byte{}
	for i, e := range s.spec.SecretEnv {
		_, v, _ := strings.Cut(e, "=")
		data["e"+strconv.Itoa(i)] = []byte(v)
	}
	made, err := c.t.Client.Set.CoreV1().Secrets(c.t.Client.Namespace).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: dnsLabel(c.Pod, 50) + "-" + s.name + "-",
			Labels:       c.labels,
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: "v1", Kind: "Pod", Name: c.Pod, UID: c.uid, BlockOwnerDeletion: &no,
			}},
		},
		Type: corev1.SecretTypeOpaque,
		Data: data,
	}, metav1.CreateOptions{})
	if apierrors.IsForbidden(err) {
		return fmt.Errorf("kubernetes: the Docker action's env holds secrets, which go to its container through a Secret, and the executor may not create one in namespace %s (grant %s on secrets)", c.t.Client.Namespace, strings.Join(SecretRules, ", "))
	}
	if err != nil {
		return fmt.Errorf("kubernetes: creating the Secret of the step's env: %w", err)
	}
	s.secret = made.Name
	return nil
}

// Start adds the container to the leg's pod and waits until it runs or
// ran (or cannot: a pull error, the executor's start-timeout).
func (s *stepContainer) Start(ctx context.Context) error {
	c := s.leg
	s.mu.Lock()
	if s.removed {
		s.mu.Unlock()
		s.failEarly()
		return errors.New("kubernetes: the container was removed before it started")
	}
	s.name = "step-" + strconv.FormatInt(stepSeq.Add(1), 10)
	s.mu.Unlock()
	if err := s.createSecret(ctx); err != nil {
		s.failEarly()
		return err
	}
	// The container's env is fixed once it runs (or cannot).
	defer func() {
		if err := c.t.deleteSecret(s.secret); err != nil && c.log != nil {
			c.log("Warning: " + err.Error())
		}
	}()
	patch, err := json.Marshal(map[string]any{"spec": map[string]any{"ephemeralContainers": []corev1.EphemeralContainer{s.ephemeral()}}})
	if err != nil {
		s.failEarly()
		return err
	}
	pods := c.t.Client.Set.CoreV1().Pods(c.t.Client.Namespace)
	s.mu.Lock()
	if s.removed {
		s.mu.Unlock()
		s.failEarly()
		return errors.New("kubernetes: the container was removed before it started")
	}
	_, err = pods.Patch(ctx, c.Pod, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "ephemeralcontainers")
	if err != nil {
		s.mu.Unlock()
		s.failEarly()
		if apierrors.IsForbidden(err) {
			return fmt.Errorf("kubernetes: a Docker action runs as an ephemeral container of the job's pod, and %s may not add one (grant patch on pods/ephemeralcontainers): %w", c.t.Client.who(), err)
		}
		return fmt.Errorf("kubernetes: adding the step's container to pod %s: %w", c.Pod, err)
	}
	s.started = true
	s.mu.Unlock()
	wctx, cancel := context.WithTimeout(ctx, c.t.Config.startTimeout())
	defer cancel()
	var cause error
	got, err := c.t.watchPod(wctx, c.Pod, func(q *corev1.Pod, gone bool) (bool, error) {
		switch {
		case gone:
			cause = fmt.Errorf("pod %s was deleted before the step's container ran", c.Pod)
		case q.DeletionTimestamp != nil:
			cause = fmt.Errorf("pod %s is being deleted before the step's container ran", c.Pod)
		case q.Status.Phase == corev1.PodFailed || q.Status.Phase == corev1.PodSucceeded:
			cause = fmt.Errorf("pod %s ended (%s: %s) before the step's container ran", c.Pod, q.Status.Phase, strings.TrimSpace(q.Status.Reason+" "+q.Status.Message))
		}
		if cause != nil {
			return false, cause
		}
		st := s.status(q)
		switch {
		case st == nil:
			return false, nil
		case st.State.Running != nil || st.State.Terminated != nil:
			return true, nil
		case st.State.Waiting != nil && waitingFailures[st.State.Waiting.Reason]:
			cause = fmt.Errorf("pod %s: container %s: %s: %s", c.Pod, s.name, st.State.Waiting.Reason, strings.TrimSpace(st.State.Waiting.Message))
			return false, cause
		}
		return false, nil
	})
	if err != nil {
		s.fail()
		// The kubelet may still start it (a pull that succeeds on a
		// retry, a slow one): whoever asked for it hears of it (Late).
		go s.watchLate()
		switch {
		case cause != nil:
			return fmt.Errorf("kubernetes: %w", cause)
		case ctx.Err() != nil:
			return ctx.Err()
		case wctx.Err() != nil:
			return fmt.Errorf("kubernetes: the step's container %s did not run within %s", s.name, c.t.Config.startTimeout())
		}
		return fmt.Errorf("kubernetes: watching pod %s: %w", c.Pod, err)
	}
	s.cid = s.status(got).ContainerID
	if c.log != nil {
		c.log(fmt.Sprintf("Running image %s as container %s of pod %s/%s", s.spec.Ref, s.name, c.t.Client.Namespace, c.Pod))
	}
	wctx2, stop := context.WithCancel(context.Background())
	s.mu.Lock()
	s.stop = stop
	s.mu.Unlock()
	go s.copyLogs()
	go s.watchEnd(wctx2)
	return nil
}

// Late gives the runtime id of a container whose Start failed and that
// runs after all, then is closed (closed at once for none): a pod cannot
// stop it, the leg can (run's container-late frame).
func (s *stepContainer) Late() <-chan string { return s.late }

// watchLate watches a container whose Start failed until it runs (its
// runtime id goes to Late), ends, or its pod is gone.
func (s *stepContainer) watchLate() {
	defer close(s.late)
	cid := ""
	_, _ = s.leg.t.watchPod(context.Background(), s.leg.Pod, func(q *corev1.Pod, gone bool) (bool, error) {
		if gone || q.DeletionTimestamp != nil || q.Status.Phase == corev1.PodFailed || q.Status.Phase == corev1.PodSucceeded {
			return true, nil
		}
		st := s.status(q)
		switch {
		case st == nil:
			return false, nil
		case st.State.Running != nil:
			cid = st.ContainerID
			return true, nil
		}
		return st.State.Terminated != nil, nil
	})
	if cid != "" {
		s.late <- cid
	}
}

// failEarly ends a container that the pod never had: nothing runs late.
func (s *stepContainer) failEarly() {
	s.fail()
	close(s.late)
}

// fail ends a container that never ran.
func (s *stepContainer) fail() {
	s.end(-1)
	s.logWriter().Close()
}

// status is the container's in q, nil before there is one.
func (s *stepContainer) status(q *corev1.Pod) *corev1.ContainerStatus {
	for i := range q.Status.EphemeralContainerStatuses {
		if st := &q.Status.EphemeralContainerStatuses[i]; st.Name == s.name {
			return st
		}
	}
	return nil
}

// copyLogs follows the container's log into Logs until it ends.
func (s *stepContainer) copyLogs() {
	w := s.logWriter()
	defer w.Close()
	c := s.leg
	rc, err := c.t.Client.Set.CoreV1().Pods(c.t.Client.Namespace).GetLogs(c.Pod, &corev1.PodLogOptions{Container: s.name, Follow: true}).Stream(context.Background())
	if err != nil {
		_, _ = fmt.Fprintf(w, "(the container's log: %v)\n", err)
		return
	}
	defer rc.Close()
	_, _ = io.Copy(w, rc)
}

// watchEnd waits for the container's end (or the pod's) and records its
// exit code.
func (s *stepContainer) watchEnd(ctx context.Context) {
	code := -1
	_, _ = s.leg.t.watchPod(ctx, s.leg.Pod, func(q *corev1.Pod, gone bool) (bool, error) {
		if gone {
			return true, nil
		}
		if st := s.status(q); st != nil && st.State.Terminated != nil {
			t := st.State.Terminated
			code = int(t.ExitCode)
			if t.Reason != "Completed" && t.Reason != "Error" && s.leg.log != nil {
				// The runtime's own failure (StartError: no such
				// entrypoint), which the process's output cannot say.
				s.leg.log(fmt.Sprintf("Container %s: %s: %s", s.name, t.Reason, strings.TrimSpace(t.Message)))
			}
			return true, nil
		}
		return q.Status.Phase == corev1.PodFailed || q.Status.Phase == corev1.PodSucceeded, nil
	})
	if ctx.Err() == nil {
		s.end(code)
	}
}

// Ports: none (the container shares the pod's network).
func (s *stepContainer) Ports() map[int]string { return map[int]string{} }

// stepStopWait bounds Destroy's wait for a container still running: the
// leg stops its processes before it asks for the removal.
const stepStopWait = 15 * time.Second

// Destroy waits for the end of a running container: a pod can neither
// stop nor remove an ephemeral container (the leg, in its process
// namespace, stops its processes before it asks for this). One still
// running after stepStopWait is an error; it ends with the pod. One not
// running yet is not waited for: it is marked removed (a Start still to
// patch makes none), and one that runs after all is said by Late.
func (s *stepContainer) Destroy(ctx context.Context) error {
	s.destroy.Do(func() {
		s.mu.Lock()
		s.removed = true
		stop := s.stop
		s.mu.Unlock()
		if stop == nil {
			return
		}
		defer stop()
		wctx, cancel := context.WithTimeout(ctx, stepStopWait)
		defer cancel()
		select {
		case <-s.done:
		case <-wctx.Done():
			s.derr = fmt.Errorf("kubernetes: the step's container %s of pod %s still runs (a pod cannot stop an ephemeral container): it ends with the pod", s.name, s.leg.Pod)
		}
		s.end(-1)
	})
	return s.derr
}
