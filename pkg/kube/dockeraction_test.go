package kube_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/birdflock/runner/pkg/kube"
	"github.com/birdflock/runner/pkg/kubetest"
	"github.com/birdflock/runner/pkg/run"
	"github.com/birdflock/runner/pkg/steps"
)

// TestDockerStepInPod: a docker:// step of a job in a pod runs as a
// container of the job's own pod (an ephemeral container, pulled by the
// node) with GitHub's mounts: it reads what an earlier step wrote to the
// workspace, writes a file there, an output, an env for the next steps
// and a step summary, sees the event payload and its HOME, and its exit
// code is the step's. A step that times out has its container's processes
// stopped (the leg sees them: the container joined its process
// namespace), and the job's later steps run. A secret in the action's
// env and inputs reaches its process and neither the pod's spec nor the
// leg pod's log (where the container frames go), as does one in its args
// (through the container's env: $(RUNNER_ARG_n)), and so does a masked
// value that is no secret of the run (an output after ::add-mask::, one
// exported to GITHUB_ENV: sealed for the controller). No pod is left.
func TestDockerStepInPod(t *testing.T) {
	c := kubetest.Shared(t)
	tr := transport(t, c, kube.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	const secret = "robin-4f7e-secret"
	leaked := watchSpecs(t, c, tr.Client.Namespace, secret, "derived-value-9c2")
	// (The masked value is in the leg's log anyway: its step's script
	// writes it before ::add-mask:: masks it, as on GitHub.)
	inLog := watchLogs(t, c, tr.Client.Namespace, secret)
	// How each step container ended: pod/container=exit code.
	ended := pollPods(t, c, tr.Client.Namespace, 100*time.Millisecond, func(_ context.Context, p corev1.Pod) []string {
		var out []string
		for _, st := range p.Status.EphemeralContainerStatuses {
			if st.State.Terminated != nil {
				out = append(out, fmt.Sprintf("%s/%s=%d", p.Name, st.Name, st.State.Terminated.ExitCode))
			}
		}
		return out
	})
	res := runWorkflow(t, ctx, `on: push
jobs:
  docker:
    runs-on: ubuntu-latest
    steps:
      - run: echo from-the-leg > in-workspace.txt
      - id: d
        uses: docker://busybox
        env:
          GREETING: hello
          LITERAL: $(HOME) and $$
        with:
          entrypoint: /bin/sh
          args: -c "echo read $(cat in-workspace.txt) in $(pwd) as $GREETING, home $HOME, literal $LITERAL; echo from-the-action > out.txt; echo answer=42 >> $GITHUB_OUTPUT; echo FROM_ACTION=yes >> $GITHUB_ENV; echo '### summary from the action' >> $GITHUB_STEP_SUMMARY; test -s /github/workflow/event.json && test $GITHUB_EVENT_PATH = /github/workflow/event.json && echo the event is there"
      - run: |
          test "$(cat out.txt)" = from-the-action && echo "the action wrote the workspace"
          test "${{ steps.d.outputs.answer }}" = 42 && echo "the action's output reached the job"
          test "$FROM_ACTION" = yes && echo "the action's env reached the next step"
      - id: fails
        continue-on-error: true
        uses: docker://busybox
        with: {entrypoint: /bin/sh, args: -c "exit 3"}
      - run: echo "the failing action's outcome was ${{ steps.fails.outcome }}"
      - run: |
          cat > check.sh <<'EOF'
          echo "token $(printf %s "$TOKEN" | sha256sum | cut -c1-16) input $(printf %s "$INPUT_TOKEN" | sha256sum | cut -c1-16)"
          EOF
          echo 'echo "arg $(printf %s "$1" | sha256sum | cut -c1-16)"' > check-arg.sh
      - uses: docker://busybox
        env:
          TOKEN: prefix-${{ secrets.TOKEN }}
        with:
          token: ${{ secrets.TOKEN }}
          entrypoint: /bin/sh
          args: check.sh
      - id: masked
        run: |
          echo "::add-mask::derived-value-9c2"
          echo "v=derived-value-9c2" >> $GITHUB_OUTPUT
          echo "EXPORTED=pre-derived-value-9c2" >> $GITHUB_ENV
          echo 'echo "derived $(printf %s "$DERIVED" | sha256sum | cut -c1-16) exported $(printf %s "$EXPORTED" | sha256sum | cut -c1-16)"' > check-derived.sh
      - id: derived
        uses: docker://busybox
        env:
          DERIVED: ${{ steps.masked.outputs.v }}
        with: {entrypoint: /bin/sh, args: check-derived.sh}
      - uses: docker://busybox
        with: {entrypoint: /bin/sh, args: "check-arg.sh ${{ secrets.TOKEN }}"}
  timeout:
    runs-on: ubuntu-latest
    steps:
      - uses: docker://busybox
        timeout-minutes: 0.1
        with: {entrypoint: /bin/sleep, args: "3001"}
      - if: always()
        run: |
          sleep 1
          if ps -o args | grep -v grep | grep -q "sleep 3001"; then echo "the action's process still runs"; else echo "the action's process was stopped"; fi
`, run.Options{Remote: tr.Legs(), Secrets: map[string]string{"TOKEN": secret}})
	log := jobLog(t, res)
	results := map[string]string{}
	for _, j := range res.Jobs {
		results[j.Name] = j.Result
	}
	if results["docker"] != "success" || results["timeout"] != "failure" {
		t.Fatalf("results %v, want docker success and timeout failure:\n%s", results, log)
	}
	for _, want := range []string{
		"read from-the-leg in /github/workspace as hello, home /github/home, literal $(HOME) and $$",
		"the event is there",
		"the action wrote the workspace",
		"the action's output reached the job",
		"the action's env reached the next step",
		"Docker run failed with exit code 3",
		"the failing action's outcome was failure",
		"Running image busybox as container step-",
		"the step exceeded its timeout of 0.1 minutes",
		"the action's process was stopped",
		fmt.Sprintf("token %s input %s", sha16("prefix-"+secret), sha16(secret)),
		fmt.Sprintf("derived %s exported %s", sha16("derived-value-9c2"), sha16("pre-derived-value-9c2")),
		"arg " + sha16(secret),
	} {
		if !strings.Contains(log, want) {
			t.Errorf("the log lacks %q", want)
		}
	}
	// d, fails, the three secret checks, and the timed-out sleep.
	if n := strings.Count(log, "Running image busybox as container step-"); n != 6 {
		t.Errorf("%d containers ran, want 6", n)
	}
	if b, _ := os.ReadFile(filepath.Join(res.Dir, "summary.md")); !strings.Contains(string(b), "summary from the action") {
		t.Errorf("the step summary lacks the action's")
	}
	// The timed-out sleep was stopped by the ladder's first signal,
	// SIGINT (130), as GitHub's runner stops a step, not left to run.
	stopped := false
	for _, e := range ended() {
		if strings.HasPrefix(e, "runner-timeout-") && strings.HasSuffix(e, "=130") {
			stopped = true
		}
	}
	if !stopped {
		t.Errorf("the timed-out step's container did not end by SIGINT: %v", ended())
	}
	if strings.Contains(log, "still runs") {
		t.Errorf("a step container was left running")
	}
	if pods := leaked(); len(pods) > 0 {
		t.Errorf("the secret is in the spec of pods %v", pods)
	}
	if pods := inLog(); len(pods) > 0 {
		t.Errorf("the secret is in the log of pods %v", pods)
	}
	if strings.Contains(log, secret) {
		t.Errorf("the secret is in the job's log")
	}
	if t.Failed() {
		t.Logf("log:\n%s", log)
	}
	if left := pods(t, c, tr.Client.Namespace); len(left) > 0 {
		t.Errorf("pods left: %v", left)
	}
	noSecretsLeft(t, c, tr.Client.Namespace)
}

func sha16(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])[:16]
}

// watchLogs polls the logs of every pod of ns (each container's, the
// ephemeral ones too) until the test ends and returns the pod/container
// names whose log held one of words.
func watchLogs(t *testing.T, c *kubetest.Cluster, ns string, words ...string) func() []string {
	t.Helper()
	return pollPods(t, c, ns, 100*time.Millisecond, func(ctx context.Context, p corev1.Pod) []string {
		var names, out []string
		for _, ct := range p.Spec.Containers {
			names = append(names, ct.Name)
		}
		for _, ct := range p.Spec.EphemeralContainers {
			names = append(names, ct.Name)
		}
		for _, n := range names {
			data, err := c.Client.CoreV1().Pods(ns).GetLogs(p.Name, &corev1.PodLogOptions{Container: n}).DoRaw(ctx)
			if err == nil && containsAny(string(data), words) {
				out = append(out, p.Name+"/"+n)
			}
		}
		return out
	})
}

// TestDockerfileActionInPod: a Docker action whose image is a Dockerfile,
// used by a job in a pod, is built on the pods' BuildKit, goes through the
// scratch registry, and runs as a container of the job's pod with its
// args, inputs and outputs as locally; a second use reuses the image.
func TestDockerfileActionInPod(t *testing.T) {
	c := kubetest.Shared(t)
	bk := buildkitForPods(t, c)
	cfg := kube.Config{BuildkitHost: bk, ScratchRegistry: &kube.ScratchRegistry{Push: "http://" + c.PodRegistryAddr, Pull: c.RegistryAddr},
		// The BuildKit forward listens on the first node's bridge.
		Default: kube.PodTemplate{NodeSelector: map[string]string{"kubernetes.io/hostname": c.Nodes[0].Name}}}
	tr := transport(t, c, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	res := runWorkflow(t, ctx, `on: push
jobs:
  built:
    runs-on: ubuntu-latest
    steps:
      - run: |
          mkdir -p act
          printf 'FROM alpine:latest\nCOPY entry.sh /entry.sh\nENTRYPOINT ["/bin/sh", "/entry.sh"]\n' > act/Dockerfile
          cat > act/action.yml <<'EOF'
          name: built
          description: a Docker container action built from its Dockerfile
          inputs:
            who: {required: true}
          outputs:
            greeting: {description: what it said}
          runs:
            using: docker
            image: Dockerfile
            args: ['${{ '${{' }} inputs.who }}']
          EOF
          cat > act/entry.sh <<'EOF'
          echo "built-action arg=$1 input=$INPUT_WHO pwd=$(pwd)"
          echo "greeting=hi $1" >> "$GITHUB_OUTPUT"
          EOF
      - id: a
        uses: ./act
        with: {who: first}
      - uses: ./act
        with: {who: second}
      - run: test "${{ steps.a.outputs.greeting }}" = "hi first" && echo "the built action's output reached the job"
`, run.Options{Remote: tr.Legs(), Settings: tr.Config.PodSettings(steps.Settings{})})
	log := jobLog(t, res)
	if res.Conclusion != "success" {
		t.Fatalf("conclusion %s:\n%s", res.Conclusion, log)
	}
	for _, want := range []string{
		"built-action arg=first input=first pwd=/github/workspace",
		"built-action arg=second input=second",
		"Image of Dockerfile built before",
		"Running image " + c.RegistryAddr + "/runner/test-images@sha256:",
		"the built action's output reached the job",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("the log lacks %q:\n%s", want, log)
		}
	}
	if left := pods(t, c, tr.Client.Namespace); len(left) > 0 {
		t.Errorf("pods left: %v", left)
	}
}
