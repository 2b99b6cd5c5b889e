package kubetest

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
)

// The configuration files of containerd, the CNI bridge and the kubelet.
// Every path a component writes to is under the cluster's directory.

// containerdConfig is containerd 1.6's configuration (version 2): its own
// root, state and socket; restrict_oom_score_adj because the sandbox has no
// CAP_SYS_RESOURCE (without it every pod fails with "can't get final
// child's PID from pipe: EOF"); plain HTTP to the loopback registry (by
// its loopback and its gateway address), which also mirrors docker.io,
// and to the Private one;
// network namespaces under the state directory.
func containerdConfig(c *Cluster, n *Node) string {
	q := strconv.Quote
	d := func(p string) string { return q(filepath.Join(n.dir, p)) }
	return fmt.Sprintf(`version = 2
root = %s
state = %s
oom_score = 0

[grpc]
  address = %s

[ttrpc]
  address = %s

[plugins."io.containerd.internal.v1.opt"]
  path = %s

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %s
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  enable_tls_streaming = false
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"

  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"

    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"

      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = %s
        SystemdCgroup = false

  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = %s
    conf_dir = %s

  [plugins."io.containerd.grpc.v1.cri".registry.mirrors.%s]
    endpoint = [%s]

  [plugins."io.containerd.grpc.v1.cri".registry.mirrors.%s]
    endpoint = [%s]

  [plugins."io.containerd.grpc.v1.cri".registry.mirrors.%s]
    endpoint = [%s]

  [plugins."io.containerd.grpc.v1.cri".registry.mirrors."docker.io"]
    endpoint = [%s]
`,
		d("containerd/root"), d("containerd/state"),
		q(n.sock), q(n.sock+".ttrpc"),
		d("containerd/opt"),
		q(c.PauseImage),
		q(c.runc),
		q(cniBinDir), d("cni/net.d"),
		q(c.RegistryAddr), q("http://"+c.RegistryAddr),
		q(c.PodRegistryAddr), q("http://"+c.PodRegistryAddr),
		q(c.Private.Addr), q("http://"+c.Private.Addr),
		q("http://"+c.RegistryAddr))
}

// cniConfig is a node's pod network: a bridge that holds the gateway
// address (pods reach the host there), host-local addresses, routes to the
// other nodes' pods through the gateway, and no masquerade and no default
// route, so pod traffic stays on this machine.
func cniConfig(c *Cluster, n *Node) ([]byte, error) {
	routes := []map[string]string{}
	for _, o := range c.Nodes {
		if o != n {
			routes = append(routes, map[string]string{"dst": o.Subnet.String()})
		}
	}
	if c.proxy {
		// ClusterIPs are the host's to translate (kube-proxy).
		routes = append(routes, map[string]string{"dst": ServiceSubnet})
	}
	return json.MarshalIndent(map[string]any{
		"cniVersion": "1.0.0",
		"name":       "kubetest",
		"plugins": []any{map[string]any{
			"type":             "bridge",
			"bridge":           n.bridge,
			"isGateway":        true,
			"isDefaultGateway": false,
			"ipMasq":           false,
			"hairpinMode":      true,
			"ipam": map[string]any{
				"type":    "host-local",
				"dataDir": filepath.Join(n.dir, "cni/ipam"),
				"ranges": [][]map[string]string{{{
					"subnet":  n.Subnet.String(),
					"gateway": n.GatewayIP.String(),
				}}},
				"routes": routes,
			},
		}},
	}, "", "  ")
}

// kubeletConfig is the kubelet's KubeletConfiguration. failCgroupV1 false
// because this machine has cgroup v1; oomScoreAdj 0 for the missing
// CAP_SYS_RESOURCE; makeIPTablesUtilChains false so that it leaves the
// host's firewall alone (the chains are hints for an iptables-mode
// kube-proxy; Options.Proxy runs one in nftables mode); its API on the node's gateway address (the apiserver
// reaches it by the node's InternalIP); its pods' cgroups under their
// own root; eviction and
// image garbage collection thresholds low enough that a nearly full disk
// of a test machine does not taint the node; with Options.DNS, CoreDNS as
// its clusterDNS.
func kubeletConfig(n *Node, serving identity, pki *pki, dns net.IP) ([]byte, error) {
	cfg := map[string]any{
		"apiVersion":               "kubelet.config.k8s.io/v1beta1",
		"kind":                     "KubeletConfiguration",
		"failCgroupV1":             false,
		"oomScoreAdj":              0,
		"cgroupDriver":             "cgroupfs",
		"cgroupRoot":               "/" + n.cgroup,
		"makeIPTablesUtilChains":   false,
		"containerRuntimeEndpoint": "unix://" + n.sock,
		"address":                  n.GatewayIP.String(),
		"port":                     n.kubeletPort,
		"healthzBindAddress":       "127.0.0.1",
		"healthzPort":              0,
		"readOnlyPort":             0,
		"tlsCertFile":              serving.CertFile,
		"tlsPrivateKeyFile":        serving.KeyFile,
		"authentication": map[string]any{
			"anonymous": map[string]any{"enabled": false},
			"webhook":   map[string]any{"enabled": false},
			"x509":      map[string]any{"clientCAFile": pki.CAFile},
		},
		"authorization":               map[string]any{"mode": "AlwaysAllow"},
		"failSwapOn":                  false,
		"staticPodPath":               "",
		"podLogsDir":                  filepath.Join(n.dir, "pod-logs"),
		"imageGCHighThresholdPercent": 100,
		"imageGCLowThresholdPercent":  99,
		"evictionHard": map[string]string{
			"memory.available":  "1Mi",
			"nodefs.available":  "1%",
			"nodefs.inodesFree": "1%",
			"imagefs.available": "1%",
		},
		"serializeImagePulls": false,
	}
	if dns != nil {
		cfg["clusterDNS"] = []string{dns.String()}
		cfg["clusterDomain"] = ClusterDomain
	}
	return json.MarshalIndent(cfg, "", "  ")
}

func writeFiles(files map[string][]byte) error {
	for name, b := range files {
		if err := os.MkdirAll(filepath.Dir(name), 0o700); err != nil {
			return err
		}
		if err := os.WriteFile(name, b, 0o600); err != nil {
			return err
		}
	}
	return nil
}
