package kubetest

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Stop takes the cluster down: the controller-manager and the scheduler
// first (nothing recreates pods), then every pod is deleted and the
// kubelet given time to tear each down (containers, network namespace,
// volumes), then the kubelet, containerd, the apiserver and etcd stop, and
// whatever is still left is swept (Swept lists it): processes, mounts,
// cgroups, the bridge; the sysctls are restored and the directory
// removed. It is safe to call more than once.
func (c *Cluster) Stop() error {
	c.stopOnce.Do(func() { c.stopErr = c.stop() })
	return c.stopErr
}

func (c *Cluster) stop() error {
	c.stopped.Store(true)
	begin := time.Now()
	for _, name := range []string{"kube-controller-manager", "kube-scheduler"} {
		if p := c.proc(name); p != nil {
			p.stop(10 * time.Second)
		}
	}
	if kubelet := c.proc("kubelet"); kubelet != nil && !kubelet.exited() && c.Client != nil {
		if err := c.deletePods(); err != nil {
			c.logf("deleting the pods: %v", err)
		}
	}
	// kube-proxy removes its rules once no pod needs them.
	c.stopProxy()
	names := []string{"coredns"}
	for _, n := range c.Nodes {
		names = append(names, n.procName("kubelet"))
	}
	for _, n := range c.Nodes {
		names = append(names, n.procName("containerd"))
	}
	for _, name := range append(names, "kube-apiserver", "etcd") {
		if p := c.proc(name); p != nil {
			p.stop(15 * time.Second)
		}
	}
	for _, n := range c.Nodes {
		// The kubelet makes its root directory a shared bind mount of
		// itself and leaves it when it exits. Only that one: volume
		// mounts it left below are for the sweep to report.
		root := filepath.Join(n.dir, "kubelet")
		if mps := mountsUnder(root); len(mps) == 1 && mps[0] == root {
			_ = unix.Unmount(root, 0)
		}
	}
	c.fwdMu.Lock()
	for _, f := range c.forwarders {
		f.close()
	}
	c.forwarders = nil
	c.fwdMu.Unlock()
	if c.reg != nil {
		c.reg.Close()
	}
	if c.private != nil {
		c.private.Close()
	}
	var err error
	if c.state != nil {
		c.Swept, err = sweep(c.state)
		if len(c.Swept) > 0 {
			c.logf("swept: %s", strings.Join(c.Swept, ", "))
		}
	}
	if c.lock != nil {
		if c.unlocking != nil {
			c.unlocking()
		}
		c.lock.Close()
	}
	c.logf("stopped in %s", time.Since(begin).Round(time.Millisecond))
	if err != nil {
		return fmt.Errorf("kubetest: stop: %w", err)
	}
	return nil
}

// deletePods deletes every pod with a short grace period and waits until
// the kubelet has confirmed each gone (the apiserver keeps a pod with a
// grace period until its kubelet has stopped its containers and unmounted
// its volumes), then until containerd's shims have exited (the sandboxes
// stopped, their network namespaces removed).
func (c *Cluster) deletePods() error {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	grace := int64(1)
	nss, err := c.Client.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	for _, ns := range nss.Items {
		err := c.Client.CoreV1().Pods(ns.Name).DeleteCollection(ctx,
			metav1.DeleteOptions{GracePeriodSeconds: &grace}, metav1.ListOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	if err := c.waitFor(ctx, c.proc("kubelet"), 80*time.Second, "pods deleted", func(ctx context.Context) error {
		pods, err := c.Client.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		if n := len(pods.Items); n > 0 {
			return fmt.Errorf("%d pods left (%s/%s)", n, pods.Items[0].Namespace, pods.Items[0].Name)
		}
		return nil
	}); err != nil {
		return err
	}
	// A pod that had ended is deleted at once; its kubelet unmounts its
	// volumes afterwards (housekeeping, every 2 s).
	if err := c.waitFor(ctx, nil, 30*time.Second, "pod volumes unmounted", func(context.Context) error {
		for _, n := range c.Nodes {
			if mps := mountsUnder(filepath.Join(n.dir, "kubelet", "pods")); len(mps) > 0 {
				return fmt.Errorf("%d mounts left, %s", len(mps), mps[0])
			}
		}
		return nil
	}); err != nil {
		return err
	}
	return c.waitFor(ctx, c.proc("kubelet"), 30*time.Second, "containerd shims exited", func(context.Context) error {
		for _, pid := range processesNaming(c.Dir) {
			if comm(pid) != "containerd" && !isComponent(c, pid) {
				return fmt.Errorf("process %d (%s) still running", pid, comm(pid))
			}
		}
		return nil
	})
}

func isComponent(c *Cluster, pid int) bool {
	for _, p := range c.procs {
		if p.cmd.Process.Pid == pid {
			return true
		}
	}
	return false
}
