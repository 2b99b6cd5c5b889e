package kubetest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Services and names: kube-proxy (Options.Proxy) and CoreDNS
// (Options.DNS), both built from pinned modules by `make kube`, both host
// processes like the other components.

// nftBin is the nft of Debian's nftables: kube-proxy's nftables mode
// programs the kernel through it (sigs.k8s.io/knftables runs it).
const nftBin = "/usr/sbin/nft"

// ClusterDomain is the cluster's DNS domain (kubelet's clusterDomain,
// CoreDNS's zone).
const ClusterDomain = "cluster.local"

// proxyTables are the nftables tables kube-proxy's nftables mode makes
// (one per family, named after it): Stop deletes them.
var proxyTables = []string{"ip kube-proxy", "ip6 kube-proxy"}

// checkServices reports the first part Proxy or DNS need that is missing.
func checkServices(o Options) error {
	if o.Proxy {
		if _, err := os.Stat(filepath.Join(o.BinDir, "kube-proxy")); err != nil {
			return &MissingError{"kube-proxy", "run `make kube` (builds " + o.BinDir + ")"}
		}
		if _, err := os.Stat(nftBin); err != nil {
			return &MissingError{nftBin, "install Debian's nftables"}
		}
	}
	if o.DNS {
		if _, err := os.Stat(filepath.Join(o.BinDir, "coredns")); err != nil {
			return &MissingError{"coredns", "run `make kube` (builds " + o.BinDir + ")"}
		}
	}
	return nil
}

// proxyConfig is kube-proxy's KubeProxyConfiguration. nftables mode (this
// kernel and Debian 12's nft 1.0.6 have what it needs; its rules live in
// two tables of its own, which makes the teardown exact). masqueradeAll,
// so that a pod that reaches a Service backed by a pod on the same bridge
// gets the answer back through the host's conntrack, with or without
// br_netfilter. Nothing it would tune by default: no conntrack sysctl
// (maxPerCore, min and the timeouts 0 leave them as they are), its health
// and metrics servers on loopback, NodePorts only on the nodes' gateway
// addresses.
func proxyConfig(c *Cluster, kubeconfig string, healthz, metrics int) ([]byte, error) {
	var nodePorts []string
	for _, n := range c.Nodes {
		nodePorts = append(nodePorts, n.GatewayIP.String()+"/32")
	}
	clusterCIDR := &net.IPNet{IP: c.PodSubnet.IP.Mask(net.CIDRMask(16, 32)), Mask: net.CIDRMask(16, 32)}
	zero := "0s"
	return json.MarshalIndent(map[string]any{
		"apiVersion":         "kubeproxy.config.k8s.io/v1alpha1",
		"kind":               "KubeProxyConfiguration",
		"clientConnection":   map[string]any{"kubeconfig": kubeconfig},
		"mode":               "nftables",
		"hostnameOverride":   c.NodeName,
		"healthzBindAddress": "127.0.0.1:" + strconv.Itoa(healthz),
		"metricsBindAddress": "127.0.0.1:" + strconv.Itoa(metrics),
		"clusterCIDR":        clusterCIDR.String(),
		"detectLocalMode":    "ClusterCIDR",
		"nodePortAddresses":  nodePorts,
		"oomScoreAdj":        0,
		"nftables":           map[string]any{"masqueradeAll": true},
		"conntrack": map[string]any{
			"maxPerCore": 0, "min": 0,
			"tcpEstablishedTimeout": zero, "tcpCloseWaitTimeout": zero,
			"udpTimeout": zero, "udpStreamTimeout": zero,
		},
	}, "", "  ")
}

// startProxy starts kube-proxy (one for all nodes: they share this
// machine's network stack) and waits until it has programmed the rules.
// The kubernetes Service gets an EndpointSlice of PodAPIServer (the
// apiserver's reconciler is off, it listens on loopback only), so that
// in-cluster clients reach it at its ClusterIP.
func (c *Cluster) startProxy(ctx context.Context, binDir, server string, pki *pki) error {
	if err := c.apiserverEndpoints(ctx); err != nil {
		return err
	}
	id, err := pki.issue("kube-proxy", "system:kube-proxy", nil)
	if err != nil {
		return err
	}
	kc := filepath.Join(c.Dir, "kube-proxy.kubeconfig")
	if err := pki.kubeconfig(kc, server, id); err != nil {
		return err
	}
	ports, err := freePorts(2)
	if err != nil {
		return err
	}
	cfg, err := proxyConfig(c, kc, ports[0], ports[1])
	if err != nil {
		return err
	}
	c.proxyConfig = filepath.Join(c.Dir, "kube-proxy", "config.json")
	if err := writeFiles(map[string][]byte{c.proxyConfig: cfg}); err != nil {
		return err
	}
	p, err := c.start("kube-proxy", filepath.Join(binDir, "kube-proxy"), "--config="+c.proxyConfig)
	if err != nil {
		return err
	}
	// healthz answers 200 once the rules of the first sync are in place.
	if err := c.waitFor(ctx, p, 60*time.Second, "kube-proxy healthz", httpOK("http://127.0.0.1:"+strconv.Itoa(ports[0])+"/healthz")); err != nil {
		return err
	}
	c.logf("kube-proxy synced (nftables)")
	return nil
}

// apiserverEndpoints points the kubernetes Service at PodAPIServer.
func (c *Cluster) apiserverEndpoints(ctx context.Context) error {
	host, portStr, err := net.SplitHostPort(strings.TrimPrefix(c.PodAPIServer, "https://"))
	if err != nil {
		return err
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return err
	}
	name, proto, ready := "https", corev1.ProtocolTCP, true
	p32 := int32(port)
	_, err = c.Client.DiscoveryV1().EndpointSlices(metav1.NamespaceDefault).Create(ctx, &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: "kubernetes-kubetest", Labels: map[string]string{
			discoveryv1.LabelServiceName: "kubernetes",
			discoveryv1.LabelManagedBy:   "kubetest",
		}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{host}, Conditions: discoveryv1.EndpointConditions{Ready: &ready}}},
		Ports:       []discoveryv1.EndpointPort{{Name: &name, Protocol: &proto, Port: &p32}},
	}, metav1.CreateOptions{})
	return err
}

// stopProxy stops kube-proxy and has it remove its rules
// (`kube-proxy --cleanup`, its own way to leave a node).
func (c *Cluster) stopProxy() {
	p := c.proc("kube-proxy")
	if p == nil {
		return
	}
	p.stop(10 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, p.cmd.Path, "--cleanup", "--config="+c.proxyConfig)
	cmd.Env, cmd.Dir = componentEnv(c.Dir), c.Dir
	out, err := cmd.CombinedOutput()
	_ = os.WriteFile(filepath.Join(c.Dir, "logs", "kube-proxy-cleanup.log"), out, 0o600)
	if err != nil {
		c.logf("kube-proxy --cleanup: %v", err)
	}
}

// sweepTables deletes the nftables tables kube-proxy left.
func sweepTables(tables []string) (cleaned []string, err error) {
	if _, e := os.Stat(nftBin); e != nil {
		return nil, nil
	}
	for _, t := range tables {
		args := strings.Fields(t)
		if exec.Command(nftBin, append([]string{"list", "table"}, args...)...).Run() != nil {
			continue // not there
		}
		cleaned = append(cleaned, "nftables table "+t)
		if out, e := exec.Command(nftBin, append([]string{"delete", "table"}, args...)...).CombinedOutput(); e != nil && err == nil {
			err = fmt.Errorf("nft delete table %s: %v: %s", t, e, bytes.TrimSpace(out))
		}
	}
	return cleaned, err
}

// corefile serves the cluster's names on GatewayIP:53 from the apiserver
// (CoreDNS's kubernetes plugin), nothing else: the cluster has no
// upstream resolver to forward to.
func corefile(c *Cluster, kubeconfig string, health, ready int) string {
	return fmt.Sprintf(`.:53 {
    bind %s
    errors
    health 127.0.0.1:%d
    ready 127.0.0.1:%d
    kubernetes %s in-addr.arpa ip6.arpa {
        kubeconfig %s
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }
    cache 5
}
`, c.GatewayIP, health, ready, ClusterDomain, kubeconfig)
}

// startDNS starts CoreDNS on the first node's GatewayIP (where every
// node's pods reach the host) as the identity system:coredns with the
// rights kubeadm gives CoreDNS, and waits until it has read the cluster.
func (c *Cluster) startDNS(ctx context.Context, binDir, server string, pki *pki) error {
	if err := c.dnsRBAC(ctx); err != nil {
		return err
	}
	id, err := pki.issue("coredns", "system:coredns", nil)
	if err != nil {
		return err
	}
	kc := filepath.Join(c.Dir, "coredns.kubeconfig")
	if err := pki.kubeconfig(kc, server, id); err != nil {
		return err
	}
	ports, err := freePorts(2)
	if err != nil {
		return err
	}
	conf := filepath.Join(c.Dir, "coredns", "Corefile")
	if err := writeFiles(map[string][]byte{conf: []byte(corefile(c, kc, ports[0], ports[1]))}); err != nil {
		return err
	}
	p, err := c.start("coredns", filepath.Join(binDir, "coredns"), "-conf="+conf)
	if err != nil {
		return err
	}
	if err := c.waitFor(ctx, p, 60*time.Second, "coredns ready", httpOK("http://127.0.0.1:"+strconv.Itoa(ports[1])+"/ready")); err != nil {
		return err
	}
	c.DNSIP = c.GatewayIP
	c.logf("coredns ready on %s:53", c.DNSIP)
	return nil
}

// dnsRBAC grants system:coredns what kubeadm's CoreDNS gets: reading the
// services, their endpoints, pods and namespaces.
func (c *Cluster) dnsRBAC(ctx context.Context) error {
	rbac := c.Client.RbacV1()
	_, err := rbac.ClusterRoles().Create(ctx, &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "system:coredns"},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"endpoints", "services", "pods", "namespaces"}, Verbs: []string{"list", "watch"}},
			{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: []string{"list", "watch"}},
		},
	}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	_, err = rbac.ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "system:coredns"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "system:coredns"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "system:coredns"}},
	}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	return nil
}
