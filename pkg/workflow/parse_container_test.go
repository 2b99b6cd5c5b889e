package workflow_test

import (
	"reflect"
	"testing"

	"github.com/birdflock/runner/pkg/workflow"
)

func TestParseContainerOptions(t *testing.T) {
	o, err := workflow.ParseContainerOptions(`--user 1000:1000 -w /src --hostname=box -e A=1 --env "B=two words" -uroot`)
	if err != nil {
		t.Fatal(err)
	}
	want := workflow.ContainerOptions{User: "root", Workdir: "/src", Hostname: "box", Env: []string{"A=1", "B=two words"}}
	if !reflect.DeepEqual(o, want) {
		t.Errorf("got %+v, want %+v", o, want)
	}
	for _, bad := range []string{"--network host", "--user", "-w rel", "--entrypoint sh", "plain", `-e "A=1`} {
		if _, err := workflow.ParseContainerOptions(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestContainerParsed(t *testing.T) {
	w, errs := workflow.Parse("c.yaml", []byte(`on: push
jobs:
  a:
    runs-on: x
    container: alpine:3
    steps: [{run: echo}]
  b:
    runs-on: x
    container:
      image: img
      credentials: {username: u, password: p}
      env: {A: a}
      volumes: ["/srv:/srv:ro"]
    steps: [{run: echo}]
`))
	if errs != nil {
		t.Fatal(errs)
	}
	a, b := w.Jobs[0].Container, w.Jobs[1].Container
	if a == nil || a.Image.Raw != "alpine:3" || a.Line != 5 {
		t.Errorf("job a: %+v", a)
	}
	if b == nil || b.Image.Raw != "img" || b.Username.Raw != "u" || b.Password.Raw != "p" || len(b.Env) != 1 || len(b.Volumes) != 1 {
		t.Errorf("job b: %+v", b)
	}
	v, err := workflow.ParseContainerVolume(b.Volumes[0].Raw)
	if err != nil || v != (workflow.ContainerVolume{Source: "/srv", Target: "/srv", ReadOnly: true}) {
		t.Errorf("volume: %+v %v", v, err)
	}
}
