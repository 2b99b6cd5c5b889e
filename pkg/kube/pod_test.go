package kube

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/birdflock/runner/pkg/run"
	"github.com/birdflock/runner/pkg/steps"
)

func TestLegPodTemplatesAndLabels(t *testing.T) {
	c := &Config{
		Image: "reg/runner:1",
		Templates: map[string]PodTemplate{
			"big": {Image: "reg/big:1", NodeSelector: map[string]string{"size": "big"},
				Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Gi")}}},
			"gpu": {ServiceAccountName: "builder"},
		},
	}
	leg := Leg{RunID: 41, Attempt: 2, Job: "Build_Back.End/with spaces and a very long name that goes past sixty-three characters", Key: "build (1.22)", Labels: []string{"self-hosted", "gpu", "big"}}
	p := c.legPod("serve-host:/var/lib/runner", "ci", leg)
	// The first of the job's labels that has a template wins: gpu, whose
	// image is the executor's default.
	if got := p.Spec.Containers[0].Image; got != "reg/runner:1" {
		t.Errorf("image %q, want the default (gpu's template has none)", got)
	}
	if p.Spec.ServiceAccountName != "builder" || p.Spec.AutomountServiceAccountToken == nil || !*p.Spec.AutomountServiceAccountToken {
		t.Errorf("service account: %q automount %v", p.Spec.ServiceAccountName, p.Spec.AutomountServiceAccountToken)
	}
	if errs := validation.ValidateLabels(p.Labels, field.NewPath("labels")); len(errs) > 0 {
		t.Errorf("labels are not valid: %v", errs)
	}
	if p.Labels[LabelRun] != "41" || p.Labels[LabelAttempt] != "2" || p.Annotations[AnnotationLeg] != "build (1.22)" {
		t.Errorf("labels %v annotations %v", p.Labels, p.Annotations)
	}
	if !strings.HasPrefix(p.GenerateName, "runner-build-back-end-with-spaces") || len(p.GenerateName) > 63-5 {
		t.Errorf("generateName %q", p.GenerateName)
	}
	sel, err := labels.Parse(instanceSelector("serve-host:/var/lib/runner"))
	if err != nil || !sel.Matches(labels.Set(p.Labels)) {
		t.Errorf("the instance selector %v does not match the pod's labels %v (%v)", sel, p.Labels, err)
	}
	if other, _ := labels.Parse(instanceSelector("another")); other.Matches(labels.Set(p.Labels)) {
		t.Error("another instance's selector matches the pod")
	}
	c2 := c.legPod("i", "ci", Leg{Job: "b", Labels: []string{"big"}})
	if c2.Spec.Containers[0].Image != "reg/big:1" || c2.Spec.NodeSelector["size"] != "big" || *c2.Spec.AutomountServiceAccountToken {
		t.Errorf("big template not applied: %+v", c2.Spec)
	}
	if got := c2.Spec.Containers[0].Command; strings.Join(got, " ") != "/usr/local/bin/runner job --stdio" || !c2.Spec.Containers[0].Stdin || !c2.Spec.Containers[0].StdinOnce {
		t.Errorf("command %v", got)
	}
	// A container: job whose steps may run a JavaScript action gets the
	// template image's node copied in beside runner; one without does not.
	for _, node := range []bool{true, false} {
		p := c.legPod("i", "ci", Leg{Job: "b", Container: &run.LegContainer{Image: "debian:12", Node: node}})
		cmd, init := strings.Join(p.Spec.Containers[0].Command, " "), strings.Join(p.Spec.InitContainers[0].Command, " ")
		copied := strings.Contains(init, `if n=$(command -v node); then cp "$n" /__runner/node || rm -f /__runner/node; fi`)
		named := false
		for _, e := range p.Spec.Containers[0].Env {
			named = named || e.Name == run.BundledNodeEnv && e.Value == "/__runner/node"
		}
		if copied != node || named != node || cmd != "/__runner/runner job --stdio" {
			t.Errorf("Node %v: command %q, init %q, env %v", node, cmd, init, p.Spec.Containers[0].Env)
		}
	}
}

func terminated(reason string, code int32) *corev1.Pod {
	return &corev1.Pod{
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: containerName,
			Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")}}}}},
		Status: corev1.PodStatus{Phase: corev1.PodFailed, ContainerStatuses: []corev1.ContainerStatus{{Name: containerName,
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: reason, ExitCode: code}}}}},
	}
}

func TestEndReasons(t *testing.T) {
	oom := terminated("OOMKilled", 137)
	oom.Name = "p1"
	if err := endReason(oom); err == nil || !strings.Contains(err.Error(), "OOMKilled (limit 64Mi)") {
		t.Errorf("OOM: %v", err)
	}
	evicted := &corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodFailed, Reason: "Evicted", Message: "The node was low on resource: memory."}}
	if err := endReason(evicted); err == nil || !strings.Contains(err.Error(), "Evicted: The node was low") {
		t.Errorf("evicted: %v", err)
	}
	deadline := &corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodFailed, Reason: "DeadlineExceeded", Message: "Pod was active on the node longer than the specified deadline"}}
	if err := endReason(deadline); err == nil || !strings.Contains(err.Error(), "DeadlineExceeded") {
		t.Errorf("deadline: %v", err)
	}
	if err := endReason(terminated("Error", 2)); err == nil || !strings.Contains(err.Error(), "exited with code 2") {
		t.Errorf("exit 2: %v", err)
	}
	ok := terminated("Completed", 0)
	ok.Status.Phase = corev1.PodSucceeded
	if err := endReason(ok); err != nil {
		t.Errorf("exit 0: %v", err)
	}
}

func TestStartStates(t *testing.T) {
	p := &corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{{Name: containerName,
		State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}}}}}}
	if ready, err := startState(p); ready || err != nil {
		t.Errorf("creating: %v %v", ready, err)
	}
	p.Status.ContainerStatuses[0].State.Waiting = &corev1.ContainerStateWaiting{Reason: "ErrImagePull", Message: "pull access denied"}
	if _, err := startState(p); err == nil || !strings.Contains(err.Error(), "ErrImagePull: pull access denied") {
		t.Errorf("pull error: %v", err)
	}
	p.Status.ContainerStatuses[0].State = corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
	if ready, err := startState(p); !ready || err != nil {
		t.Errorf("running: %v %v", ready, err)
	}
	unsched := &corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: "Unschedulable", Message: "0/1 nodes are available"}}}}
	if why := pendingWhy(unsched); !strings.Contains(why, "Unschedulable: 0/1 nodes") {
		t.Errorf("pending: %s", why)
	}
}

func TestParseConfig(t *testing.T) {
	c, err := ParseConfig([]byte(`
kind: kubernetes
namespace: ci
image: 127.0.0.1:5000/runner/runner:1
start-timeout: 90s
templates:
  big:
    resources: {limits: {memory: 2Gi, cpu: "2"}}
    nodeSelector: {size: big}
    tolerations: [{key: dedicated, operator: Equal, value: ci, effect: NoSchedule}]
`))
	if err != nil {
		t.Fatal(err)
	}
	mem := c.Templates["big"].Resources.Limits[corev1.ResourceMemory]
	if c.startTimeout().Seconds() != 90 || mem.Cmp(resource.MustParse("2Gi")) != 0 || c.Templates["big"].Tolerations[0].Effect != corev1.TaintEffectNoSchedule {
		t.Errorf("parsed %+v", c)
	}
	if _, err := ParseConfig([]byte("namespace: ci\ntemplate: {}\n")); err == nil || !strings.Contains(err.Error(), `unknown field "template"`) {
		t.Errorf("a typo: %v", err)
	}
	if _, err := ParseConfig([]byte("kind: docker\n")); err == nil {
		t.Error("kind docker accepted")
	}
}

// TestTemplateEnvAndRegistry: a template's env is set in the leg
// container (read strictly: a bad name or a RUNNER_* variable is an error
// naming the template), and the executor's registry is what `embedded`
// stands for in the pods' settings.
func TestTemplateEnvAndRegistry(t *testing.T) {
	c, err := ParseConfig([]byte(`
registry: http://10.0.0.1:5000
default:
  env: [{name: GOPROXY, value: "off"}]
templates:
  ubuntu-latest:
    env:
      - {name: GOFLAGS, value: -mod=mod}
      - {name: npm_config_offline, value: "true"}
`))
	if err != nil {
		t.Fatal(err)
	}
	env := func(p *corev1.Pod) map[string]string {
		m := map[string]string{}
		for _, e := range p.Spec.Containers[0].Env {
			m[e.Name] = e.Value
		}
		return m
	}
	if got := env(c.legPod("i", "ci", Leg{Job: "b", Labels: []string{"ubuntu-latest"}})); got["GOFLAGS"] != "-mod=mod" || got["npm_config_offline"] != "true" || len(got) != 2 {
		t.Errorf("ubuntu-latest's env: %v", got)
	}
	if got := env(c.legPod("i", "ci", Leg{Job: "b", Labels: []string{"other"}})); got["GOPROXY"] != "off" || len(got) != 1 {
		t.Errorf("the default's env: %v", got)
	}
	if got := env(c.legPod("i", "ci", Leg{Job: "b", Container: &run.LegContainer{Image: "node:20"}})); got["GOPROXY"] != "off" || got["TMPDIR"] != "/__runner/tmp" {
		t.Errorf("a container job's env: %v", got)
	}
	if s := c.PodSettings(steps.Settings{}); s.Registry != "http://10.0.0.1:5000" {
		t.Errorf("pod settings: %+v", s)
	}
	for bad, want := range map[string]string{
		"templates: {x: {env: [{name: 'A B', value: v}]}}":      `templates.x.env[0].name "A B"`,
		"default: {env: [{name: RUNNER_TOKEN, value: v}]}":      "default.env[0].name RUNNER_TOKEN",
		"default: {env: [{name: A, valueFrom: {}}]}":            `unknown field "default.env[0].valueFrom"`,
		"templates: {x: {env: [{name: A, value: v, valu: w}]}}": `unknown field "templates.x.env[0].valu"`,
	} {
		if _, err := ParseConfig([]byte(bad)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %s", bad, err, want)
		}
	}
}
