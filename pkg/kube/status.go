package kube

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// waitingFailures are container waiting reasons that do not resolve by
// waiting: the leg fails with the kubelet's message.
var waitingFailures = map[string]bool{
	"ErrImagePull":               true,
	"ImagePullBackOff":           true,
	"InvalidImageName":           true,
	"ErrImageNeverPull":          true,
	"CreateContainerConfigError": true,
	"CreateContainerError":       true,
	"RunContainerError":          true,
	"CrashLoopBackOff":           true,
}

// legContainer is the status of a pod's leg container; nil before the
// kubelet reports one.
func legContainer(p *corev1.Pod) *corev1.ContainerStatus {
	for i := range p.Status.ContainerStatuses {
		if p.Status.ContainerStatuses[i].Name == containerName {
			return &p.Status.ContainerStatuses[i]
		}
	}
	return nil
}

// startState says whether a pod's leg container runs (ready), cannot run
// (err: why, in words a job log can show) or neither yet.
func startState(p *corev1.Pod) (ready bool, err error) {
	if p.DeletionTimestamp != nil {
		return false, fmt.Errorf("pod %s is being deleted before it ran", p.Name)
	}
	switch p.Status.Phase {
	case corev1.PodFailed, corev1.PodSucceeded:
		return false, endReason(p)
	}
	// A service container (svc-*) that cannot start or that ended fails
	// the leg before it starts.
	for _, s := range p.Status.ContainerStatuses {
		if !strings.HasPrefix(s.Name, "svc-") {
			continue
		}
		switch {
		case s.State.Waiting != nil && waitingFailures[s.State.Waiting.Reason]:
			return false, fmt.Errorf("pod %s: service container %s: %s: %s", p.Name, s.Name, s.State.Waiting.Reason, strings.TrimSpace(s.State.Waiting.Message))
		case s.State.Terminated != nil:
			return false, fmt.Errorf("pod %s: service container %s exited with code %d (%s) before the job started", p.Name, s.Name, s.State.Terminated.ExitCode, s.State.Terminated.Reason)
		}
	}
	cs := legContainer(p)
	if cs == nil {
		return false, nil
	}
	switch {
	case cs.State.Running != nil && len(p.Spec.Containers) > 1:
		// Services: the leg starts once each is ready (its health
		// command passed, or it runs when it has none).
		return podReady(p), nil
	case cs.State.Running != nil:
		return true, nil
	case cs.State.Terminated != nil:
		return false, endReason(p)
	case cs.State.Waiting != nil && waitingFailures[cs.State.Waiting.Reason]:
		w := cs.State.Waiting
		return false, fmt.Errorf("pod %s: %s: %s", p.Name, w.Reason, strings.TrimSpace(w.Message))
	}
	return false, nil
}

// pendingWhy is why a pod has not started yet, for the timeout's error:
// the scheduler's or the kubelet's latest word.
func pendingWhy(p *corev1.Pod) string {
	if p == nil {
		return "no status yet"
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status != corev1.ConditionTrue {
			return fmt.Sprintf("not scheduled: %s: %s", c.Reason, c.Message)
		}
	}
	if cs := legContainer(p); cs != nil && cs.State.Waiting != nil {
		return fmt.Sprintf("%s: %s", cs.State.Waiting.Reason, cs.State.Waiting.Message)
	}
	return "phase " + string(p.Status.Phase)
}

// endReason is why a pod's leg ended, nil when runner in it exited 0:
// OOMKilled, evicted, past its deadline, a non-zero exit.
func endReason(p *corev1.Pod) error {
	cs := legContainer(p)
	var t *corev1.ContainerStateTerminated
	if cs != nil {
		t = cs.State.Terminated
	}
	switch {
	case t != nil && t.Reason == "OOMKilled":
		limit := ""
		for _, c := range p.Spec.Containers {
			if m, ok := c.Resources.Limits[corev1.ResourceMemory]; ok && c.Name == containerName {
				limit = " (limit " + m.String() + ")"
			}
		}
		return fmt.Errorf("pod %s was killed for lack of memory: OOMKilled%s", p.Name, limit)
	case p.Status.Phase == corev1.PodFailed && p.Status.Reason != "":
		// Evicted, DeadlineExceeded, NodeLost, Shutdown, ...
		return fmt.Errorf("pod %s failed: %s: %s", p.Name, p.Status.Reason, strings.TrimSpace(p.Status.Message))
	case t != nil && t.ExitCode != 0:
		msg := strings.TrimSpace(t.Message)
		if msg == "" {
			msg = t.Reason
		}
		return fmt.Errorf("pod %s: runner exited with code %d: %s", p.Name, t.ExitCode, msg)
	case t != nil:
		return nil
	case p.Status.Phase == corev1.PodFailed:
		return fmt.Errorf("pod %s failed: %s", p.Name, strings.TrimSpace(p.Status.Message))
	}
	return nil
}

// ended says whether a pod's leg is over.
func ended(p *corev1.Pod) bool {
	if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
		return true
	}
	cs := legContainer(p)
	return cs != nil && cs.State.Terminated != nil
}

// podReady reports the pod's Ready condition: every container ready.
func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// unready names a pod's service containers that are not ready.
func unready(p *corev1.Pod) []string {
	var out []string
	if p == nil {
		return out
	}
	for _, s := range p.Status.ContainerStatuses {
		if strings.HasPrefix(s.Name, "svc-") && !s.Ready {
			out = append(out, s.Name)
		}
	}
	return out
}
