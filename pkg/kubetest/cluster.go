package kubetest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/birdflock/runner/pkg/registry"
	"github.com/birdflock/runner/pkg/registry/baseimage"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// DefaultSubnet is the pod network when Options.Subnet is empty: a private
// range no route of a usual machine covers (Start refuses one that is in
// use).
const DefaultSubnet = "10.213.0.0/24"

// ServiceSubnet is the range of ClusterIPs (they route only with
// Options.Proxy).
const ServiceSubnet = "10.214.0.0/24"

// NodeName is the name of the first node.
const NodeName = "localhost"

// Options configure Start. The zero value works.
type Options struct {
	// BinDir holds kube-apiserver, kube-controller-manager, kube-scheduler
	// and kubelet. Default: $RUNNER_KUBE_BIN, else .cache/kube/bin of the
	// repository (`make kube` builds them there).
	BinDir string
	// Registry is the host:port of a plain-HTTP registry on a loopback
	// address that the node pulls from (Start pushes the busybox and pause
	// images to it). Default: runner's registry, started on a loopback
	// port with its content under the cluster's directory.
	Registry string
	// Subnet is the first node's pod network (an IPv4 /24); its first
	// address is the bridge's, where pods reach the host. Each further
	// node takes the next /24. Default: DefaultSubnet.
	Subnet string
	// Nodes is the number of nodes, each a kubelet with its own
	// containerd, cgroup root and bridge on this machine. Default: 1.
	Nodes int
	// Proxy runs kube-proxy (nftables mode; `make kube` builds it, and it
	// needs Debian's nftables): ClusterIPs route from pods and from this
	// machine, and the kubernetes Service reaches the apiserver.
	Proxy bool
	// DNS runs CoreDNS (`make kube` builds it) on GatewayIP:53 with its
	// kubernetes plugin, and makes it every kubelet's clusterDNS: pods
	// resolve SERVICE.NAMESPACE.svc.cluster.local.
	DNS bool
	// Log receives a line per step of starting and stopping. Default:
	// discarded.
	Log io.Writer

	// locked, when set, is called once Start holds the machine's lock and
	// has swept what a killed run left: the tests take their picture of
	// the host there.
	locked func()
	// unlocking, when set, is called by Stop (also the one of a failed
	// Start) just before it gives up the lock: the tests' second picture.
	unlocking func()
}

// Cluster is a running single-node cluster. Its fields are for reading.
type Cluster struct {
	// Dir holds the certificates, configuration, data and logs
	// (DIR/logs/COMPONENT.log); Stop removes it.
	Dir string
	// Kubeconfig is an admin kubeconfig (a client certificate in
	// system:masters).
	Kubeconfig string
	// Config is the admin client configuration, Client a client of it.
	Config *rest.Config
	Client *kubernetes.Clientset
	// RegistryAddr is the host:port of the registry the node pulls from
	// over plain HTTP; docker.io names are pulled from it too.
	// PodRegistryAddr reaches the same registry from pods (GatewayIP, see
	// ExposeToPods); the node pulls images named with it as well.
	RegistryAddr, PodRegistryAddr string
	// Private is a registry that requires a password (see Private).
	Private Private
	// PodAPIServer is the apiserver's URL for pods (GatewayIP, see
	// ExposeToPods; its serving certificate names GatewayIP). Without
	// Options.Proxy the kubernetes Service's ClusterIP does not route;
	// with it, that ClusterIP leads here.
	PodAPIServer string
	// DNSIP is where CoreDNS answers (Options.DNS; nil without).
	DNSIP net.IP
	// BusyboxImage is the alpine stand-in (Debian's busybox-static) in that
	// registry (also as library/alpine:latest, so that `alpine` works), and
	// PauseImage the pod sandbox image made from it.
	BusyboxImage, PauseImage string
	// NodeName is the name of the first node (Nodes[0]).
	NodeName string
	// Nodes are the cluster's nodes.
	Nodes []*Node
	// PodSubnet is the first node's pod network; GatewayIP, its bridge's
	// address, is where pods reach the host (a server listening there is
	// reachable from the pods of every node, and from nowhere off this
	// machine).
	PodSubnet *net.IPNet
	GatewayIP net.IP
	// Ready is how long Start took until the node was Ready, not counting
	// the wait for another cluster on the machine to stop.
	Ready time.Duration
	// Swept lists what Stop had to clean after the components stopped
	// (the bridge and the sysctls always; a process, mount or network
	// namespace there means a graceful step failed).
	Swept []string

	log        io.Writer
	begin      time.Time
	lock       *os.File
	state      *hostState
	reg        *registry.Server
	private    *registry.Server
	procs      []*proc
	runc       string
	fwdMu      sync.Mutex
	forwarders []*forwarder
	unlocking  func()
	proxy, dns bool
	// proxyConfig is kube-proxy's configuration file (for its --cleanup).
	proxyConfig string
	stopOnce    sync.Once
	stopped     atomic.Bool
	stopErr     error
}

// The Debian parts the cluster runs.
const (
	etcdBin       = "/usr/bin/etcd"
	containerdBin = "/usr/bin/containerd"
	cniBinDir     = "/usr/lib/cni"
)

// Components are the binaries `make kube` builds.
var Components = []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet"}

// MissingError says that a part the cluster needs is not on this machine,
// and how to get it.
type MissingError struct{ What, How string }

func (e *MissingError) Error() string { return e.What + " is missing: " + e.How }

// DefaultBinDir is where Start looks for the Kubernetes binaries when
// Options.BinDir is empty.
func DefaultBinDir() string {
	if d := os.Getenv("RUNNER_KUBE_BIN"); d != "" {
		return d
	}
	d, _ := os.Getwd()
	for {
		if _, err := os.Stat(filepath.Join(d, "tools", "kube", "go.mod")); err == nil {
			return filepath.Join(d, ".cache", "kube", "bin")
		}
		parent := filepath.Dir(d)
		if parent == d {
			return filepath.Join(".cache", "kube", "bin")
		}
		d = parent
	}
}

// Check reports the first part of the cluster missing on this machine
// (a *MissingError), nil when all are there.
func Check(binDir string) error {
	if binDir == "" {
		binDir = DefaultBinDir()
	}
	if os.Geteuid() != 0 {
		return &MissingError{"root", "the cluster's kubelet and containerd need root"}
	}
	for _, c := range Components {
		if _, err := os.Stat(filepath.Join(binDir, c)); err != nil {
			return &MissingError{c, "run `make kube` (builds " + binDir + ")"}
		}
	}
	for bin, pkg := range map[string]string{
		etcdBin: "etcd-server", containerdBin: "containerd", "/usr/sbin/runc": "runc",
		filepath.Join(cniBinDir, "bridge"):     "containernetworking-plugins",
		filepath.Join(cniBinDir, "host-local"): "containernetworking-plugins",
		filepath.Join(cniBinDir, "loopback"):   "containernetworking-plugins",
		"/bin/busybox":                         "busybox-static",
	} {
		if _, err := os.Stat(bin); err != nil {
			return &MissingError{bin, "install Debian's " + pkg + " (make deps)"}
		}
	}
	return nil
}

// Start brings up a cluster and returns once its node is Ready and the
// default namespace has its service account. One cluster runs on a
// machine at a time: Start waits (until ctx ends) for another one to stop,
// and first sweeps what a killed run left (see StateDir). On error nothing
// of it is left running.
func Start(ctx context.Context, o Options) (_ *Cluster, err error) {
	begin := time.Now()
	if o.BinDir == "" {
		o.BinDir = DefaultBinDir()
	}
	if o.Subnet == "" {
		o.Subnet = DefaultSubnet
	}
	if err := Check(o.BinDir); err != nil {
		return nil, err
	}
	if err := checkServices(o); err != nil {
		return nil, err
	}
	if o.Nodes < 1 {
		o.Nodes = 1
	}
	ip, subnet, err := net.ParseCIDR(o.Subnet)
	if err != nil || ip.To4() == nil {
		return nil, fmt.Errorf("kubetest: subnet %q: want an IPv4 /24", o.Subnet)
	}
	nodes, err := newNodes("", subnet, o.Nodes)
	if err != nil {
		return nil, fmt.Errorf("kubetest: %w", err)
	}
	c := &Cluster{
		NodeName: NodeName, Nodes: nodes, PodSubnet: nodes[0].Subnet, GatewayIP: nodes[0].GatewayIP,
		log: o.Log, runc: "/usr/sbin/runc", begin: begin, unlocking: o.unlocking,
		proxy: o.Proxy, dns: o.DNS,
	}
	if c.log == nil {
		c.log = io.Discard
	}
	if c.lock, err = lockHost(ctx, c.logf); err != nil {
		return nil, err
	}
	locked := time.Now()
	if old, err := readState(); err != nil {
		c.lock.Close()
		return nil, err
	} else if old != nil {
		cleaned, err := sweep(old)
		c.logf("swept what a killed run left: %s", strings.Join(cleaned, ", "))
		if err != nil {
			c.lock.Close()
			return nil, fmt.Errorf("kubetest: sweeping the cluster a killed run left (%s): %w", old.Dir, err)
		}
	}
	if o.locked != nil {
		o.locked()
	}
	for _, n := range c.Nodes {
		if used, err := subnetInUse(n.Subnet); err != nil || used != "" {
			c.lock.Close()
			if err == nil {
				err = fmt.Errorf("already routed here (%s): pick another Options.Subnet", used)
			}
			return nil, fmt.Errorf("kubetest: subnet %s: %w", n.Subnet, err)
		}
	}
	sysctls, err := saveSysctls()
	if err != nil {
		c.lock.Close()
		return nil, err
	}
	if c.Dir, err = os.MkdirTemp("", "kubetest-"); err != nil {
		c.lock.Close()
		return nil, err
	}
	c.state = &hostState{Dir: c.Dir, Sysctls: sysctls}
	if o.Proxy {
		c.state.Tables = proxyTables
	}
	if c.Nodes, err = newNodes(c.Dir, subnet, o.Nodes); err != nil {
		return nil, err
	}
	for _, n := range c.Nodes {
		c.state.Bridges = append(c.state.Bridges, n.bridge)
		c.state.Cgroups = append(c.state.Cgroups, n.cgroup)
	}
	if err := writeState(c.state); err != nil {
		os.RemoveAll(c.Dir)
		c.lock.Close()
		return nil, err
	}
	defer func() {
		if err != nil {
			c.Stop()
		}
	}()
	if err := c.up(ctx, o); err != nil {
		return nil, fmt.Errorf("kubetest: %w", err)
	}
	c.Ready = time.Since(locked)
	c.logf("cluster ready in %s (%s)", c.Ready.Round(time.Millisecond), c.Dir)
	return c, nil
}

func (c *Cluster) logf(format string, args ...any) {
	fmt.Fprintf(c.log, "kubetest: %6.2fs "+format+"\n", append([]any{time.Since(c.begin).Seconds()}, args...)...)
}

func (c *Cluster) up(ctx context.Context, o Options) error {
	for _, n := range c.Nodes {
		if err := makeCgroups(n.cgroup); err != nil {
			return err
		}
		if err := makeBridge(n.bridge, n.GatewayIP, n.Subnet); err != nil {
			return err
		}
	}
	if err := c.startRegistry(ctx, o.Registry); err != nil {
		return err
	}
	c.logf("registry %s holds %s and %s", c.RegistryAddr, c.BusyboxImage, c.PauseImage)
	if err := c.startPrivate(ctx); err != nil {
		return err
	}
	pki, err := newPKI(filepath.Join(c.Dir, "pki"))
	if err != nil {
		return err
	}
	ports, err := freePorts(3 + len(c.Nodes))
	if err != nil {
		return err
	}
	etcdPort, peerPort, apiPort := ports[0], ports[1], ports[2]
	for i, n := range c.Nodes {
		n.kubeletPort = ports[3+i]
	}

	// etcd
	etcdURL := "http://127.0.0.1:" + strconv.Itoa(etcdPort)
	peerURL := "http://127.0.0.1:" + strconv.Itoa(peerPort)
	etcd, err := c.start("etcd", etcdBin,
		"--name=kubetest", "--data-dir="+filepath.Join(c.Dir, "etcd"),
		"--listen-client-urls="+etcdURL, "--advertise-client-urls="+etcdURL,
		"--listen-peer-urls="+peerURL, "--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=kubetest="+peerURL, "--log-level=warn")
	if err != nil {
		return err
	}
	if err := c.waitFor(ctx, etcd, 30*time.Second, "etcd health", httpOK(etcdURL+"/health")); err != nil {
		return err
	}
	c.logf("etcd healthy")

	// kube-apiserver
	svcIP := net.ParseIP(strings.TrimSuffix(ServiceSubnet, "0/24") + "1")
	serving, err := pki.issue("apiserver", "kube-apiserver", nil,
		"127.0.0.1", "localhost", c.GatewayIP.String(), svcIP.String(), "kubernetes", "kubernetes.default",
		"kubernetes.default.svc", "kubernetes.default.svc.cluster.local")
	if err != nil {
		return err
	}
	kubeletClient, err := pki.issue("apiserver-kubelet-client", "kube-apiserver-kubelet-client", []string{"system:masters"})
	if err != nil {
		return err
	}
	saKey, err := pki.signingKey("service-account")
	if err != nil {
		return err
	}
	apiserver, err := c.start("kube-apiserver", filepath.Join(o.BinDir, "kube-apiserver"),
		"--etcd-servers="+etcdURL,
		"--bind-address=127.0.0.1", "--secure-port="+strconv.Itoa(apiPort),
		"--advertise-address=127.0.0.1", "--endpoint-reconciler-type=none",
		"--cert-dir="+filepath.Join(c.Dir, "pki"),
		"--tls-cert-file="+serving.CertFile, "--tls-private-key-file="+serving.KeyFile,
		"--client-ca-file="+pki.CAFile,
		"--service-cluster-ip-range="+ServiceSubnet,
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-account-key-file="+saKey, "--service-account-signing-key-file="+saKey,
		"--authorization-mode=Node,RBAC", "--enable-admission-plugins=NodeRestriction",
		"--allow-privileged=true",
		"--kubelet-client-certificate="+kubeletClient.CertFile, "--kubelet-client-key="+kubeletClient.KeyFile,
		"--kubelet-certificate-authority="+pki.CAFile,
		"--kubelet-preferred-address-types=InternalIP",
		"--profiling=false")
	if err != nil {
		return err
	}
	server := "https://127.0.0.1:" + strconv.Itoa(apiPort)
	admin, err := pki.issue("admin", "kubetest-admin", []string{"system:masters"})
	if err != nil {
		return err
	}
	c.Kubeconfig = filepath.Join(c.Dir, "admin.kubeconfig")
	if err := pki.kubeconfig(c.Kubeconfig, server, admin); err != nil {
		return err
	}
	if c.Config, err = clientcmd.BuildConfigFromFlags("", c.Kubeconfig); err != nil {
		return err
	}
	c.Config.QPS, c.Config.Burst = 200, 400
	if c.Client, err = kubernetes.NewForConfig(c.Config); err != nil {
		return err
	}
	if err := c.waitFor(ctx, apiserver, 60*time.Second, "kube-apiserver /readyz", func(ctx context.Context) error {
		_, err := c.Client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		return err
	}); err != nil {
		return err
	}
	c.logf("kube-apiserver ready")
	podAPI, err := c.ExposeToPods(net.JoinHostPort("127.0.0.1", strconv.Itoa(apiPort)))
	if err != nil {
		return err
	}
	c.PodAPIServer = "https://" + podAPI

	// kube-controller-manager and kube-scheduler
	for _, comp := range []struct{ name, cn string }{
		{"kube-controller-manager", "system:kube-controller-manager"},
		{"kube-scheduler", "system:kube-scheduler"},
	} {
		id, err := pki.issue(comp.name, comp.cn, nil)
		if err != nil {
			return err
		}
		kc := filepath.Join(c.Dir, comp.name+".kubeconfig")
		if err := pki.kubeconfig(kc, server, id); err != nil {
			return err
		}
		args := []string{"--kubeconfig=" + kc, "--leader-elect=false", "--secure-port=0"}
		if comp.name == "kube-controller-manager" {
			args = append(args, "--service-account-private-key-file="+saKey, "--root-ca-file="+pki.CAFile,
				"--use-service-account-credentials=true",
				// Untaint the new node within a second of its Ready
				// (default 5 s).
				"--node-monitor-period=1s")
		}
		if _, err := c.start(comp.name, filepath.Join(o.BinDir, comp.name), args...); err != nil {
			return err
		}
	}

	// CoreDNS before the kubelets, whose clusterDNS it is
	if o.DNS {
		if err := c.startDNS(ctx, o.BinDir, server, pki); err != nil {
			return err
		}
	}

	// a containerd and a kubelet per node
	for i, n := range c.Nodes {
		if err := c.startNode(ctx, o.BinDir, server, pki, n); err != nil {
			return err
		}
		// The kubelets share /var/lib/kubelet/device-plugins (a fixed
		// path): two starting at once race for its socket, and one exits
		// with "bind: address already in use". A kubelet starts its device
		// manager before it reports its node Ready: the next one waits
		// for that.
		if i < len(c.Nodes)-1 {
			what := "node " + n.Name + " Ready before the next kubelet"
			if err := c.waitFor(ctx, c.proc(n.procName("kubelet")), 90*time.Second, what, c.nodeReadyCondition(n.Name)); err != nil {
				return err
			}
		}
	}
	for _, n := range c.Nodes {
		what := "node " + n.Name + " Ready"
		if err := c.waitFor(ctx, c.proc(n.procName("kubelet")), 90*time.Second, what, c.nodeReady(n.Name)); err != nil {
			return err
		}
		c.logf("node %s Ready and untainted", n.Name)
	}
	// kube-proxy once its node exists (it reads the node's addresses)
	if o.Proxy {
		if err := c.startProxy(ctx, o.BinDir, server, pki); err != nil {
			return err
		}
	}
	return c.waitFor(ctx, nil, 60*time.Second, "service account default/default", func(ctx context.Context) error {
		_, err := c.Client.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
		return err
	})
}

// nodeReady holds when the node is Ready and carries no NoSchedule taint
// (the node lifecycle controller removes not-ready's shortly after).
func (c *Cluster) nodeReady(name string) func(context.Context) error {
	return func(ctx context.Context) error {
		n, err := c.Client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		return schedulable(n)
	}
}

// nodeReadyCondition holds when the node reports Ready, tainted or not.
func (c *Cluster) nodeReadyCondition(name string) func(context.Context) error {
	return func(ctx context.Context) error {
		n, err := c.Client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		return readyCondition(n)
	}
}

func readyCondition(n *corev1.Node) error {
	ready := errors.New("node has no Ready condition yet")
	for _, cond := range n.Status.Conditions {
		if cond.Type == corev1.NodeReady {
			ready = nil
			if cond.Status != corev1.ConditionTrue {
				ready = fmt.Errorf("node not ready: %s", cond.Message)
			}
		}
	}
	return ready
}

func schedulable(n *corev1.Node) error {
	if err := readyCondition(n); err != nil {
		return err
	}
	for _, t := range n.Spec.Taints {
		if t.Effect == corev1.TaintEffectNoSchedule || t.Effect == corev1.TaintEffectNoExecute {
			return fmt.Errorf("ready, still tainted %s", t.Key)
		}
	}
	return nil
}

func httpOK(url string) func(context.Context) error {
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s: %s", url, resp.Status)
		}
		return nil
	}
}

// startRegistry starts runner's registry (unless addr names one) and
// pushes the busybox stand-in and the pause image made from it.
func (c *Cluster) startRegistry(ctx context.Context, addr string) (err error) {
	if addr == "" {
		srv, err := registry.Serve(context.Background(), "127.0.0.1:0", filepath.Join(c.Dir, "registry"))
		if err != nil {
			return err
		}
		c.reg = srv
		addr = srv.Addr()
	}
	c.RegistryAddr = addr
	if c.PodRegistryAddr, err = c.ExposeToPods(addr); err != nil {
		return err
	}
	busybox, err := baseimage.Alpine(ctx, baseimage.Options{})
	if err != nil {
		return fmt.Errorf("busybox image: %w", err)
	}
	cf, err := busybox.ConfigFile()
	if err != nil {
		return err
	}
	cfg := cf.Config
	cfg.Entrypoint, cfg.Cmd = []string{"/bin/sleep", "2147483647"}, nil
	pause, err := mutate.Config(busybox, cfg)
	if err != nil {
		return err
	}
	c.BusyboxImage = addr + "/library/busybox:latest"
	c.PauseImage = addr + "/kubetest/pause:latest"
	cl := registry.New(registry.Options{})
	refs := map[string]v1.Image{
		c.BusyboxImage: busybox, c.PauseImage: pause,
		// for `alpine` through the docker.io mirror
		addr + "/library/alpine:latest": busybox,
	}
	for ref, img := range refs {
		repo, tag, _ := strings.Cut(strings.TrimPrefix(ref, addr+"/"), ":")
		if _, err := cl.Push(ctx, registry.FromImage(img), addr+"/"+repo, []string{tag}); err != nil {
			return fmt.Errorf("push %s: %w", ref, err)
		}
	}
	return nil
}

// Processes maps each running component to its process id.
func (c *Cluster) Processes() map[string]int {
	m := map[string]int{}
	for _, p := range c.procs {
		if !p.exited() {
			m[p.name] = p.cmd.Process.Pid
		}
	}
	return m
}

func (c *Cluster) proc(name string) *proc {
	for _, p := range c.procs {
		if p.name == name {
			return p
		}
	}
	return nil
}
