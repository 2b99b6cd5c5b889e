package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runValidateCmd runs `runner validate ARGS...` in-process and returns its
// stdout and exit code.
func runValidateCmd(t *testing.T, stdin string, args ...string) (string, int) {
	t.Helper()
	cmd := newValidateCmd()
	cmd.SilenceErrors, cmd.SilenceUsage = true, true // as under the root command
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetIn(strings.NewReader(stdin))
	cmd.SetArgs(args)
	err := cmd.Execute()
	var ee *exitError
	switch {
	case err == nil:
		return out.String(), 0
	case errors.As(err, &ee):
		return out.String(), ee.code
	default:
		return out.String() + err.Error(), 2
	}
}

func TestValidateCmd(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(good, []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  k: v\n"), 0o644)
	os.WriteFile(bad, []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\ndata:\n  k: v\nbinaryData: 3\nextra: 1\n"), 0o644)

	out, code := runValidateCmd(t, "", good)
	if code != 0 || !strings.Contains(out, "1 document in 1 file: 1 valid") {
		t.Fatalf("good: exit %d\n%s", code, out)
	}
	out, code = runValidateCmd(t, "", dir)
	if code != 1 {
		t.Fatalf("bad: exit %d\n%s", code, out)
	}
	for _, want := range []string{
		bad + `:7:13: document 1 (ConfigMap b): /binaryData: expected object, got number`,
		bad + `:8:1: document 1 (ConfigMap b): /extra: unknown field "extra"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if out, code = runValidateCmd(t, "", "--strict=false", bad); code != 1 || strings.Contains(out, "extra") {
		t.Errorf("non-strict: exit %d\n%s", code, out)
	}

	out, code = runValidateCmd(t, "", "-o", "json", "--kubernetes-version", "1.36", bad)
	var doc struct {
		Problems []struct {
			File, Path, Message string
			Line, Column        int
		}
		Summary struct{ Invalid int }
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil || code != 1 {
		t.Fatalf("json: exit %d, %v\n%s", code, err, out)
	}
	if len(doc.Problems) != 2 || doc.Problems[1].Path != "/extra" || doc.Problems[1].Line != 8 || doc.Summary.Invalid != 1 {
		t.Errorf("json problems: %+v", doc)
	}

	if out, code = runValidateCmd(t, "apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n", "-"); code != 0 {
		t.Errorf("stdin: exit %d\n%s", code, out)
	}
	for _, args := range [][]string{{}, {"-o", "xml", good}, {"--kubernetes-version", "0.1", good}} {
		if out, code = runValidateCmd(t, "", args...); code != 2 {
			t.Errorf("%v: exit %d, want 2\n%s", args, code, out)
		}
	}
}
