package kube_test

import (
	"context"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/birdflock/runner/pkg/containertest"
	"github.com/birdflock/runner/pkg/kube"
	"github.com/birdflock/runner/pkg/kubetest"
	"github.com/birdflock/runner/pkg/registry/baseimage"
	"github.com/birdflock/runner/pkg/run"
)

// jsSteps write a JavaScript action (node20, with a post script) and use
// it: its input, output, state and post step, a child node by
// child_process.fork (process.execPath must be node itself), and the
// node it ran with.
const jsSteps = `
      - run: |
          mkdir -p act
          printf 'name: js\ninputs:\n  who: {required: true}\noutputs:\n  greeting: {}\nruns:\n  using: node20\n  main: index.js\n  post: post.js\n' > act/action.yml
          cat > act/index.js <<'EOF'
          const fs = require('fs'), cp = require('child_process');
          if (process.argv[2] === 'child') { process.send('forked'); process.exit(0); }
          const child = cp.fork(__filename, ['child']);
          child.on('message', m => {
            console.log('child said ' + m);
            console.log('node ' + process.execPath + ' ' + process.version);
            fs.appendFileSync(process.env.GITHUB_OUTPUT, 'greeting=hello ' + process.env.INPUT_WHO + '\n');
            fs.appendFileSync(process.env.GITHUB_STATE, 'said=yes\n');
          });
          EOF
          echo "console.log('post saw state ' + process.env.STATE_said)" > act/post.js
      - id: js
        uses: ./act
        with:
          who: pods
      - run: echo "output ${{ steps.js.outputs.greeting }}"
`

// TestJavaScriptActionInPod: the runner image brings node, as GitHub's
// runners do, so a JavaScript action runs in a job's pod as locally: its
// inputs, outputs, state, post step and a forked child.
func TestJavaScriptActionInPod(t *testing.T) {
	c := kubetest.Shared(t)
	tr := transport(t, c, kube.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	jsRan(t, runWorkflow(t, ctx, "on: push\njobs:\n  js:\n    runs-on: ubuntu-latest\n    steps:"+jsSteps, run.Options{Remote: tr.Legs()}), "/usr/local/bin/node")
}

// jsRan checks that jsSteps succeeded with the node at path.
func jsRan(t *testing.T, res *run.Result, node string) {
	t.Helper()
	log := jobLog(t, res)
	if res.Conclusion != "success" {
		t.Fatalf("conclusion %s:\n%s", res.Conclusion, log)
	}
	for _, want := range []string{"child said forked", "node " + node + " v", "output hello pods", "post saw state yes"} {
		if !strings.Contains(log, want) {
			t.Errorf("the job log lacks %q:\n%s", want, log)
		}
	}
}

var (
	noNodeOnce sync.Once
	noNodeRef  string
)

// noNodeImage stands for a glibc distribution's image without node
// (debian:12): runner's image without node (busybox, bash with glibc's
// loader) and the libraries this machine's node loads, not node itself.
// A job's container: image that can run the template's node.
func noNodeImage(t *testing.T, c *kubetest.Cluster) string {
	t.Helper()
	runnerImage(t, c) // builds runnerBin
	noNodeOnce.Do(func() {
		img, err := baseimage.Runner(context.Background(), baseimage.RunnerOptions{Binary: runnerBin})
		if err != nil {
			t.Fatal(err)
		}
		node, err := exec.LookPath("node")
		if err != nil {
			t.Fatal(err)
		}
		libs, err := baseimage.Libraries(context.Background(), baseimage.Options{}, node)
		if err != nil {
			t.Fatal(err)
		}
		if img, err = mutate.AppendLayers(img, libs); err != nil {
			t.Fatal(err)
		}
		noNodeRef = containertest.Push(t, img, c.RegistryAddr, "runner/no-node", "test")
	})
	if noNodeRef == "" {
		t.Fatal("no image without node")
	}
	return noNodeRef
}

// TestJavaScriptActionInJobContainer: a job's container: image without
// node gets the template image's, copied in beside runner (as GitHub
// mounts its own node into a job container), when it has the loader that
// node needs; an image without that loader or a node fails the action
// with a message saying so.
func TestJavaScriptActionInJobContainer(t *testing.T) {
	c := kubetest.Shared(t)
	image := noNodeImage(t, c)
	tr := transport(t, c, kube.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	jsRan(t, runWorkflow(t, ctx, "on: push\njobs:\n  js:\n    runs-on: ubuntu-latest\n    container: "+image+"\n    steps:"+jsSteps, run.Options{Remote: tr.Legs()}), "/__runner/node")

	res := runWorkflow(t, ctx, "on: push\njobs:\n  js:\n    runs-on: ubuntu-latest\n    container: "+c.BusyboxImage+"\n    steps:"+jsSteps, run.Options{Remote: tr.Legs()})
	log := jobLog(t, res)
	if res.Conclusion != "failure" {
		t.Fatalf("conclusion %s, want failure (busybox has neither node nor glibc's loader):\n%s", res.Conclusion, log)
	}
	if !strings.Contains(log, "no node on the PATH of the job's container: image, and runner's node (copied from the template's image) needs the dynamic loader /") || strings.Contains(log, "--node") {
		t.Errorf("the job log does not say why no node can run:\n%s", log)
	}
}
