package run

import (
	"reflect"
	"testing"
)

func TestShellArgv(t *testing.T) {
	for _, c := range []struct {
		tmpl string
		want []string
	}{
		{"bash --noprofile --norc -eo pipefail {0}", []string{"bash", "--noprofile", "--norc", "-eo", "pipefail", "/t/s p.sh"}},
		{`bash -c "echo custom-arg {0}; cat {0}"`, []string{"bash", "-c", "echo custom-arg /t/s p.sh; cat /t/s p.sh"}},
		{`perl -e 'print 1' {0}`, []string{"perl", "-e", "'print", "1'", "/t/s p.sh"}},
		{`prog a\"b "c\\" "x""y" d\\e`, []string{"prog", `a"b`, `c\`, `x"y`, `d\\e`, "/t/s p.sh"}},
		{"python", []string{"python", "/t/s p.sh"}},
	} {
		if got := shellArgv(c.tmpl, "/t/s p.sh"); !reflect.DeepEqual(got, c.want) {
			t.Errorf("shellArgv(%q) = %q, want %q", c.tmpl, got, c.want)
		}
	}
}
