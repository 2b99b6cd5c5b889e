package validate

import (
	"strings"
	"testing"
)

func TestClosest(t *testing.T) {
	declared := []string{"containerPort", "hostIP", "hostPort", "name", "protocol"}
	for name, want := range map[string]string{
		"containerport": "containerPort", // case slip
		"contanerPort":  "containerPort", // one edit
		"protcol":       "protocol",
		"hostport":      "hostPort",
		"nmae":          "name", // two edits
		"xyz":           "",
		"port":          "", // too far from everything
		"":              "",
	} {
		if got := closest(name, declared); got != want {
			t.Errorf("closest(%q) = %q, want %q", name, got, want)
		}
	}
}

func TestEditDistance(t *testing.T) {
	for _, c := range []struct {
		a, b  string
		limit int
		want  int
	}{
		{"kitten", "sitting", 10, 3},
		{"kitten", "sitting", 2, 2},
		{"", "abc", 10, 3},
		{"same", "same", 3, 0},
		{"a", "abcdef", 3, 3},
	} {
		if got := editDistance(c.a, c.b, c.limit); got != c.want {
			t.Errorf("editDistance(%q, %q, %d) = %d, want %d", c.a, c.b, c.limit, got, c.want)
		}
	}
}

// Problems name fields, never values: manifests hold secrets.
func TestProblemsDoNotShowValues(t *testing.T) {
	v, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	data := "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  pin: 987654321\n  flag: YES\n  list: [hunter2]\n  map: {k: hunter3}\ndata: hunter4\ntype: [hunter5]\n"
	res := v.Validate("secret.yaml", []byte(data))
	if len(res.Problems) != 6 {
		t.Fatalf("%d problems: %v", len(res.Problems), res.Problems)
	}
	for _, p := range res.Problems {
		for _, secret := range []string{"987654321", "hunter", "YES"} {
			if strings.Contains(p.Path+p.Message, secret) {
				t.Errorf("%q shown in %s", secret, p)
			}
		}
	}
}
