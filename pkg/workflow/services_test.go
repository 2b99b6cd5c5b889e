package workflow

import (
	"reflect"
	"testing"
	"time"
)

func TestParseServiceOptions(t *testing.T) {
	o, err := ParseServiceOptions(`--health-cmd "redis-cli -p 6379 ping" --health-interval=2s --health-timeout 1s
  --health-retries 7 --health-start-period 500ms -e A=1 --env "B=two words" -eC=3 --entrypoint=/bin/sh`)
	if err != nil {
		t.Fatal(err)
	}
	want := ServiceOptions{
		HealthCmd: "redis-cli -p 6379 ping", HealthInterval: 2 * time.Second, HealthTimeout: time.Second,
		HealthRetries: 7, HealthStartPeriod: 500 * time.Millisecond, Env: []string{"A=1", "B=two words", "C=3"},
		Entrypoint: "/bin/sh", EntrypointSet: true,
	}
	if !reflect.DeepEqual(o, want) {
		t.Errorf("got %+v\nwant %+v", o, want)
	}
	o, err = ParseServiceOptions("")
	if err != nil || o.HealthCmd != "" || o.HealthInterval != 30*time.Second || o.HealthRetries != 3 {
		t.Errorf("defaults: %+v %v", o, err)
	}
	for in, off := range map[string]int{
		"--health-cmd 'x":             13,
		"--health-retries x":          17,
		"--health-cmd x --cpus 2":     15,
		"-e":                          0,
		"--health-timeout -1s":        17,
		"redis-cli ping":              0,
		"--health-cmd ok --user 1000": 16,
	} {
		_, err := ParseServiceOptions(in)
		oe, ok := err.(*OptionError)
		if !ok || oe.Offset != off {
			t.Errorf("%q: got %v (%#v), want an error at offset %d", in, err, err, off)
		}
	}
}

func TestParseServicePort(t *testing.T) {
	for in, want := range map[string]ServicePort{
		"6379": {6379, 0}, "8080:80": {80, 8080}, "127.0.0.1:8080:80": {80, 8080},
		"localhost::80": {80, 0}, "80/tcp": {80, 0}, " 5432:5432 ": {5432, 5432},
	} {
		got, err := ParseServicePort(in)
		if err != nil || got != want {
			t.Errorf("%q: got %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "x", "0", "70000", "1:2:3:4", "10.0.0.1:80:80", "53/udp", "a:80"} {
		if _, err := ParseServicePort(in); err == nil {
			t.Errorf("%q: no error", in)
		}
	}
}
