package expr

import (
	"testing"
)

var fuzzSeeds = []string{
	"github.event_name == 'push' && !contains(github.ref, 'tags')",
	"toJSON(fromJSON('{\"a\":[1,2,{\"b\":null}]}'))",
	"format('{0}-{{1}}', matrix.*, 0x1F, -.5e3)",
	"case(1 < 2, 'a', null >= 'x', 'b', 'c')",
	"foo[*][1]['x'].*",
	"join(steps.*.outputs.*, ', ')",
	"!!!(1) || (2 && (3 || NaN)) <= Infinity",
	"startsWith(github.ref, 'refs/') != endsWith('ΣAß', 'ς')",
	"'it''s' == 'IT''S'",
	"success() && always() || failure() || cancelled()",
	"((((((((((1))))))))))",
}

func fuzzEnv() *Env {
	v, _ := ParseJSON([]byte(`{"github":{"event_name":"push","ref":"refs/heads/main","event":{"commits":[{"id":"a"},{"id":"b"}]}},
		"matrix":{"os":"linux","n":[1,2,3]},"steps":{"s1":{"outputs":{"x":"1"}},"s2":{"outputs":{"y":"2"}}},"foo":[[1,2],{"x":[3]}]}`))
	o := v.(*Object)
	env := &Env{Contexts: map[string]any{}, Funcs: StatusFuncs(false, false)}
	for i, k := range o.Keys() {
		env.Contexts[k] = o.Values()[i]
	}
	env.Funcs["hashfiles"] = func([]any) (any, error) { return "", nil }
	return env
}

func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
		f.Add("prefix ${{ " + s + " }} suffix")
	}
	f.Fuzz(func(t *testing.T, src string) {
		n, err := Parse(src)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error is %T, want *Error", err)
			}
		} else if len(n.String()) <= MaxLength {
			// What we print must parse again (spaces may push it over the limit).
			if _, err := Parse(n.String()); err != nil {
				t.Fatalf("reparse of %q (printed %q): %v", src, n.String(), err)
			}
			Refs(n)
		}
		if tpl, err := ParseTemplate(src); err == nil {
			tpl.Exprs()
		} else if e, ok := err.(*Error); !ok || e.Offset < 0 || e.Offset > len(src) {
			t.Fatalf("template error %v has a bad offset", err)
		}
		_, _ = Condition(src)
	})
}

func FuzzEval(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	env := fuzzEnv()
	f.Fuzz(func(t *testing.T, src string) {
		n, err := Parse(src)
		if err != nil {
			return
		}
		v, err := Eval(n, env)
		if err != nil {
			if e, ok := err.(*Error); !ok || e.Kind != KindEvaluation {
				t.Fatalf("eval error %v is not an evaluation *Error", err)
			}
			return
		}
		// The printed form means the same (spaces may push it over the limit).
		if len(n.String()) > MaxLength {
			return
		}
		n2, err := Parse(n.String())
		if err != nil {
			t.Fatalf("reparse of %q: %v", n.String(), err)
		}
		v2, err := Eval(n2, env)
		if err != nil || compactJSON(v2) != compactJSON(v) {
			t.Fatalf("%q = %s, but printed %q = %s (%v)", src, compactJSON(v), n.String(), compactJSON(v2), err)
		}
		_ = ToJSON(v)
		_ = String(v)
		_ = Truthy(v)
		_ = KindOf(v)
	})
}

// BenchmarkEval measures a typical step condition, parsed once and
// evaluated with the implicit success().
func BenchmarkEval(b *testing.B) {
	n, err := Condition("github.event_name == 'push' && (startsWith(github.ref, 'refs/tags/') || contains(github.event.head_commit.message, '[release]')) && matrix.os != 'windows'")
	if err != nil {
		b.Fatal(err)
	}
	env := &Env{
		Contexts: map[string]any{
			"github": Normalize(map[string]any{
				"event_name": "push",
				"ref":        "refs/heads/main",
				"event":      map[string]any{"head_commit": map[string]any{"message": "Bump version [release]"}},
			}),
			"matrix": Normalize(map[string]any{"os": "linux"}),
		},
		Funcs: StatusFuncs(false, false),
	}
	b.ReportAllocs()
	for b.Loop() {
		v, err := Eval(n, env)
		if err != nil || v != true {
			b.Fatalf("got %v, %v", v, err)
		}
	}
}

// BenchmarkParseEval includes parsing, as for a condition seen once.
func BenchmarkParseEval(b *testing.B) {
	env := &Env{Contexts: map[string]any{"github": map[string]any{"event_name": "push"}}, Funcs: StatusFuncs(false, false)}
	b.ReportAllocs()
	for b.Loop() {
		n, err := Condition("${{ github.event_name == 'push' }}")
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Eval(n, env); err != nil {
			b.Fatal(err)
		}
	}
}
