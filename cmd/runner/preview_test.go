package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// A bad --pids-limit or --memory-limit is refused before anything starts.
func TestPreviewLimitFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--pids-limit", "0"}, `preview: --pids-limit: pids limit "0": want a number of processes`},
		{[]string{"--memory-limit", "1m"}, `preview: --memory-limit: memory limit "1m": want a size of at least 6m`},
		{[]string{"--memory-limit", "lots"}, `preview: --memory-limit: memory limit "lots"`},
	} {
		cmd := newPreviewCmd()
		cmd.SilenceErrors, cmd.SilenceUsage = true, true
		var out bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(&out)
		cmd.SetArgs(append(tc.args, "--repo", t.TempDir()))
		err := cmd.Execute()
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != 2 || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err = %v, want exit 2 with %q", tc.args, err, tc.want)
		}
	}
}
