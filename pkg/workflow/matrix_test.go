package workflow_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/birdflock/runner/pkg/workflow"
	"github.com/birdflock/runner/pkg/workflow/expr"
	"gopkg.in/yaml.v3"
)

// legs decodes the strategy.matrix of a one-job workflow, evaluating its
// expressions with the real evaluator, and returns the legs' names.
func legs(t *testing.T, matrix string, contexts map[string]any) ([]workflow.Combo, string) {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte("matrix: "+matrix), &doc); err != nil {
		t.Fatal(err)
	}
	node := doc.Content[0].Content[1]
	m, err := workflow.DecodeMatrix(node, func(src string) (any, error) {
		tmpl, err := expr.ParseTemplate(src)
		if err != nil {
			return nil, err
		}
		return tmpl.EvalExact(&expr.Env{Contexts: contexts})
	})
	if err != nil {
		t.Fatalf("%s: %v", matrix, err)
	}
	combos, err := m.Combos()
	if err != nil {
		t.Fatalf("%s: %v", matrix, err)
	}
	names := make([]string, len(combos))
	for i, c := range combos {
		names[i] = "t" + c.Suffix()
	}
	return combos, strings.Join(names, "|")
}

func TestMatrixFromExpressions(t *testing.T) {
	needs := map[string]any{"gen": map[string]any{"outputs": map[string]any{"m": `{"v":[1,2],"os":["a"]}`}}}
	for _, tc := range []struct{ matrix, want string }{
		{`${{ fromJSON('{"v":[1,2]}') }}`, "t (1)|t (2)"},
		// Key order is the JSON's, not sorted.
		{`${{ fromJSON(needs.gen.outputs.m) }}`, "t (1, a)|t (2, a)"},
		{`{include: '${{ fromJSON(''[{"v":1},{"v":2}]'') }}'}`, "t (1)|t (2)"},
		{`{v: '${{ fromJSON(''[1,2]'') }}', include: ['${{ fromJSON(''{"v":2,"x":"y"}'') }}']}`, "t (1)|t (2, y)"},
		{`{v: [1, 2], exclude: '${{ fromJSON(''[{"v":1}]'') }}'}`, "t (2)"},
		// Nested objects are matrix values; an include matching them by value extends the leg.
		{`{cfg: ['${{ fromJSON(''{"b":1,"a":2}'') }}', {c: 3}], include: [{cfg: {a: 2, b: 1}, x: 1}]}`, "t (2, 1, 1)|t (3)"},
	} {
		if _, got := legs(t, tc.matrix, map[string]any{"needs": needs}); got != tc.want {
			t.Errorf("%s\n got %s\nwant %s", tc.matrix, got, tc.want)
		}
	}
}

func TestMatrixValuesKeepOrder(t *testing.T) {
	combos, _ := legs(t, `{cfg: [{z: 1, a: {y: 2, b: 3}}]}`, nil)
	v := expr.Normalize(combos[0].Values["cfg"])
	s, err := expr.Eval(mustParse(t, "toJSON(cfg)"), &expr.Env{Contexts: map[string]any{"cfg": v}})
	if err != nil {
		t.Fatal(err)
	}
	want := "{\n  \"z\": 1,\n  \"a\": {\n    \"y\": 2,\n    \"b\": 3\n  }\n}"
	if s != want {
		t.Fatalf("toJSON(matrix.cfg) =\n%s\nwant\n%s", s, want)
	}
}

// Legs added by include list their values in the order the keys are written.
func TestMatrixIncludeNameOrder(t *testing.T) {
	for _, tc := range []struct{ matrix, want string }{
		{`{include: [{v: 3, exp: true}]}`, "t (3, true)"},
		{`{os: [a], include: [{os: a, z: 1, b: 2}, {os: c, z: 1, b: 2}]}`, "t (a, 1, 2)|t (c, 1, 2)"},
	} {
		if _, got := legs(t, tc.matrix, nil); got != tc.want {
			t.Errorf("%s\n got %s\nwant %s", tc.matrix, got, tc.want)
		}
	}
}

func TestComboContext(t *testing.T) {
	combos, _ := legs(t, `{z: [1], a: [x]}`, nil)
	out, err := expr.Eval(mustParse(t, "toJSON(matrix)"), &expr.Env{Contexts: map[string]any{"matrix": combos[0].Context()}})
	if err != nil {
		t.Fatal(err)
	}
	if want := "{\n  \"z\": 1,\n  \"a\": \"x\"\n}"; out != want {
		t.Fatalf("got %s, want %s", out, want)
	}
	out, err = expr.Eval(mustParse(t, "toJSON(matrix)"), &expr.Env{Contexts: map[string]any{"matrix": workflow.Combo{}.Context()}})
	if err != nil || out != "null" {
		t.Fatalf("no matrix: got %v, %v; want null", out, err)
	}
}

func mustParse(t *testing.T, src string) expr.Node {
	t.Helper()
	n, err := expr.Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// GitHub's template forms in a matrix: computed keys, ${{ insert }}, and a
// sequence item that is exactly one expression giving an array, spliced
// into the sequence (TemplateUnraveler's sequence insertion). An item with
// text around its expression, whitespace included, is a string, and a
// nested array stays one item.
func TestMatrixTemplateForms(t *testing.T) {
	needs := map[string]any{"a": map[string]any{"outputs": map[string]any{"key": "os", "list": `["b","c"]`}}}
	for _, tc := range []struct{ matrix, want string }{
		{`{'${{ needs.a.outputs.key }}': [a]}`, "t (a)"},
		{`{os: [a, '${{ fromJSON(needs.a.outputs.list) }}', d]}`, "t (a)|t (b)|t (c)|t (d)"},
		{`{os: ['${{ fromJSON(''[["x","y"]]'') }}']}`, "t (x, y)"},
		{`{os: ['v${{ fromJSON(needs.a.outputs.list) }}']}`, "t (vArray)"},
		{`{os: [' ${{ fromJSON(needs.a.outputs.list) }}']}`, "t ( Array)"},
		{`{n: [' ${{ 1 }}'], include: [{n: 1, x: no}, {n: ' 1', x: yes}]}`, "t ( 1, yes)|t (1, no)"},
		{`{os: ['${{ fromJSON(''[]'') }}', a]}`, "t (a)"},
		{`{'${{ insert }}': '${{ fromJSON(''{"v":[1,2]}'') }}', w: [3]}`, "t (1, 3)|t (2, 3)"},
		{`{'${{ insert }}': {v: [1]}, include: [{'${{ insert }}': '${{ fromJSON(''{"v":1,"x":2}'') }}'}]}`, "t (1, 2)"},
	} {
		if _, got := legs(t, tc.matrix, map[string]any{"needs": needs}); got != tc.want {
			t.Errorf("%s\n got %s\nwant %s", tc.matrix, got, tc.want)
		}
	}
}

// Template forms that cannot give a matrix fail with the position of the
// value at fault.
func TestMatrixTemplateErrors(t *testing.T) {
	for _, tc := range []struct{ matrix, want string }{
		{"{'${{ fromJSON(''{}'') }}': [1]}", "1:11: the key ${{ fromJSON('{}') }} must give a string, number or boolean, not an object"},
		{"{'${{ '''' }}': [1]}", "1:11: the key ${{ '' }} gives an empty string"},
		{"{'${{ insert }}': '${{ fromJSON(''[1]'') }}'}", "1:28: ${{ insert }} must give an object (a mapping), not an array"},
		{"{v: [1], '${{ insert }}': '${{ fromJSON(''{\"V\":[2]}'') }}'}", "1:36: key \"V\" is already defined (GitHub compares keys ignoring case)"},
		{"{v: [1], '${{ ''V'' }}': [2]}", "1:19: key \"V\" is already defined (GitHub compares keys ignoring case)"},
	} {
		var doc yaml.Node
		if err := yaml.Unmarshal([]byte("matrix: "+tc.matrix), &doc); err != nil {
			t.Fatal(err)
		}
		_, err := workflow.DecodeMatrix(doc.Content[0].Content[1], func(src string) (any, error) {
			tmpl, err := expr.ParseTemplate(src)
			if err != nil {
				return nil, err
			}
			return tmpl.EvalExact(&expr.Env{})
		})
		var pe *workflow.PosError
		if !errors.As(err, &pe) {
			t.Errorf("%s: error %v, want a PosError", tc.matrix, err)
			continue
		}
		if got := fmt.Sprintf("%d:%d: %v", pe.Pos.Line, pe.Pos.Col, err); got != tc.want {
			t.Errorf("%s\n got %s\nwant %s", tc.matrix, got, tc.want)
		}
	}
}

// An exclude value that is an object matches a matrix value holding its
// keys with equal values (deeply), as GitHub does: {matrix: windows}
// removes {name: Windows, matrix: windows}. Arrays match item by item.
func TestMatrixExcludePartialObject(t *testing.T) {
	for _, tc := range []struct{ matrix, want string }{
		{`{os: [{name: Ubuntu, id: ubuntu}, {name: Windows, id: windows}], arch: [{name: ARM, id: arm}, {name: Intel, id: x64}],
		   exclude: [{os: {id: windows}, arch: {id: arm}}]}`,
			"t (Ubuntu, ubuntu, ARM, arm)|t (Ubuntu, ubuntu, Intel, x64)|t (Windows, windows, Intel, x64)"},
		{`{cfg: [{a: {b: 1, c: 2}}, {a: {b: 2, c: 2}}], exclude: [{cfg: {a: {b: 1}}}]}`, "t (2, 2)"},
		{`{cfg: [[{a: 1, b: 2}], [{a: 2}]], exclude: [{cfg: [{a: 1}]}]}`, "t (2)"},
		// A scalar does not match an object, nor an object a scalar.
		{`{cfg: [{a: 1}, a, b], exclude: [{cfg: {}}, {cfg: a}]}`, "t (b)"},
		{`{cfg: [{a: 1}, a], exclude: [{cfg: 1}]}`, "t (1)|t (a)"},
	} {
		if _, got := legs(t, tc.matrix, nil); got != tc.want {
			t.Errorf("%s\n got %s\nwant %s", tc.matrix, got, tc.want)
		}
	}
}
