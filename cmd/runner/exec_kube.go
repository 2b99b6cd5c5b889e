package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/birdflock/runner/pkg/kube"
	"github.com/birdflock/runner/pkg/run"
	"github.com/birdflock/runner/pkg/steps"
)

// kubeFlags are runner exec's flags for --executor kubernetes.
type kubeFlags struct {
	config     string // --executor-config: the executor section as in serve's config
	kubeconfig string
	namespace  string
	image      string
}

func (k *kubeFlags) add(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&k.config, "executor-config", "", "YAML file of the Kubernetes executor's settings, as serve's executor section (docs/kubernetes.md)")
	f.StringVar(&k.kubeconfig, "kubeconfig", "", "kubeconfig of --executor kubernetes (default: in-cluster, then $KUBECONFIG, then ~/.kube/config)")
	f.StringVar(&k.namespace, "namespace", "", "namespace of the job pods of --executor kubernetes (default: the kubeconfig context's)")
	f.StringVar(&k.image, "image", "", "image of the job pods of --executor kubernetes: it must hold runner at /usr/local/bin/runner")
}

// transport connects to the cluster the flags name; settings become the
// pods' (the executor's buildkit-host and registry-mirrors).
func (k *kubeFlags) transport(settings *steps.Settings) (run.LegTransport, error) {
	c := &kube.Config{}
	if k.config != "" {
		data, err := os.ReadFile(k.config)
		if err != nil {
			return nil, err
		}
		if c, err = kube.ParseConfig(data); err != nil {
			return nil, fmt.Errorf("%s: %w", k.config, err)
		}
	}
	if k.kubeconfig != "" {
		c.Kubeconfig = k.kubeconfig
	}
	if k.namespace != "" {
		c.Namespace = k.namespace
	}
	if k.image != "" {
		c.Image = k.image
	}
	*settings = c.PodSettings(*settings)
	cl, err := kube.Connect(c)
	if err != nil {
		return nil, err
	}
	host, _ := os.Hostname()
	t := &kube.Transport{Config: c, Client: cl, Instance: fmt.Sprintf("exec-%s-%d", host, os.Getpid())}
	// A wrong namespace or a kubeconfig without rights is a usage error
	// (exit 2) before the run starts, not a failure of every job.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := t.Check(ctx); err != nil {
		return nil, err
	}
	// One run: its idle pods (a template's idle: N), which the caller
	// starts ahead of the run's jobs, are not replaced; the caller closes
	// the transport at the end.
	t.OneRun = true
	return t.Legs(), nil
}
