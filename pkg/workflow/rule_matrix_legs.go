package workflow

import (
	"strings"

	"gopkg.in/yaml.v3"
)

// ruleMatrixLegs checks a written-out matrix at its legs (ruleMatrixValues
// checks its values one by one): an exclude entry whose legs earlier
// entries already removed, an include entry that repeats an earlier one
// (its leg runs twice, or it changes nothing), and include keys that are
// a matrix key in another case (expressions read matrix keys ignoring
// case, so matrix.<key> would see either). Matrices with expressions are
// known at run time only; Options.NoMatrixLegs skips the rule.
func ruleMatrixLegs() *rule {
	return &rule{job: func(v *validator, j *Job) {
		if v.opts.NoMatrixLegs || j.Strategy == nil || j.Strategy.Matrix == nil {
			return
		}
		n := resolve(j.Strategy.Matrix)
		if n.Kind != yaml.MappingNode {
			return
		}
		for i := 0; i < len(n.Content); i += 2 {
			if IsInsert(n.Content[i].Value) {
				return
			}
		}
		sm := v.matrixOf(j)
		if sm.err != nil {
			return // dynamic, or ruleMatrix reports it
		}
		m := sm.m
		product, err := m.Product()
		if err != nil {
			return
		}
		incs, exs := entryNodes(n, "include"), entryNodes(n, "exclude")
		if len(incs) != len(m.Include) || len(exs) != len(m.Exclude) {
			return
		}
		includeKeyCase(v, j, m, incs)
		// Walk the product once: the legs left, and which exclude entry
		// removes each leg first.
		pos := make(map[string]int, len(m.Keys))
		for d, k := range m.Keys {
			pos[k] = d
		}
		removes := make([]bool, len(m.Exclude))
		var kept [][]int
		idx := make([]int, len(m.Keys))
		for i := 0; i < product; i++ {
			if e := m.excludedBy(idx, pos); e >= 0 {
				removes[e] = true
			} else {
				kept = append(kept, append([]int(nil), idx...))
			}
			for d := len(idx) - 1; d >= 0; d-- {
				if idx[d]++; idx[d] < len(m.Vectors[m.Keys[d]]) {
					break
				}
				idx[d] = 0
			}
		}
		for i, e := range m.Exclude {
			if removes[i] || !m.eachValueMatches(e) {
				continue // an entry with a value no leg has: ruleMatrixValues reports it
			}
			v.warnf(posOf(exs[i]), "matrix", "job %q: exclude entry %d removes nothing: the legs it matches are already removed by the entries before it", j.ID, i+1)
		}
		for i, inc := range m.Include {
			for k := 0; k < i; k++ {
				if !equal(inc, m.Include[k]) {
					continue
				}
				report, effect := v.errf, "it adds the same leg again, which would run twice"
				if m.includeMerges(inc, kept) {
					report, effect = v.warnf, "it sets the same values again and changes nothing"
				}
				report(posOf(incs[i]), "matrix", "job %q: include entry %d is the same as entry %d (line %d): %s", j.ID, i+1, k+1, posOf(incs[k]).Line, effect)
				break
			}
		}
	}}
}

// entryNodes are the entries of a matrix's include or exclude list.
func entryNodes(m *yaml.Node, key string) []*yaml.Node {
	n := mappingValue(m, key)
	if n == nil || n.Kind != yaml.SequenceNode {
		return nil
	}
	out := make([]*yaml.Node, len(n.Content))
	for i, c := range n.Content {
		out[i] = resolve(c)
	}
	return out
}

// eachValueMatches tells whether each value of an exclude entry matches
// some value of its vector.
func (m *Matrix) eachValueMatches(e interface {
	Keys() []string
	Values() []any
}) bool {
	vals := e.Values()
	for j, k := range e.Keys() {
		found := false
		for _, x := range m.Vectors[k] {
			found = found || matchesExclude(x, vals[j])
		}
		if !found {
			return false
		}
	}
	return true
}

// includeMerges tells whether an include entry merges into one of the
// legs (vector indices) rather than adding a leg: its values of the
// matrix's own keys are the leg's.
func (m *Matrix) includeMerges(inc interface {
	Keys() []string
	Values() []any
}, legs [][]int) bool {
	keys, vals := inc.Keys(), inc.Values()
	pos := make(map[string]int, len(m.Keys))
	for d, k := range m.Keys {
		pos[k] = d
	}
	for _, leg := range legs {
		ok := true
		for j, k := range keys {
			if d, orig := pos[k]; orig && !equal(m.Vectors[k][leg[d]], vals[j]) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// includeKeyCase warns about an include key that is a matrix key (or an
// earlier include key) written in another case.
func includeKeyCase(v *validator, j *Job, m *Matrix, incs []*yaml.Node) {
	spelt := map[string]string{}
	for _, k := range m.Keys {
		spelt[strings.ToLower(k)] = k
	}
	for _, e := range incs {
		if e.Kind != yaml.MappingNode {
			continue
		}
		for i := 0; i+1 < len(e.Content); i += 2 {
			k := e.Content[i]
			l := strings.ToLower(k.Value)
			first, ok := spelt[l]
			if !ok {
				spelt[l] = k.Value
				continue
			}
			if first == k.Value {
				continue
			}
			v.warnf(posOf(k), "matrix", "job %q: include key %q is the key %q written in another case: expressions read matrix keys ignoring case, so matrix.%s would see one or the other; write it as %q",
				j.ID, k.Value, first, l, first)
		}
	}
}

// staticMatrix is a job's written-out matrix, decoded once for the rules
// that need it (errDynamic when it holds expressions), and its legs.
type staticMatrix struct {
	m         *Matrix
	err       error
	combos    []Combo
	combosErr error
	expanded  bool
}

// matrixOf decodes a job's matrix once per pass.
func (v *validator) matrixOf(j *Job) *staticMatrix {
	if sm, ok := v.matrices[j]; ok {
		return sm
	}
	if v.matrices == nil {
		v.matrices = map[*Job]*staticMatrix{}
	}
	sm := &staticMatrix{}
	sm.m, sm.err = DecodeMatrix(j.Strategy.Matrix, func(string) (any, error) { return nil, errDynamic })
	v.matrices[j] = sm
	return sm
}

// legs expands the matrix once.
func (sm *staticMatrix) legs() ([]Combo, error) {
	if !sm.expanded {
		sm.expanded = true
		if sm.err != nil {
			sm.combosErr = sm.err
		} else {
			sm.combos, sm.combosErr = sm.m.Combos()
		}
	}
	return sm.combos, sm.combosErr
}
