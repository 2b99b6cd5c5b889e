package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runEval(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := newEvalCmd()
	var out, errb bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errb)
	cmd.SetArgs(args)
	cmd.SilenceUsage = true
	cmd.SilenceErrors = true
	err := cmd.Execute()
	var ee *exitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.code
	default:
		code = 2
	}
	return out.String(), errb.String(), code
}

func TestEvalCmd(t *testing.T) {
	ctx := filepath.Join(t.TempDir(), "ctx.json")
	if err := os.WriteFile(ctx, []byte(`{"github":{"event_name":"push","z":1,"a":[true,null]},"matrix":{"os":"linux"}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args   []string
		stdout string
		stderr string
		code   int
	}{
		{[]string{"1 + 1"}, "", "lexing: ", 1},
		{[]string{"0x10"}, "16\n", "", 0},
		{[]string{"--typed", "'a' == 'A'"}, "{\n  \"kind\": \"Boolean\",\n  \"value\": true\n}\n", "", 0},
		{[]string{"--contexts", ctx, "toJSON(github)"}, `"{\n  \"event_name\": \"push\",\n  \"z\": 1,\n  \"a\": [\n    true,\n    null\n  ]\n}"` + "\n", "", 0},
		{[]string{"--contexts", ctx, "--typed", "GITHUB.A"}, "{\n  \"kind\": \"Array\",\n  \"value\": [\n    true,\n    null\n  ]\n}\n", "", 0},
		{[]string{"--contexts", ctx, "env.X"}, "", "parsing: Unrecognized named-value: 'env'", 1},
		{[]string{"format('{0}{1}', 1)"}, "", "evaluation: ", 1},
		{[]string{"success() && !failure()"}, "true\n", "", 0},
	}
	for _, tt := range tests {
		out, errs, code := runEval(t, tt.args...)
		if code != tt.code || out != tt.stdout || !strings.HasPrefix(errs, tt.stderr) || (tt.stderr == "" && errs != "") {
			t.Errorf("eval %q: code %d, stdout %q, stderr %q; want %d, %q, %q...", tt.args, code, out, errs, tt.code, tt.stdout, tt.stderr)
		}
	}
	if _, _, code := runEval(t, "--contexts", filepath.Join(t.TempDir(), "missing.json"), "1"); code != 2 {
		t.Errorf("missing contexts file: code %d, want 2", code)
	}
}
