package kube

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/birdflock/runner/pkg/validate"
	"github.com/birdflock/runner/pkg/yamllint"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"
)

const deployDir = "../../deploy/kubernetes"

// TestDeployManifests checks deploy/kubernetes as its users' CI would:
// runner validate --strict and runner lint find nothing.
func TestDeployManifests(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(deployDir, "*.yaml"))
	if err != nil || len(files) < 5 {
		t.Fatalf("deploy manifests: %v %v", files, err)
	}
	v, err := validate.New(validate.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if res := v.Validate(f, data); len(res.Problems) > 0 {
			t.Errorf("runner validate --strict %s: %+v", f, res.Problems)
		}
		problems, err := yamllint.LintFile("", f, yamllint.DefaultConfig())
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range problems {
			t.Errorf("runner lint %s: %+v", f, p)
		}
	}
}

// TestDeployRoleIsTheExecutorsRules: the Role grants what the executor
// uses (Rules), nothing more.
func TestDeployRoleIsTheExecutorsRules(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(deployDir, "10-rbac.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, doc := range strings.Split(string(data), "\n---\n") {
		var role rbacv1.Role
		if err := yaml.Unmarshal([]byte(doc), &role); err != nil {
			t.Fatal(err)
		}
		if role.Kind != "Role" {
			continue
		}
		found = true
		if !reflect.DeepEqual(role.Rules, Rules) {
			t.Errorf("deploy/kubernetes Role rules\n%+v\nwant kube.Rules\n%+v", role.Rules, Rules)
		}
	}
	if !found {
		t.Error("no Role in 10-rbac.yaml")
	}
}

// TestDeployExecutorConfig: the deployed service's executor section is
// read as serve reads it (strictly), and gives the job pods the addresses
// they reach for build-image (the buildkitd Service) and for `registry:
// embedded` (the registry Service): without them a pod's build-image
// would start a BuildKit it has no privilege for, and its push-image
// would push to a registry inside the pod.
func TestDeployExecutorConfig(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(deployDir, "20-config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var cm struct {
		Data map[string]string `json:"data"`
	}
	if err := yaml.Unmarshal(data, &cm); err != nil {
		t.Fatal(err)
	}
	var serve struct {
		Executor map[string]any `json:"executor"`
	}
	if err := yaml.Unmarshal([]byte(cm.Data["config.yaml"]), &serve); err != nil {
		t.Fatal(err)
	}
	section, err := yaml.Marshal(serve.Executor)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseConfig(section)
	if err != nil {
		t.Fatal(err)
	}
	if c.BuildkitHost != "tcp://buildkitd.runner.svc:1234" || c.Registry != "http://registry.runner.svc:5000" {
		t.Errorf("the pods' buildkit-host %q and registry %q: want the buildkitd and registry Services", c.BuildkitHost, c.Registry)
	}
}
