package workflow

import "testing"

func TestDidYouMean(t *testing.T) {
	for _, c := range []struct {
		name  string
		cands []string
		want  string
	}{
		{"sah", []string{"sha", "path", "ref"}, `; did you mean "sha"?`},
		{"gitub", []string{"github", "env"}, `; did you mean "github"?`},
		{"versoin", []string{"version", "build"}, `; did you mean "version"?`},
		{"x", []string{"y", "xy"}, ""}, // one edit of one letter is no evidence
		{"refname", []string{"ref_name", "ref_type"}, `; did you mean "ref_name"?`},
		{"arc", []string{"arch", "os"}, `; did you mean "arch"?`},
		{"zzzz", []string{"build", "test"}, ""},
		{"Build", []string{"build"}, ""}, // the same name: nothing to suggest
		{"tst", []string{"test", "tsa"}, `; did you mean "test" or "tsa"?`},
	} {
		if got := didYouMean(c.name, c.cands); got != c.want {
			t.Errorf("didYouMean(%q, %v) = %q, want %q", c.name, c.cands, got, c.want)
		}
	}
}
