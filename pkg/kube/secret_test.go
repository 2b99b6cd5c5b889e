package kube

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/birdflock/runner/pkg/registry"
	"github.com/birdflock/runner/pkg/run"
	corev1 "k8s.io/api/core/v1"
)

// TestLegSecret: a leg's Secret holds its services' secret env and, when
// its container: or a service has credentials:, the docker config the
// kubelet pulls with (then it is a dockerconfigjson Secret, one entry per
// registry host); none is made without either; two different
// credentials for one registry are refused, naming both.
func TestLegSecret(t *testing.T) {
	hub := &registry.Credential{Registry: "index.docker.io", Username: "mona", Password: "pw-1"}
	own := &registry.Credential{Registry: "reg.example:5000", Username: "ci", Password: "pw-2"}
	if s, err := legSecret("i", "ns", Leg{Job: "plain", Services: []run.LegService{{Label: "db", Env: []string{"A=b"}}}}); s != nil || err != nil {
		t.Errorf("a leg without secrets: %v, %v", s, err)
	}
	s, err := legSecret("i", "ns", Leg{Job: "env", Services: []run.LegService{{Label: "db", SecretEnv: []string{"PW=x"}}}})
	if err != nil || s == nil || s.Type != corev1.SecretTypeOpaque || string(s.Data["s0-0"]) != "x" {
		t.Errorf("secret env only: %+v, %v", s, err)
	}
	leg := Leg{
		Job:       "both",
		Container: &run.LegContainer{Image: "redis:7", Credentials: hub},
		Services: []run.LegService{
			{Label: "db", Image: "reg.example:5000/db", SecretEnv: []string{"PW=x"}, Credentials: own},
			{Label: "cache", Image: "redis:7", Credentials: hub},
		},
	}
	s, err = legSecret("i", "ns", leg)
	if err != nil || s == nil || s.Type != corev1.SecretTypeDockerConfigJson || string(s.Data["s0-0"]) != "x" {
		t.Fatalf("credentials and secret env: %+v, %v", s, err)
	}
	var cfg struct {
		Auths map[string]struct{ Username, Password, Auth string }
	}
	if err := json.Unmarshal(s.Data[corev1.DockerConfigJsonKey], &cfg); err != nil {
		t.Fatal(err)
	}
	if len(cfg.Auths) != 2 || cfg.Auths["index.docker.io"].Auth != "bW9uYTpwdy0x" || cfg.Auths["reg.example:5000"].Password != "pw-2" {
		t.Errorf("docker config %+v", cfg.Auths)
	}
	if got := secretHolds(s); got != "its services' env holds secrets and its images need credentials" {
		t.Errorf("secretHolds: %q", got)
	}
	leg.Services[1].Credentials = &registry.Credential{Registry: "index.docker.io", Username: "other", Password: "pw-3"}
	_, err = legSecret("i", "ns", leg)
	if err == nil || !strings.Contains(err.Error(), "container and services.cache have different credentials for registry index.docker.io") || strings.Contains(err.Error(), "pw-") {
		t.Errorf("conflicting credentials: %v", err)
	}
}
