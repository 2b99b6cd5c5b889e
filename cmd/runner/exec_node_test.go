package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/birdflock/runner/pkg/testenv"
)

// exec --node names the node that runs JavaScript actions; one that is
// not an executable file is a usage error.
func TestExecNodeFlag(t *testing.T) {
	real, err := exec.LookPath("node")
	if err != nil {
		testenv.Missing(t, "node is not on the PATH: apt-get install nodejs")
	}
	bin := buildRunner(t)
	dir := t.TempDir()
	mine := filepath.Join(dir, "my-node")
	if err := os.Symlink(real, mine); err != nil {
		t.Fatal(err)
	}
	wf := writeFile(t, dir, "wf.yaml", `on: push
jobs:
  a:
    runs-on: x
    steps:
      - run: |
          mkdir act
          echo "console.log('js ran with ' + process.argv[0])" > act/main.js
          printf 'runs:\n  using: node20\n  main: main.js\n' > act/action.yml
      - uses: ./act
`)
	out, err := exec.Command(bin, "exec", wf, "--state", filepath.Join(dir, "state"), "--node", mine).CombinedOutput()
	if err != nil || !strings.Contains(string(out), " at "+mine) || !strings.Contains(string(out), "js ran with ") {
		t.Errorf("--node %s: %v\n%s", mine, err, out)
	}
	out, err = exec.Command(bin, "exec", wf, "--state", filepath.Join(dir, "state"), "--node", dir).CombinedOutput()
	if exitCode(err) != 2 || !strings.Contains(string(out), "--node "+dir+": not an executable file") {
		t.Errorf("--node DIR: exit %d, want 2\n%s", exitCode(err), out)
	}
}
