package run

import (
	"encoding/json"
	"fmt"
	"maps"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/birdflock/runner/pkg/jobcache"
	"github.com/birdflock/runner/pkg/workflow"
)

// CacheVariable is the job-level env entry that opts a job into the job
// cache (docs/cache.md): "true" keys it on the whole checked-out tree,
// "paths: GLOB, GLOB" (commas or new lines) on the files those match.
const CacheVariable = "RUNNER_CACHE"

// cacheSpec is a job's opt-in: off, or on with the globs that limit which
// files of the tree count (none: all).
type cacheSpec struct {
	on    bool
	paths []string
}

// jobCacheSpec reads j's RUNNER_CACHE entry. It must be a plain value: a
// key cannot depend on what it decides.
func jobCacheSpec(file string, j *workflow.Job) (cacheSpec, error) {
	for _, kv := range j.Env {
		if kv.Key != CacheVariable {
			continue
		}
		v := strings.TrimSpace(kv.Value.Raw)
		bad := func(why string) (cacheSpec, error) {
			return cacheSpec{}, fmt.Errorf("%s:%d:%d: %s: %s (want true, false or \"paths: GLOB, GLOB\")", file, kv.Value.Line, kv.Value.Col, CacheVariable, why)
		}
		if strings.Contains(v, "${{") {
			return bad("expressions are not allowed")
		}
		switch strings.ToLower(v) {
		case "", "false", "off", "no":
			return cacheSpec{}, nil
		case "true", "on", "yes":
			return cacheSpec{on: true}, nil
		}
		rest, ok := strings.CutPrefix(v, "paths:")
		if !ok {
			return bad(fmt.Sprintf("unknown value %q", v))
		}
		s := cacheSpec{on: true}
		for _, p := range strings.FieldsFunc(rest, func(c rune) bool { return c == ',' || c == '\n' }) {
			if p = strings.TrimSpace(p); p != "" {
				if strings.HasPrefix(p, "/") || slices.Contains(strings.Split(p, "/"), "..") {
					return bad(fmt.Sprintf("path %q leaves the repository", p))
				}
				s.paths = append(s.paths, p)
			}
		}
		if len(s.paths) == 0 {
			return bad("paths: lists no glob")
		}
		return s, nil
	}
	return cacheSpec{}, nil
}

// keyInputs is what a leg's key is computed from.
type keyInputs struct {
	plan    *Plan
	job     *workflow.Job
	combo   workflow.Combo
	spec    cacheSpec
	needs   map[string]any    // the needs context; nil: not known yet (plan)
	secrets map[string]string // the secrets context
	salt    []byte
	actions map[string]string // uses → resolved commit (or content digest)
	github  map[string]any    // the github context, without the workspace
}

// cacheKey computes a leg's key. It reads the job's definition as written
// (positions left out: moving a job in the file changes nothing), the
// workflow's env and defaults, the trigger's env, the matrix values, the
// contexts the job's expressions read (inputs, vars, needs outputs, github
// values; secrets as salted digests), the tree at the run's commit (or the
// paths subset), the resolved actions, and the runner binary.
func cacheKey(in keyInputs) (key jobcache.Key, complete bool, err error) {
	w, j := in.plan.Workflow, in.job
	var parts []jobcache.Part
	add := func(name, value string) { parts = append(parts, jobcache.Part{Name: name, Value: value}) }
	complete = true

	def := &canonical{}
	def.walk("job", reflect.ValueOf(j).Elem())
	wf := &canonical{}
	wf.walk("env", reflect.ValueOf(w.Env))
	wf.walk("defaults", reflect.ValueOf(w.Defaults))
	file := w.File // inside the repository: relative, so a moved clone keeps its keys
	if rel, err := filepath.Rel(in.plan.Repo.Path, w.File); err == nil && filepath.IsAbs(w.File) && !strings.HasPrefix(rel, "..") {
		file = filepath.ToSlash(rel)
	}
	add("job", fmt.Sprintf("%s %s (%s)", file, j.ID, jobcache.Digest(def.b.String())))
	add("workflow env+defaults", jobcache.Digest(wf.b.String()))
	if len(in.plan.Env) > 0 {
		add("trigger env", jobcache.Digest(jsonText(in.plan.Env)))
	}
	if len(in.combo.Keys) > 0 {
		add("matrix", jsonText(in.combo.Values))
	}
	refs := append(def.refs, wf.refs...)
	seen := map[string]bool{}
	for _, ref := range refs {
		name, value, ok := in.resolveRef(ref)
		if seen[name] {
			continue
		}
		seen[name] = true
		if !ok {
			complete = false
		}
		add(name, value)
	}
	exe, err := jobcache.ExecutableDigest()
	if err != nil {
		return key, false, fmt.Errorf("runner binary: %w", err)
	}
	add("runner", exe)
	for _, uses := range slices.Sorted(maps.Keys(in.actions)) {
		add("action "+uses, in.actions[uses])
	}
	if in.plan.Repo.SHA == "" || in.plan.Repo.Path == "" {
		return key, false, fmt.Errorf("the run has no repository commit to key the checked-out tree on")
	}
	paths := in.spec.paths
	if len(paths) > 0 {
		// Local actions come from the checked-out tree: their folders count.
		for _, s := range j.Steps {
			if s.Uses.Set && strings.HasPrefix(s.Uses.Raw, "./") {
				paths = append(paths, strings.TrimPrefix(s.Uses.Raw, "./"))
			}
		}
	}
	tree, err := jobcache.TreeDigest(in.plan.Repo.Path, in.plan.Repo.SHA, paths)
	if err != nil {
		return key, false, err
	}
	name := "tree"
	if len(in.spec.paths) > 0 {
		name = "tree " + strings.Join(in.spec.paths, ", ")
	}
	add(name, tree)
	return jobcache.NewKey(parts), complete, nil
}

// resolveRef turns a context reference found in the job (secrets.X,
// needs.J.outputs.K, github.sha, inputs, …) into a key part. A bare
// context (read as a whole, or with [ ]) counts whole. ok is false when
// the value is not known yet (needs, for runner plan).
func (in keyInputs) resolveRef(ref []string) (name, value string, ok bool) {
	ctx := ref[0]
	name = strings.Join(ref, ".")
	switch ctx {
	case "secrets":
		if len(ref) == 1 {
			var b strings.Builder
			for _, k := range slices.Sorted(maps.Keys(in.secrets)) {
				fmt.Fprintf(&b, "%s=%s\n", k, jobcache.SecretDigest(in.salt, in.secrets[k]))
			}
			return "secrets", jobcache.Digest(b.String()), true
		}
		v, set := in.secrets[ref[1]]
		if !set {
			return "secrets." + ref[1], "(not set)", true
		}
		return "secrets." + ref[1], jobcache.SecretDigest(in.salt, v), true
	case "needs":
		if in.needs == nil {
			return name, "(known when the needed job ends)", false
		}
		return name, jsonText(lookup(in.needs, ref[1:])), true
	case "inputs":
		return name, jsonText(lookup(in.plan.Inputs, ref[1:])), true
	case "vars":
		return name, jsonText(lookup(stringMap(in.plan.Vars), ref[1:])), true
	case "github":
		v := jsonText(lookup(in.github, ref[1:]))
		// github.token is the GITHUB_TOKEN secret, repositoryUrl may hold
		// credentials, and the whole context holds both: digests only.
		if len(ref) == 1 || ref[1] == "token" || ref[1] == "repositoryUrl" {
			return name, jobcache.SecretDigest(in.salt, v), true
		}
		return name, v, true
	}
	return name, "", true
}

// lookup follows path into a context value; a missing key is null.
func lookup(v any, path []string) any {
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

func jsonText(v any) string {
	b, err := json.Marshal(v) // maps marshal with sorted keys
	if err != nil {
		return fmt.Sprintf("%v", v)
	}
	return string(b)
}

// canonical encodes a parsed workflow value without its positions and
// collects the context references of its expressions.
type canonical struct {
	b    strings.Builder
	refs [][]string
}

var (
	valueType = reflect.TypeOf(workflow.Value{})
	jobType   = reflect.TypeOf(workflow.Job{})
	posType   = reflect.TypeOf(workflow.Pos{})
	nodeType  = reflect.TypeOf(&yaml.Node{})
	// A context read: the name, then .field segments. Only the contexts
	// that come from outside the job are keyed (env, matrix, steps… are
	// the job's own or keyed elsewhere).
	refPattern  = regexp.MustCompile(`(?:^|[^A-Za-z0-9_.-])(github|inputs|vars|secrets|needs)((?:\.[A-Za-z_][A-Za-z0-9_-]*)*)`)
	exprPattern = regexp.MustCompile(`\$\{\{(.*?)\}\}`)
)

func (c *canonical) walk(name string, v reflect.Value) {
	fmt.Fprintf(&c.b, "%s:", name)
	switch {
	case v.Type() == valueType:
		val := v.Interface().(workflow.Value)
		fmt.Fprintf(&c.b, "%t %q\n", val.Set, val.Raw)
		if name == "If" || strings.HasSuffix(name, ".If") {
			c.scan(val.Raw)
		} else {
			for _, m := range exprPattern.FindAllStringSubmatch(val.Raw, -1) {
				c.scan(m[1])
			}
		}
		return
	case v.Type() == nodeType:
		if v.IsNil() {
			c.b.WriteString("nil\n")
			return
		}
		var x any
		_ = v.Interface().(*yaml.Node).Decode(&x)
		text := jsonText(x)
		c.b.WriteString(text + "\n")
		for _, m := range exprPattern.FindAllStringSubmatch(text, -1) {
			c.scan(m[1])
		}
		return
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			c.b.WriteString("nil\n")
			return
		}
		c.walk(name, v.Elem())
	case reflect.Struct:
		c.b.WriteString("{\n")
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() || f.Type == posType || f.Name == "Index" {
				continue
			}
			if f.Name == "Strategy" && t == jobType {
				// A leg is keyed on its matrix values, not on how the
				// matrix was written: adding a leg changes no other leg.
				continue
			}
			c.walk(f.Name, v.Field(i))
		}
		c.b.WriteString("}\n")
	case reflect.Slice, reflect.Array:
		fmt.Fprintf(&c.b, "[%d\n", v.Len())
		for i := 0; i < v.Len(); i++ {
			c.walk(name, v.Index(i))
		}
		c.b.WriteString("]\n")
	case reflect.Map:
		keys := v.MapKeys()
		sort.Slice(keys, func(a, b int) bool { return fmt.Sprint(keys[a]) < fmt.Sprint(keys[b]) })
		fmt.Fprintf(&c.b, "map%d\n", len(keys))
		for _, k := range keys {
			c.walk(fmt.Sprint(k), v.MapIndex(k))
		}
	default:
		fmt.Fprintf(&c.b, "%#v\n", v.Interface())
	}
}

// scan adds the context references in an expression.
func (c *canonical) scan(e string) {
	for _, m := range refPattern.FindAllStringSubmatch(e, -1) {
		ref := []string{m[1]}
		if m[2] != "" {
			ref = append(ref, strings.Split(m[2][1:], ".")...)
		}
		switch ref[0] {
		case "secrets":
			ref = ref[:min(len(ref), 2)]
		case "needs": // needs.J.outputs.K or needs.J.result
			ref = ref[:min(len(ref), 4)]
		case "github":
			if len(ref) > 1 && (ref[1] == "workspace" || ref[1] == "event_path") {
				continue // a place, not content: differs in every run
			}
		}
		c.refs = append(c.refs, ref)
	}
}
