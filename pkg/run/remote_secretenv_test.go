package run

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// TestSplitSecrets: a container beside the leg gets its env values and
// args that hold the run's secrets as references (the frame holds no
// secret), which the controller puts together again; a value that holds
// a secret otherwise is refused, naming the entry and not the value.
func TestSplitSecrets(t *testing.T) {
	m := &Masker{}
	secrets := map[string]string{"TOKEN": "tok-3f9a", "LONG": "tok-3f9a-longer"}
	for _, v := range secrets {
		m.Add(v)
	}
	m.Add("derived-77c1")
	lc := &legContainers{masker: m, secrets: secrets}
	plain, secret, err := lc.splitSecrets([]string{"A=plain", "B=x-tok-3f9a-y", "C=tok-3f9a-longer/tok-3f9a"})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(plain, []string{"A=plain"}) || len(secret) != 2 {
		t.Fatalf("plain %v, secret %+v", plain, secret)
	}
	args, refs, secret, err := lc.splitSecretArgs([]string{"-c", "tok-3f9a"}, secret)
	if err != nil || !reflect.DeepEqual(args, []string{"-c", ""}) || refs[1] != "RUNNER_ARG_2" || len(secret) != 3 {
		t.Fatalf("args %q refs %v secret %+v: %v", args, refs, secret, err)
	}
	frame, _ := json.Marshal(wireContainer{Env: plain, Command: args, SecretEnv: secret, SecretArgs: refs})
	for _, v := range secrets {
		if strings.Contains(string(frame), v) {
			t.Errorf("the frame holds a secret: %s", frame)
		}
	}
	want := map[string]string{"B": "x-tok-3f9a-y", "C": "tok-3f9a-longer/tok-3f9a", "RUNNER_ARG_2": "tok-3f9a"}
	for _, e := range secret {
		got, err := e.resolve(secrets, nil)
		if err != nil || got != want[e.Name] {
			t.Errorf("%s resolves to %q, %v; want %q", e.Name, got, err, want[e.Name])
		}
	}
	if _, err := (wireSecretEnv{Name: "X", Parts: []wirePart{{Secret: "NONE"}}}).resolve(secrets, nil); err == nil {
		t.Errorf("an unknown secret resolved")
	}
	// Without the controller's key, a masked value that is no secret is
	// refused, naming the entry and not the value; with it, sealed.
	_, _, err = lc.splitSecrets([]string{"D=pre-derived-77c1"})
	if err == nil || !strings.Contains(err.Error(), "env D holds a secret that is not one of the run's secrets") || strings.Contains(err.Error(), "derived-77c1") {
		t.Errorf("a masked value that is no secret, no key: %v", err)
	}
	lc.sealKey = make([]byte, 32)
	for i := range lc.sealKey {
		lc.sealKey[i] = byte(i)
	}
	_, sealed, err := lc.splitSecrets([]string{"D=pre-derived-77c1"})
	if err != nil || len(sealed) != 1 {
		t.Fatalf("sealed: %+v, %v", sealed, err)
	}
	if frame, _ := json.Marshal(sealed); strings.Contains(string(frame), "derived-77c1") {
		t.Errorf("the frame holds the masked value: %s", frame)
	}
	if got, err := sealed[0].resolve(secrets, lc.sealKey); err != nil || got != "pre-derived-77c1" {
		t.Errorf("unsealed %q, %v", got, err)
	}
	if _, err := sealed[0].resolve(secrets, make([]byte, 32)); err == nil {
		t.Errorf("opened with another key")
	}
}
