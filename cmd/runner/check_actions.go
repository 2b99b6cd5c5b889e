package main

import (
	"path/filepath"
	"sort"
	"strings"
	"sync"

	securejoin "github.com/cyphar/filepath-securejoin"

	"github.com/birdflock/runner/pkg/actions"
	"github.com/birdflock/runner/pkg/steps"
	"github.com/birdflock/runner/pkg/workflow"
)

// maxActionDepth is how deep composite actions may nest (GitHub's limit).
const maxActionDepth = 10

// localActions checks the ./path actions the workflows use: each
// action.yml once (its own problems, in its own file), and each step's
// with: against the inputs of the action it uses, recursively through
// composite actions. Remote actions are not fetched by check.
type localActions struct {
	root     string // the repository: ./path is relative to it
	builtins *steps.Set

	mu   sync.Mutex
	seen map[string]*loadedAction // by action directory
}

type loadedAction struct {
	meta *workflow.Action
	errs workflow.Errors
	data []byte
	file string
	done bool // its problems were reported
}

// load reads the action.yml of a ./path reference, once.
func (la *localActions) load(uses string) (*loadedAction, bool) {
	ref, err := workflow.ParseActionRef(uses)
	if err != nil || !ref.Local || la.root == "" {
		return nil, false
	}
	dir, err := securejoin.SecureJoin(la.root, ref.Path)
	if err != nil {
		return nil, false
	}
	la.mu.Lock()
	defer la.mu.Unlock()
	if la.seen == nil {
		la.seen = map[string]*loadedAction{}
	}
	if l, ok := la.seen[dir]; ok {
		return l, true
	}
	l := &loadedAction{}
	la.seen[dir] = l
	file, data, err := actions.ReadMetadata(dir)
	if err != nil {
		return nil, false // not there (yet): it may come from a step; runs report it
	}
	l.file, l.data = displayPath(filepath.Join(la.root, ref.Path, filepath.Base(file))), data
	l.meta, l.errs = workflow.ParseAction(l.file, data)
	if l.meta != nil {
		// The steps of a composite action go through the step rules.
		l.errs = append(l.errs, workflow.DiagnoseAction(l.meta, workflow.Options{Builtins: la.builtins})...)
		sort.SliceStable(l.errs, func(i, j int) bool {
			a, b := l.errs[i].Pos, l.errs[j].Pos
			return a.Line < b.Line || a.Line == b.Line && a.Col < b.Col
		})
	}
	return l, true
}

// check returns the problems of the actions that the steps use, with the
// source of the file each problem is in.
func (la *localActions) check(file string, w *workflow.Workflow) []fileErrors {
	var out []fileErrors
	var walk func(file string, ss []*workflow.Step, depth int)
	walk = func(file string, ss []*workflow.Step, depth int) {
		for _, s := range ss {
			if !s.Uses.Set {
				continue
			}
			if _, ok := la.builtins.Lookup(s.Uses.Raw); ok {
				continue
			}
			l, ok := la.load(s.Uses.Raw)
			if !ok {
				continue
			}
			la.mu.Lock()
			first := !l.done
			l.done = true
			la.mu.Unlock()
			if first && len(l.errs) > 0 {
				out = append(out, fileErrors{l.file, l.data, l.errs})
			}
			if l.meta == nil {
				continue
			}
			if errs := workflow.CheckActionInputs(file, s, l.meta); len(errs) > 0 {
				out = append(out, fileErrors{file: file, errs: errs})
			}
			if first && depth < maxActionDepth && l.meta.Runs.IsComposite() {
				walk(l.file, l.meta.Runs.Steps, depth+1)
			}
		}
	}
	for _, j := range w.Jobs {
		walk(file, j.Steps, 1)
	}
	return out
}

// fileErrors are problems found in one file; data is its source when it
// is not the workflow being checked.
type fileErrors struct {
	file string
	data []byte
	errs workflow.Errors
}

// lines splits a file's source for the snippets.
func lines(data []byte) []string { return strings.Split(string(data), "\n") }
