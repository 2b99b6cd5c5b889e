package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

const (
	checkBad = "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    needs: zz\n    steps: [{run: echo}]\n"
	// checkWarn is valid but writes an untrusted value into a script.
	checkWarn = "on: {workflow_dispatch: {inputs: {x: {type: string}}}}\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo \"${{ inputs.x }}\"\n"
	checkOK   = "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps: [{run: echo}]\n"
)

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, src := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func check(t *testing.T, args []string, o checkOptions) (string, string, int) {
	t.Helper()
	var out, errw bytes.Buffer
	if o.format == "" {
		o.format = "text"
	}
	code := runCheck(&out, &errw, args, o)
	return out.String(), errw.String(), code
}

// Text output: FILE:LINE:COL, the source line and a caret under the
// column; exit 1 for errors, 0 for warnings alone unless --strict.
func TestCheckText(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"bad.yaml": checkBad, "warn.yml": checkWarn, "ok.yaml": checkOK})
	bad, warn := filepath.Join(dir, "bad.yaml"), filepath.Join(dir, "warn.yml")
	out, _, code := check(t, []string{bad}, checkOptions{})
	want := bad + ":5:12: job \"a\" needs unknown job \"zz\"; jobs are: a [needs]\n" +
		"5 |     needs: zz\n" +
		"  |            ^\n"
	if code != 1 || out != want {
		t.Errorf("exit %d, output\n%s\nwant\n%s", code, out, want)
	}
	out, _, code = check(t, []string{warn}, checkOptions{})
	if code != 0 || !strings.Contains(out, ":6:24: warning: job a step 1: \"inputs.x\" is potentially untrusted") ||
		!strings.Contains(out, "6 |       - run: echo \"${{ inputs.x }}\"\n  |                        ^\n") {
		t.Errorf("warning: exit %d\n%s", code, out)
	}
	out, _, code = check(t, []string{warn}, checkOptions{strict: true})
	if code != 1 || strings.Contains(out, "warning:") {
		t.Errorf("--strict: exit %d\n%s", code, out)
	}
	// A directory: its workflows, sorted; ok.yaml gives nothing.
	out, _, code = check(t, []string{dir}, checkOptions{})
	if code != 1 || strings.Count(out, "^\n") != 2 || strings.Index(out, "bad.yaml") > strings.Index(out, "warn.yml") {
		t.Errorf("directory: exit %d\n%s", code, out)
	}
	if out, _, code := check(t, []string{filepath.Join(dir, "ok.yaml")}, checkOptions{}); code != 0 || out != "" {
		t.Errorf("clean: exit %d\n%s", code, out)
	}
}

// Without PATH: every workflow under .github/workflows and workflows/
// of the repository; usage and I/O errors exit 2.
func TestCheckDiscoveryAndUsage(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{".github/workflows/a.yml": checkBad, "workflows/b.yaml": checkWarn, "other/c.yaml": checkBad})
	out, _, code := check(t, nil, checkOptions{repo: dir})
	if code != 1 || !strings.Contains(out, "a.yml:5:12:") || !strings.Contains(out, "b.yaml:6:24: warning:") || strings.Contains(out, "c.yaml") {
		t.Errorf("discovery: exit %d\n%s", code, out)
	}
	empty := t.TempDir()
	for _, c := range []struct {
		args []string
		o    checkOptions
		want string
	}{
		{nil, checkOptions{repo: empty}, "no workflow files"},
		{[]string{filepath.Join(dir, "missing.yaml")}, checkOptions{}, "no such file"},
		{[]string{empty}, checkOptions{}, "no *.yml or *.yaml files"},
		{[]string{dir}, checkOptions{format: "xml"}, `unknown format "xml"`},
		{[]string{dir}, checkOptions{format: "{{range .}"}, "format: template"},
		{[]string{filepath.Join(dir, "workflows")}, checkOptions{format: "{{range .}}{{replace .Kind \"a\"}}{{end}}"}, "pairs"},
	} {
		out, errw, code := check(t, c.args, c.o)
		if code != 2 || !strings.Contains(errw, c.want) || out != "" {
			t.Errorf("%v %+v: exit %d, stdout %q, stderr %q; want 2 and %q", c.args, c.o, code, out, errw, c.want)
		}
	}
}

func TestCheckJSONAndTemplate(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"bad.yaml": checkBad, "ok.yaml": checkOK})
	out, _, code := check(t, []string{filepath.Join(dir, "bad.yaml")}, checkOptions{format: "json"})
	var got []checkProblem
	if err := json.Unmarshal([]byte(out), &got); err != nil || code != 1 {
		t.Fatalf("exit %d, %v\n%s", code, err, out)
	}
	if len(got) != 1 || got[0].Line != 5 || got[0].Column != 12 || got[0].Kind != "needs" || got[0].Severity != "error" ||
		got[0].Snippet != "    needs: zz\n           ^" {
		t.Errorf("json: %+v", got)
	}
	if out, _, _ := check(t, []string{filepath.Join(dir, "ok.yaml")}, checkOptions{format: "json"}); strings.TrimSpace(out) != "[]" {
		t.Errorf("json of a clean workflow: %q", out)
	}
	tmpl := `{{range $e := .}}::{{$e.Severity}} file={{$e.Filepath}},line={{$e.Line}},col={{$e.Column}}::{{$e.Kind | toPascalCase}} {{json $e.Message}}{{"\n"}}{{end}}`
	out, _, code = check(t, []string{filepath.Join(dir, "bad.yaml")}, checkOptions{format: tmpl})
	want := "::error file=" + filepath.Join(dir, "bad.yaml") + ",line=5,col=12::Needs \"job \\\"a\\\" needs unknown job \\\"zz\\\"; jobs are: a\"\n"
	if code != 1 || out != want {
		t.Errorf("template: exit %d\n%q\nwant\n%q", code, out, want)
	}
}

// sarifSubset is the part of the OASIS SARIF 2.1.0 schema
// (sarif-schema-2.1.0.json) that runner's output uses, with its required
// properties, enums, minimums and closed objects as in the standard.
const sarifSubset = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object", "required": ["version", "runs"], "additionalProperties": false,
  "properties": {
    "$schema": {"type": "string", "format": "uri"},
    "version": {"enum": ["2.1.0"]},
    "runs": {"type": "array", "items": {"$ref": "#/$defs/run"}}
  },
  "$defs": {
    "run": {"type": "object", "required": ["tool"], "additionalProperties": false, "properties": {
      "tool": {"type": "object", "required": ["driver"], "additionalProperties": false, "properties": {
        "driver": {"type": "object", "required": ["name"], "additionalProperties": false, "properties": {
          "name": {"type": "string"}, "informationUri": {"type": "string", "format": "uri"},
          "rules": {"type": "array", "uniqueItems": true, "items": {"type": "object", "required": ["id"], "additionalProperties": false, "properties": {
            "id": {"type": "string"}, "shortDescription": {"$ref": "#/$defs/message"}}}}}}}},
      "results": {"type": "array", "items": {"$ref": "#/$defs/result"}}}},
    "message": {"type": "object", "anyOf": [{"required": ["text"]}, {"required": ["id"]}], "additionalProperties": false,
      "properties": {"text": {"type": "string"}, "id": {"type": "string"}}},
    "result": {"type": "object", "required": ["message"], "additionalProperties": false, "properties": {
      "ruleId": {"type": "string"}, "ruleIndex": {"type": "integer", "minimum": -1},
      "level": {"enum": ["none", "note", "warning", "error"]},
      "message": {"$ref": "#/$defs/message"},
      "locations": {"type": "array", "items": {"type": "object", "additionalProperties": false, "properties": {
        "physicalLocation": {"type": "object", "additionalProperties": false, "anyOf": [{"required": ["address"]}, {"required": ["artifactLocation"]}], "properties": {
          "address": {"type": "object"},
          "artifactLocation": {"type": "object", "additionalProperties": false, "properties": {"uri": {"type": "string", "format": "uri-reference"}}},
          "region": {"type": "object", "additionalProperties": false, "properties": {
            "startLine": {"type": "integer", "minimum": 1}, "startColumn": {"type": "integer", "minimum": 1}}}}}}}}}}
  }
}`

// -f sarif validates against SARIF 2.1.0 and names each kind as a rule.
func TestCheckSARIF(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"bad.yaml": checkBad, "warn.yaml": checkWarn})
	out, _, code := check(t, []string{dir}, checkOptions{format: "sarif"})
	if code != 1 {
		t.Fatalf("exit %d", code)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	schema, err := jsonschema.UnmarshalJSON(strings.NewReader(sarifSubset))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.AddResource("sarif.json", schema); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("sarif.json")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Validate(doc); err != nil {
		t.Errorf("not valid SARIF 2.1.0: %v\n%s", err, out)
	}
	var log sarifLog
	if err := json.Unmarshal([]byte(out), &log); err != nil {
		t.Fatal(err)
	}
	r := log.Runs[0]
	if len(r.Results) != 2 || r.Results[0].Level != "error" || r.Results[1].Level != "warning" ||
		r.Tool.Driver.Rules[r.Results[1].RuleIndex].ID != "injection" || r.Results[0].Locations[0].PhysicalLocation.Region.StartColumn != 12 {
		t.Errorf("results: %+v", r)
	}
}

// runner exec prints warnings and runs; runner check exits 1 on errors.
func TestCheckBinaryAndExecWarnings(t *testing.T) {
	bin := buildRunner(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"warn.yaml": checkWarn, "bad.yaml": checkBad})
	cmd := exec.Command(bin, "exec", "warn.yaml", "--input", "x=hi")
	cmd.Dir = dir
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil || !strings.Contains(stderr.String(), "warn.yaml:6:24: warning:") || !strings.Contains(stdout.String(), "hi") {
		t.Errorf("exec: %v\nstdout %s\nstderr %s", err, stdout.String(), stderr.String())
	}
	cmd = exec.Command(bin, "check", "bad.yaml")
	cmd.Dir = dir
	out, err := cmd.Output()
	if exitCode(err) != 1 || !strings.HasPrefix(string(out), "bad.yaml:5:12:") {
		t.Errorf("check: exit %d\n%s", exitCode(err), out)
	}
}

// Workflows found in the repository are read inside it: a symlink to a
// file outside is followed as if the repository were the root, so the
// outside file is never read (nor shown in a snippet).
func TestCheckSymlinkStaysInRepo(t *testing.T) {
	outside := t.TempDir()
	writeFiles(t, outside, map[string]string{"secret.yaml": "on: push\njobs: TOPSECRET: [\n"})
	repo := t.TempDir()
	writeFiles(t, repo, map[string]string{"workflows/ok.yaml": checkOK})
	if err := os.Symlink(filepath.Join(outside, "secret.yaml"), filepath.Join(repo, "workflows", "evil.yaml")); err != nil {
		t.Fatal(err)
	}
	out, errw, code := check(t, nil, checkOptions{repo: repo})
	if code != 2 || strings.Contains(out+errw, "TOPSECRET") || !strings.Contains(errw, "evil.yaml: no such file or directory") {
		t.Errorf("exit %d\nstdout %s\nstderr %s", code, out, errw)
	}
}

// Self-hosted runner labels come from --runner-label and from the
// repository's .github/actionlint.yaml, as actionlint reads them.
func TestCheckRunnerLabels(t *testing.T) {
	wf := "on: push\njobs:\n  a:\n    runs-on: [linux, gpu-box]\n    steps: [{run: echo}]\n"
	repo := t.TempDir()
	writeFiles(t, repo, map[string]string{"workflows/a.yaml": wf})
	if out, _, _ := check(t, nil, checkOptions{repo: repo}); !strings.Contains(out, `runs-on label "gpu-box"`) {
		t.Errorf("no warning without labels:\n%s", out)
	}
	if out, _, _ := check(t, nil, checkOptions{repo: repo, labels: []string{"gpu-*"}}); out != "" {
		t.Errorf("--runner-label gpu-*:\n%s", out)
	}
	writeFiles(t, repo, map[string]string{".github/actionlint.yaml": "self-hosted-runner:\n  labels: [gpu-box]\n"})
	if out, _, _ := check(t, nil, checkOptions{repo: repo}); out != "" {
		t.Errorf("actionlint.yaml labels:\n%s", out)
	}
}

// runner plan takes the repository's self-hosted runner labels too: no
// runs-on warning for them.
func TestPlanRepoLabels(t *testing.T) {
	bin := buildRunner(t)
	repo := t.TempDir()
	writeFiles(t, repo, map[string]string{
		"workflows/a.yaml":        "on: push\njobs:\n  a:\n    runs-on: [linux, gpu-box]\n    steps: [{run: echo}]\n",
		".github/actionlint.yaml": "self-hosted-runner:\n  labels: [gpu-box]\n",
	})
	run := func() string {
		cmd := exec.Command(bin, "plan", "--repo", repo, "a")
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("plan: %v\n%s", err, stderr.String())
		}
		return stderr.String()
	}
	if got := run(); got != "" {
		t.Errorf("stderr with the label configured: %q", got)
	}
	if err := os.Remove(filepath.Join(repo, ".github", "actionlint.yaml")); err != nil {
		t.Fatal(err)
	}
	if got := run(); !strings.Contains(got, `runs-on label "gpu-box"`) {
		t.Errorf("stderr without it: %q", got)
	}
}

// Local actions (uses: ./path) are checked with the workflows: their
// action.yml once, with its own file and position, and each step's with:
// against the inputs, through nested composite actions.
func TestCheckLocalActions(t *testing.T) {
	dir := t.TempDir()
	if err := exec.Command("git", "init", "-q", dir).Run(); err != nil {
		t.Fatal(err)
	}
	writeFiles(t, dir, map[string]string{
		".github/workflows/ci.yml": "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n" +
			"      - uses: ./.github/actions/setup\n        with:\n          nmae: x\n" +
			"      - uses: ./.github/actions/setup\n        with: {name: y, old: z}\n" +
			"      - uses: ./.github/actions/not-there\n",
		".github/workflows/other.yml": "on: push\njobs:\n  b:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: ./.github/actions/bad\n",
		".github/actions/setup/action.yml": "name: setup\ninputs:\n  name:\n    required: true\n  old:\n    deprecationMessage: use name\n" +
			"runs:\n  using: composite\n  steps:\n    - run: echo hi\n    - uses: ./.github/actions/bad\n      with: {x: 1}\n",
		".github/actions/bad/action.yaml": "name: bad\nruns:\n  using: node99\n  main: x.js\n",
	})
	out, errw, code := check(t, nil, checkOptions{repo: dir})
	rel := func(p string) string { return displayPath(filepath.Join(dir, p)) }
	for _, want := range []string{
		rel(".github/workflows/ci.yml") + `:6:15: action "./.github/actions/setup" needs input "name" (required in ` + rel(".github/actions/setup/action.yml") + ") [action]",
		rel(".github/workflows/ci.yml") + `:8:11: warning: action "./.github/actions/setup" has no input "nmae"; did you mean "name"? [action]`,
		rel(".github/workflows/ci.yml") + `:10:25: warning: input "old" of action "./.github/actions/setup" is deprecated: use name [action]`,
		rel(".github/actions/setup/action.yml") + `:10:12: runs.steps step 1: a composite action's run step needs "shell" [syntax]`,
		"10 |     - run: echo hi\n   |            ^\n",
		rel(".github/actions/bad/action.yaml") + `:3:10: runs.using: unknown value "node99"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// The bad action is used by two files: reported once.
	if n := strings.Count(out, "node99\"; expected"); n != 1 {
		t.Errorf("the bad action.yaml is reported %d times, want once:\n%s", n, out)
	}
	if strings.Contains(out, "not-there") {
		t.Errorf("a ./path action missing before the run is not check's to report (a step may create it):\n%s", out)
	}
	if code != 1 || errw != "" {
		t.Errorf("exit %d, stderr %q", code, errw)
	}
}

// The steps of a local composite action go through the step rules, in
// the action's own file, once however many workflows use it.
func TestCheckCompositeSteps(t *testing.T) {
	dir := t.TempDir()
	if err := exec.Command("git", "init", "-q", dir).Run(); err != nil {
		t.Fatal(err)
	}
	writeFiles(t, dir, map[string]string{
		".github/workflows/a.yml": "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: ./act\n",
		".github/workflows/b.yml": "on: push\njobs:\n  b:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: ./act\n",
		"act/action.yml": "name: act\ninputs:\n  name: {default: x}\nruns:\n  using: composite\n  steps:\n" +
			"    - run: echo ${{ secrets.TOKEN }} ${{ steps.later.outputs.x }}\n      shell: bash\n" +
			"    - id: later\n      if: inputs.nmae == 'x'\n      run: echo\n      shell: bash\n",
	})
	out, errw, code := check(t, nil, checkOptions{repo: dir})
	file := displayPath(filepath.Join(dir, "act/action.yml"))
	for _, want := range []string{
		file + `:7:21: runs.steps step 1: Unrecognized named-value: 'secrets': the secrets context is not available in runs.steps.run`,
		file + `:7:42: runs.steps step 1: step "later" is not defined before this step (it is the id of step 2, which runs after this one)`,
		file + `:10:11: runs.steps step 2.if: input "nmae" is not declared in the action's inputs; inputs: name; did you mean "name"? [inputs-ref]`,
		"10 |       if: inputs.nmae == 'x'\n   |           ^\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
		if n := strings.Count(out, want); n > 1 {
			t.Errorf("%q is reported %d times, want once:\n%s", want, n, out)
		}
	}
	if code != 1 || errw != "" {
		t.Errorf("exit %d, stderr %q", code, errw)
	}
}
