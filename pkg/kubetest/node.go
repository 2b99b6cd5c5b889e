package kubetest

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"time"
)

// Node is one node of the cluster: a kubelet with its own containerd,
// cgroup root and bridge, on a /24 of its own.
type Node struct {
	// Name is the node's name ("localhost" for the first, kubetest-N for
	// the others).
	Name string
	// Subnet is the node's pod network; GatewayIP, its bridge's address,
	// is where its pods reach the host (and the kubelet listens).
	Subnet    *net.IPNet
	GatewayIP net.IP

	index       int
	bridge      string
	cgroup      string
	dir         string // DIR for the first node (its files keep their places), DIR/node-N else
	sock        string // containerd's socket
	kubeletPort int
}

// newNodes lays out n nodes: node i gets the i-th /24 after base.
func newNodes(dir string, base *net.IPNet, n int) ([]*Node, error) {
	if ones, bits := base.Mask.Size(); ones != 24 || bits != 32 {
		return nil, fmt.Errorf("subnet %s: want an IPv4 /24", base)
	}
	start := binary.BigEndian.Uint32(base.IP.To4())
	var nodes []*Node
	for i := range n {
		ip := make(net.IP, 4)
		binary.BigEndian.PutUint32(ip, start+uint32(i)<<8)
		gw := make(net.IP, 4)
		binary.BigEndian.PutUint32(gw, start+uint32(i)<<8+1)
		nd := &Node{
			Name: NodeName, Subnet: &net.IPNet{IP: ip, Mask: base.Mask}, GatewayIP: gw,
			index: i, bridge: BridgeName, cgroup: cgroupRoot, dir: dir,
		}
		if i > 0 {
			s := strconv.Itoa(i)
			nd.Name, nd.bridge, nd.cgroup = "kubetest-"+s, "kubetest"+s, cgroupRoot+"-"+s
			nd.dir = filepath.Join(dir, "node-"+s)
		}
		nd.sock = filepath.Join(nd.dir, "containerd", "containerd.sock")
		nodes = append(nodes, nd)
	}
	return nodes, nil
}

// procName names a component of the node: kubelet and containerd for the
// first, kubelet-N and containerd-N for the others.
func (n *Node) procName(name string) string {
	if n.index == 0 {
		return name
	}
	return name + "-" + strconv.Itoa(n.index)
}

// startNode starts the node's containerd and kubelet; its bridge and
// cgroup root exist already.
func (c *Cluster) startNode(ctx context.Context, binDir, server string, pki *pki, n *Node) error {
	cni, err := cniConfig(c, n)
	if err != nil {
		return err
	}
	ctrCfg := filepath.Join(n.dir, "containerd", "config.toml")
	if err := writeFiles(map[string][]byte{
		filepath.Join(n.dir, "cni", "net.d", "10-kubetest.conflist"): cni,
		ctrCfg:                               []byte(containerdConfig(c, n)),
		filepath.Join(c.Dir, "tmp", ".keep"): nil,
	}); err != nil {
		return err
	}
	containerd, err := c.start(n.procName("containerd"), containerdBin, "--config="+ctrCfg)
	if err != nil {
		return err
	}
	if err := c.waitFor(ctx, containerd, 30*time.Second, n.procName("containerd")+" socket", func(context.Context) error {
		conn, err := net.Dial("unix", n.sock)
		if err == nil {
			conn.Close()
		}
		return err
	}); err != nil {
		return err
	}
	user := "system:node:" + n.Name
	serving, err := pki.issue(n.procName("kubelet")+"-serving", user, []string{"system:nodes"},
		n.GatewayIP.String(), "localhost", "127.0.0.1")
	if err != nil {
		return err
	}
	id, err := pki.issue(n.procName("kubelet"), user, []string{"system:nodes"})
	if err != nil {
		return err
	}
	kc := filepath.Join(n.dir, "kubelet.kubeconfig")
	if err := pki.kubeconfig(kc, server, id); err != nil {
		return err
	}
	var dns net.IP
	if c.dns {
		dns = c.GatewayIP
	}
	kcfg, err := kubeletConfig(n, serving, pki, dns)
	if err != nil {
		return err
	}
	kcfgFile := filepath.Join(n.dir, "kubelet", "config.json")
	if err := writeFiles(map[string][]byte{kcfgFile: kcfg}); err != nil {
		return err
	}
	_, err = c.start(n.procName("kubelet"), filepath.Join(binDir, "kubelet"),
		"--config="+kcfgFile, "--kubeconfig="+kc,
		"--root-dir="+filepath.Join(n.dir, "kubelet"),
		"--cert-dir="+filepath.Join(n.dir, "kubelet", "pki"),
		"--hostname-override="+n.Name,
		"--node-ip="+n.GatewayIP.String())
	return err
}
