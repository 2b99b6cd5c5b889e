package kubetest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/birdflock/runner/pkg/testenv"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

// runPod runs a pod of one busybox container with the given shell script
// to completion and returns its phase and log.
func runPod(t *testing.T, c *Cluster, ns, script string) (*corev1.Pod, string) {
	t.Helper()
	return runPodImage(t, c, ns, c.BusyboxImage, script)
}

func runPodImage(t *testing.T, c *Cluster, ns, image, script string) (*corev1.Pod, string) {
	t.Helper()
	return runPodOn(t, c, ns, "", image, script)
}

// runPodOn runs the pod on the named node ("": where the scheduler puts it).
func runPodOn(t *testing.T, c *Cluster, ns, node, image, script string) (*corev1.Pod, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	begin := time.Now()
	pod, err := c.Client.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "busybox-"},
		Spec: corev1.PodSpec{
			NodeName: node, RestartPolicy: corev1.RestartPolicyNever,
			Containers: []corev1.Container{{
				Name: "main", Image: image, ImagePullPolicy: corev1.PullAlways,
				Command: []string{"sh", "-c", script},
			}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for {
		if pod, err = c.Client.CoreV1().Pods(ns).Get(ctx, pod.Name, metav1.GetOptions{}); err != nil {
			t.Fatal(err)
		}
		if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("pod %s still %s: %+v", pod.Name, pod.Status.Phase, pod.Status)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("pod %s: %s after %s", pod.Name, pod.Status.Phase, time.Since(begin).Round(time.Millisecond))
	logs, err := c.Client.CoreV1().Pods(ns).GetLogs(pod.Name, &corev1.PodLogOptions{Container: "main"}).DoRaw(ctx)
	if err != nil {
		t.Fatalf("logs of %s: %v", pod.Name, err)
	}
	return pod, string(logs)
}

func TestNodeReadyAndPodRunsFromLoopbackRegistry(t *testing.T) {
	c := Shared(t)
	t.Logf("cluster up, node Ready after %s", c.Ready.Round(time.Millisecond))
	node, err := c.Client.CoreV1().Nodes().Get(context.Background(), c.NodeName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ready := false
	for _, cond := range node.Status.Conditions {
		ready = ready || (cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue)
	}
	if !ready {
		t.Fatalf("node %s not Ready: %+v", c.NodeName, node.Status.Conditions)
	}

	ns := c.Namespace(t)
	pod, logs := runPod(t, c, ns, `echo "hello from $(hostname)"; cat /etc/os-release 2>/dev/null | head -1; busybox | head -1`)
	if pod.Status.Phase != corev1.PodSucceeded {
		t.Fatalf("pod %s: %s, log:\n%s", pod.Name, pod.Status.Phase, logs)
	}
	if want := "hello from " + pod.Name; !strings.Contains(logs, want) {
		t.Errorf("log %q lacks %q", logs, want)
	}
	if !strings.Contains(logs, "BusyBox") {
		t.Errorf("log %q: not Debian's busybox", logs)
	}
	// The node's containerd pulled it from the loopback registry.
	st := pod.Status.ContainerStatuses
	if len(st) != 1 || !strings.HasPrefix(st[0].ImageID, c.RegistryAddr+"/library/busybox@sha256:") {
		t.Errorf("image id %+v: want one pulled from %s", st, c.RegistryAddr)
	}
	if pod.Spec.NodeName != c.NodeName {
		t.Errorf("pod ran on %q", pod.Spec.NodeName)
	}
	if ip := net.ParseIP(pod.Status.PodIP); ip == nil || !c.PodSubnet.Contains(ip) {
		t.Errorf("pod IP %q not in %s", pod.Status.PodIP, c.PodSubnet)
	}

	logRSS(t, c)

	// docker.io names come from the loopback registry.
	pod, logs = runPodImage(t, c, ns, "alpine", `echo from docker.io`)
	if pod.Status.Phase != corev1.PodSucceeded || logs != "from docker.io\n" {
		t.Errorf("alpine pod: %s %q", pod.Status.Phase, logs)
	}

	// A pod that fails is reported as Failed with its exit code.
	pod, _ = runPod(t, c, ns, `exit 3`)
	if pod.Status.Phase != corev1.PodFailed || pod.Status.ContainerStatuses[0].State.Terminated.ExitCode != 3 {
		t.Errorf("failing pod: %s %+v", pod.Status.Phase, pod.Status.ContainerStatuses)
	}
}

// TestPodReachesGateway: a server the test listens on at the bridge's
// gateway address answers a pod (how pods reach `runner serve`).
func TestPodReachesGateway(t *testing.T) {
	c := Shared(t)
	ln, err := net.Listen("tcp", net.JoinHostPort(c.GatewayIP.String(), "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan string, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			got <- err.Error()
			return
		}
		defer conn.Close()
		line, _ := bufio.NewReader(conn).ReadString('\n')
		got <- strings.TrimSpace(line) + " from " + conn.RemoteAddr().(*net.TCPAddr).IP.String()
		fmt.Fprintf(conn, "pong %s\n", strings.TrimSpace(line))
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	pod, logs := runPod(t, c, c.Namespace(t),
		fmt.Sprintf(`echo "ping $(hostname)" | nc -w 10 %s %d`, c.GatewayIP, port))
	if pod.Status.Phase != corev1.PodSucceeded {
		t.Fatalf("pod %s: %s, log:\n%s", pod.Name, pod.Status.Phase, logs)
	}
	select {
	case g := <-got:
		if want := "ping " + pod.Name + " from " + pod.Status.PodIP; g != want {
			t.Errorf("server got %q, want %q", g, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the server got no connection")
	}
	if want := "pong ping " + pod.Name; strings.TrimSpace(logs) != want {
		t.Errorf("pod log %q, want %q", logs, want)
	}
}

// stopShared stops the package's shared cluster (a later Shared starts a
// new one): the tests below need the machine's only cluster for their own.
func stopShared(t *testing.T) {
	shared.Lock()
	defer shared.Unlock()
	if shared.c != nil {
		if err := shared.c.Stop(); err != nil {
			t.Fatal(err)
		}
	}
	shared.c, shared.err, shared.started = nil, nil, false
}

func ownCluster(t *testing.T) *Cluster {
	t.Helper()
	return ownClusterOf(t, Options{})
}

func ownClusterOf(t *testing.T, o Options) *Cluster {
	t.Helper()
	if err := Check(""); err != nil {
		testenv.Missing(t, "a Kubernetes cluster: %v", err)
	}
	stopShared(t)
	var log testenv.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	o.Log = &log
	c, err := Start(ctx, o)
	if m := (*MissingError)(nil); errors.As(err, &m) {
		testenv.Missing(t, "a Kubernetes cluster: %v", err)
	}
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Error(err)
		}
		if t.Failed() {
			t.Log(log.String())
		}
	})
	return c
}

// TestTeardownLeavesNothing: after Stop of a cluster that ran pods (with
// a service-account token volume, a network namespace, cgroups), the host
// is as before: no process, mount, network namespace, cgroup, bridge,
// iptables rule or changed sysctl; and the graceful steps did it, not the
// final sweep.
func TestTeardownLeavesNothing(t *testing.T) {
	if err := Check(""); err != nil {
		testenv.Missing(t, "a Kubernetes cluster: %v", err)
	}
	stopShared(t)
	var before, after hostSnapshot
	c := ownClusterOf(t, Options{
		Proxy: true, DNS: true,
		locked:    func() { before = snapshotHost(t, "") },
		unlocking: func() { after = snapshotHost(t, "") },
	})
	ns := c.Namespace(t)
	checkServicesRoute(t, c, ns)
	pod, logs := runPod(t, c, ns, `ls /var/run/secrets/kubernetes.io/serviceaccount/token && echo ok`)
	if pod.Status.Phase != corev1.PodSucceeded {
		t.Fatalf("pod: %s\n%s", pod.Status.Phase, logs)
	}
	// A pod still running when Stop comes, and one that ignores SIGTERM.
	if _, err := c.Client.CoreV1().Pods(ns).Create(context.Background(), &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "sleeper"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "main", Image: c.BusyboxImage, Command: []string{"sleep", "3600"},
		}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, time.Minute, func() bool {
		p, err := c.Client.CoreV1().Pods(ns).Get(context.Background(), "sleeper", metav1.GetOptions{})
		return err == nil && p.Status.Phase == corev1.PodRunning
	}, "pod sleeper not running")
	during := snapshotHost(t, c.Dir)
	if len(during.processes) <= len(before.processes) || len(during.cgroups) == 0 || len(during.links) < 2 ||
		!slices.Contains(during.nftables, "table ip kube-proxy") {
		t.Fatalf("the snapshot does not see the running cluster: %+v", during)
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if left := leftover(before, after); len(left) > 0 {
		t.Errorf("left behind:\n%s", strings.Join(left, "\n"))
	}
	if _, err := os.Stat(c.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s not removed: %v", c.Dir, err)
	}
	for _, s := range c.Swept {
		if strings.HasPrefix(s, "process") || strings.HasPrefix(s, "mount") || strings.HasPrefix(s, "nftables") {
			t.Errorf("the graceful teardown left %s (the sweep removed it)", s)
		}
	}
	t.Logf("swept after the graceful steps: %s", strings.Join(c.Swept, ", "))
}

// TestKilledRunIsSwept: a cluster whose test process died (its components
// killed, nothing stopped or restored) is swept by the next Start.
func TestKilledRunIsSwept(t *testing.T) {
	if err := Check(""); err != nil {
		testenv.Missing(t, "a Kubernetes cluster: %v", err)
	}
	stopShared(t)
	var before hostSnapshot
	c := ownClusterOf(t, Options{Proxy: true, DNS: true, locked: func() { before = snapshotHost(t, "") }})
	ns := c.Namespace(t)
	if _, err := c.Client.CoreV1().Pods(ns).Create(context.Background(), &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "orphan"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "main", Image: c.BusyboxImage, Command: []string{"sleep", "3600"},
		}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, time.Minute, func() bool {
		p, err := c.Client.CoreV1().Pods(ns).Get(context.Background(), "orphan", metav1.GetOptions{})
		return err == nil && p.Status.Phase == corev1.PodRunning
	}, "pod orphan not running")
	// What a SIGKILL of the test process does: the components die (their
	// parent-death signal), the lock goes with the process; the shims, the
	// pod, its mounts, network namespace and cgroups, the bridge and the
	// kubelet's sysctls stay.
	for _, p := range c.procs {
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.done
	}
	c.reg.Close()
	c.lock.Close()
	dead := c.Dir
	if len(mountsUnder(dead)) == 0 || len(processesNaming(dead)) == 0 {
		t.Fatalf("the killed cluster left no mount or shim to sweep: mounts %v, processes %v", mountsUnder(dead), processesNaming(dead))
	}
	if err := exec.Command(nftBin, "list", "table", "ip", "kube-proxy").Run(); err != nil {
		t.Fatalf("the killed cluster left no kube-proxy table to sweep: %v", err)
	}
	if b, _ := os.ReadFile("/proc/sys/kernel/panic"); strings.TrimSpace(string(b)) != "10" {
		t.Logf("kernel.panic is %q (the kubelet sets 10)", strings.TrimSpace(string(b)))
	}
	c.stopped.Store(true)
	c.stopOnce.Do(func() {}) // its Stop is the killed process's, never run

	var after hostSnapshot
	next := ownClusterOf(t, Options{unlocking: func() { after = snapshotHost(t, dead) }})
	if next.Dir == dead {
		t.Fatal("same directory")
	}
	if _, err := os.Stat(dead); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the killed run's %s is still there", dead)
	}
	if p := processesNaming(dead); len(p) > 0 {
		t.Errorf("processes of the killed run still running: %v", p)
	}
	if err := next.Stop(); err != nil {
		t.Fatal(err)
	}
	if left := leftover(before, after); len(left) > 0 {
		t.Errorf("left behind:\n%s", strings.Join(left, "\n"))
	}
}

func TestMissingPartIsNamed(t *testing.T) {
	empty := t.TempDir()
	err := Check(empty)
	var m *MissingError
	if !errors.As(err, &m) {
		t.Fatalf("Check(%s) = %v, want a MissingError", empty, err)
	}
	if os.Geteuid() == 0 && (m.What != "kube-apiserver" || !strings.Contains(m.How, "make kube")) {
		t.Errorf("got %q: want kube-apiserver missing, with `make kube`", err)
	}
	// Start refuses before touching the machine.
	if _, err := Start(context.Background(), Options{BinDir: empty}); !errors.As(err, &m) {
		t.Errorf("Start = %v", err)
	}
	// With the four components there, Proxy and DNS name theirs.
	if os.Geteuid() != 0 {
		return
	}
	four := t.TempDir()
	for _, c := range Components {
		if err := os.WriteFile(filepath.Join(four, c), nil, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		o    Options
		want string
	}{{Options{BinDir: four, Proxy: true}, "kube-proxy"}, {Options{BinDir: four, DNS: true}, "coredns"}} {
		if _, err := Start(context.Background(), tc.o); !errors.As(err, &m) || m.What != tc.want || !strings.Contains(m.How, "make kube") {
			t.Errorf("Start(%+v) = %v, want %s missing, with `make kube`", tc.o, err, tc.want)
		}
	}
}

// logRSS logs the resident memory of the cluster's processes (a figure for
// docs/kubernetes.md; never asserted).
func logRSS(t *testing.T, c *Cluster) {
	var total int64
	var parts []string
	for _, pid := range processesNaming(c.Dir) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) == 3 && f[0] == "VmRSS:" {
				kb, _ := strconv.ParseInt(f[1], 10, 64)
				total += kb
				parts = append(parts, fmt.Sprintf("%s %d MB", comm(pid), kb/1024))
			}
		}
	}
	t.Logf("RSS %d MB: %s", total/1024, strings.Join(parts, ", "))
}

// TestPodsReachRegistryAndAPI: pods reach the registry and the apiserver
// through their gateway addresses, and the node pulls an image named with
// the registry's gateway address.
func TestPodsReachRegistryAndAPI(t *testing.T) {
	c := Shared(t)
	ns := c.Namespace(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// busybox's wget speaks no TLS the apiserver accepts: a plain HTTP
	// request shows that its TLS listener answers.
	api := strings.TrimPrefix(c.PodAPIServer, "https://")
	host, port, _ := net.SplitHostPort(api)
	script := fmt.Sprintf(`wget -q -O - http://%s/v2/library/busybox/tags/list; echo
printf 'GET /version HTTP/1.0\r\n\r\n' | nc -w 5 %s %s`, c.PodRegistryAddr, host, port)
	pod, err := c.Client.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "gateway"},
		Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			Containers: []corev1.Container{{
				Name: "main", Image: c.PodRegistryAddr + "/library/busybox:latest",
				Command: []string{"sh", "-c", script},
			}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, time.Minute, func() bool {
		pod, err = c.Client.CoreV1().Pods(ns).Get(ctx, "gateway", metav1.GetOptions{})
		return err == nil && (pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed)
	}, "pod gateway did not finish")
	logs, err := c.Client.CoreV1().Pods(ns).GetLogs("gateway", &corev1.PodLogOptions{}).DoRaw(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if pod.Status.Phase != corev1.PodSucceeded {
		t.Fatalf("pod: %s %+v\n%s", pod.Status.Phase, pod.Status.ContainerStatuses, logs)
	}
	for _, want := range []string{`"name":"library/busybox"`, "Client sent an HTTP request to an HTTPS server"} {
		if !strings.Contains(string(logs), want) {
			t.Errorf("pod log lacks %s:\n%s", want, logs)
		}
	}
	if id := pod.Status.ContainerStatuses[0].ImageID; !strings.HasPrefix(id, c.PodRegistryAddr+"/library/busybox@sha256:") {
		t.Errorf("image id %q", id)
	}
	// The apiserver's certificate is valid for its gateway address.
	cfg := rest.CopyConfig(c.Config)
	cfg.Host = c.PodAPIServer
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := cs.Discovery().ServerVersion(); err != nil || v.GitVersion != "v1.37.2" {
		t.Errorf("version at %s: %v, %v", c.PodAPIServer, v, err)
	}
}

// TestFailedStartLeavesNothing: when a component dies during Start, Start
// fails naming it and its log, and leaves the host as it was (and the
// machine's lock free).
func TestFailedStartLeavesNothing(t *testing.T) {
	if err := Check(""); err != nil {
		testenv.Missing(t, "a Kubernetes cluster: %v", err)
	}
	stopShared(t)
	bin := t.TempDir()
	for _, comp := range Components {
		target := filepath.Join(DefaultBinDir(), comp)
		if comp == "kube-apiserver" {
			target = "/bin/false" // an apiserver that exits at once
		}
		if err := os.Symlink(target, filepath.Join(bin, comp)); err != nil {
			t.Fatal(err)
		}
	}
	var before, after hostSnapshot
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c, err := Start(ctx, Options{
		BinDir:    bin,
		locked:    func() { before = snapshotHost(t, "") },
		unlocking: func() { after = snapshotHost(t, "") },
	})
	if err == nil {
		c.Stop()
		t.Fatal("Start succeeded without an apiserver")
	}
	if !strings.Contains(err.Error(), "kube-apiserver exited") || !strings.Contains(err.Error(), "kube-apiserver.log") {
		t.Errorf("error %q: want kube-apiserver exited and its log", err)
	}
	if left := leftover(before, after); len(left) > 0 {
		t.Errorf("left behind:\n%s", strings.Join(left, "\n"))
	}
	if _, err := os.Stat(stateFile()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state file: %v", err)
	}
	if m := regexp.MustCompile(`(/\S+/kubetest-\d+)/logs/`).FindStringSubmatch(err.Error()); m == nil {
		t.Errorf("error %q names no cluster directory", err)
	} else if _, err := os.Stat(m[1]); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s left: %v", m[1], err)
	}
	// The lock is free: the next cluster starts.
	if c := Shared(t); c == nil {
		t.Fatal("no cluster")
	}
}

// TestTwoNodes: a second kubelet with its own containerd, cgroup root and
// bridge joins; a pod on each node reaches the test's server at the first
// node's gateway, the apiserver reads both logs, and Stop leaves nothing.
func TestTwoNodes(t *testing.T) {
	if err := Check(""); err != nil {
		testenv.Missing(t, "a Kubernetes cluster: %v", err)
	}
	stopShared(t)
	var before, after hostSnapshot
	c := ownClusterOf(t, Options{
		Nodes:     2,
		locked:    func() { before = snapshotHost(t, "") },
		unlocking: func() { after = snapshotHost(t, "") },
	})
	if len(c.Nodes) != 2 || c.Nodes[0].Name != c.NodeName || c.Nodes[1].Subnet.Contains(c.GatewayIP) {
		t.Fatalf("nodes %+v", c.Nodes)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(c.GatewayIP.String(), "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan string, 2)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				line, _ := bufio.NewReader(conn).ReadString('\n')
				got <- strings.TrimSpace(line) + " from " + conn.RemoteAddr().(*net.TCPAddr).IP.String()
				fmt.Fprintf(conn, "pong %s\n", strings.TrimSpace(line))
			}()
		}
	}()
	ns := c.Namespace(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	script := fmt.Sprintf(`echo "ping $(hostname)" | nc -w 10 %s %d`, c.GatewayIP, ln.Addr().(*net.TCPAddr).Port)
	for _, n := range c.Nodes {
		_, err := c.Client.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "on-" + n.Name},
			Spec: corev1.PodSpec{
				NodeName: n.Name, RestartPolicy: corev1.RestartPolicyNever,
				Containers: []corev1.Container{{Name: "main", Image: c.BusyboxImage, Command: []string{"sh", "-c", script}}},
			},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]bool{}
	for _, n := range c.Nodes {
		name := "on-" + n.Name
		var pod *corev1.Pod
		testenv.Eventually(t, time.Minute, func() bool {
			pod, err = c.Client.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
			return err == nil && (pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed)
		}, "pod %s did not finish", name)
		logs, err := c.Client.CoreV1().Pods(ns).GetLogs(name, &corev1.PodLogOptions{}).DoRaw(ctx)
		if err != nil {
			t.Fatalf("logs of %s (from node %s's kubelet): %v", name, n.Name, err)
		}
		if pod.Status.Phase != corev1.PodSucceeded || strings.TrimSpace(string(logs)) != "pong ping "+name {
			t.Errorf("pod %s: %s, log %q", name, pod.Status.Phase, logs)
		}
		if ip := net.ParseIP(pod.Status.PodIP); ip == nil || !n.Subnet.Contains(ip) {
			t.Errorf("pod %s: IP %s not in node %s's %s", name, pod.Status.PodIP, n.Name, n.Subnet)
		}
		want["ping "+name+" from "+pod.Status.PodIP] = true
	}
	for range c.Nodes {
		select {
		case g := <-got:
			if !want[g] {
				t.Errorf("server got %q, want one of %v", g, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the server got too few connections")
		}
	}

	// A pod on the first node reaches a pod on the second through the host.
	if _, err := c.Client.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "listener"},
		Spec: corev1.PodSpec{
			NodeName: c.Nodes[1].Name, RestartPolicy: corev1.RestartPolicyNever,
			Containers: []corev1.Container{{Name: "main", Image: c.BusyboxImage,
				Command: []string{"sh", "-c", "echo hello from $(hostname) | nc -l -p 8080"}}},
		},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var listener *corev1.Pod
	testenv.Eventually(t, time.Minute, func() bool {
		listener, err = c.Client.CoreV1().Pods(ns).Get(ctx, "listener", metav1.GetOptions{})
		return err == nil && listener.Status.Phase == corev1.PodRunning && listener.Status.PodIP != ""
	}, "pod listener not running")
	var logs string
	for range 20 { // until nc listens
		_, logs = runPodOn(t, c, ns, c.Nodes[0].Name, c.BusyboxImage, fmt.Sprintf("nc -w 5 %s 8080", listener.Status.PodIP))
		if logs != "" {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if logs != "hello from listener\n" {
		t.Errorf("from the pod on %s: %q", c.Nodes[1].Name, logs)
	}

	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if left := leftover(before, after); len(left) > 0 {
		t.Errorf("left behind:\n%s", strings.Join(left, "\n"))
	}
	for _, sw := range c.Swept {
		if strings.HasPrefix(sw, "process") || strings.HasPrefix(sw, "mount") {
			t.Errorf("the graceful teardown left %s (the sweep removed it)", sw)
		}
	}
}
