package serve

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/birdflock/runner/pkg/kube"
	"github.com/birdflock/runner/pkg/run"
)

// executorConfig reads the config's executor section: absent, or kind
// local, runs jobs in this process; kind kubernetes runs each job leg as
// a pod (docs/kubernetes.md). Errors name the section's line.
func (c *Config) executorConfig() (*kube.Config, error) {
	n := &c.Executor
	if n.Kind == 0 {
		return nil, nil
	}
	var head struct {
		Kind string `yaml:"kind"`
	}
	if err := n.Decode(&head); err != nil {
		return nil, fmt.Errorf("executor (line %d): %w", n.Line, err)
	}
	switch head.Kind {
	case "", "local":
		return nil, nil
	case "kubernetes":
	default:
		return nil, fmt.Errorf("executor (line %d): kind %q: want local or kubernetes", n.Line, head.Kind)
	}
	data, err := yaml.Marshal(n)
	if err != nil {
		return nil, fmt.Errorf("executor (line %d): %w", n.Line, err)
	}
	kc, err := kube.ParseConfig(data)
	if err != nil {
		return nil, fmt.Errorf("executor (line %d): %w", n.Line, err)
	}
	return kc, nil
}

// kubeLegs connects to the cluster of the executor section, checks that it
// may run job pods there (kube.Transport.Check), and deletes
// the pods an earlier run of this service left (killed before it could):
// they carry its instance label, which is the state directory's.
func kubeLegs(kc *kube.Config, state string, logf func(string, ...any)) (run.LegTransport, error) {
	cl, err := kube.Connect(kc)
	if err != nil {
		return nil, err
	}
	host, _ := os.Hostname()
	sum := sha256.Sum256([]byte(host + "\x00" + state))
	t := &kube.Transport{Config: kc, Client: cl, Instance: "serve-" + hex.EncodeToString(sum[:12]), Logf: logf}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// A namespace that does not exist or a kubeconfig without the rights
	// is the service's configuration error, not every job's failure.
	if err := t.Check(ctx); err != nil {
		return nil, err
	}
	gone, err := kube.Sweep(ctx, cl, t.Instance)
	if err != nil {
		return nil, err
	}
	if len(gone) > 0 {
		logf("deleted %d pod(s) and Secret(s) of runs interrupted by the service's end: %v", len(gone), gone)
	}
	t.StartIdle()
	return t.Legs(), nil
}
