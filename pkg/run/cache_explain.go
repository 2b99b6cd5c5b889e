package run

import (
	"context"
	"fmt"

	"github.com/birdflock/runner/pkg/actions"
	"github.com/birdflock/runner/pkg/jobcache"
)

// LegCacheKey is the cache key a leg of a job would have (ExplainCache).
type LegCacheKey struct {
	Leg string // the job id and matrix suffix
	Key jobcache.Key
	// Complete is false when a part is only known in the run (the
	// outputs of the jobs it needs): Key.Sum is then not the run's key.
	Complete bool
}

// ExplainCache computes, without running anything, the cache keys of
// jobID's legs in a run of plan with opts (runner plan --explain-cache).
// opts.Cache gives the salt of the secret digests. Remote actions are
// resolved (fetched when not cached yet), as the run would.
func ExplainCache(ctx context.Context, plan *Plan, opts Options, jobID string) ([]LegCacheKey, error) {
	w := plan.Workflow
	var idx = -1
	for i, j := range w.Jobs {
		if j.ID == jobID {
			idx = i
		}
	}
	if idx < 0 {
		return nil, fmt.Errorf("%s: no job %q", w.File, jobID)
	}
	j := w.Jobs[idx]
	spec, err := jobCacheSpec(w.File, j)
	if err != nil {
		return nil, err
	}
	if !spec.on {
		return nil, fmt.Errorf("%s: job %q does not opt into the cache (env %s)", w.File, jobID, CacheVariable)
	}
	if j.Call != nil {
		return nil, fmt.Errorf("%s: job %q calls a workflow: such jobs are not cached", w.File, jobID)
	}
	if opts.Cache == nil {
		return nil, fmt.Errorf("no cache store")
	}
	salt, err := opts.Cache.Salt()
	if err != nil {
		return nil, err
	}
	if opts.Actions == nil {
		opts.Actions = &actions.Resolver{StateDir: opts.StateDir}
	}
	masker := &Masker{}
	for _, v := range opts.Secrets {
		masker.Add(v)
	}
	r := &runState{w: w, plan: plan, opts: opts, state: opts.StateDir, masker: masker,
		obs: &observers{obs: ObserverFunc(func(Event) {}), masker: masker}, results: map[string]*neededJob{}}
	base := r.baseContexts(j)
	st, err := r.strategyOf(j, base)
	if err != nil {
		return nil, err
	}
	var out []LegCacheKey
	for _, c := range st.combos {
		jr := &legRun{r: r, job: j, combo: c, key: j.ID + c.Suffix()}
		if what := jr.sideEffect(); what != "" {
			return nil, fmt.Errorf("%s: job %q is not cached: %s has side effects outside the run", w.File, jobID, what)
		}
		if err := jr.setUpActions(ctx); err != nil {
			return nil, err
		}
		var needs map[string]any // not known before the run
		if len(j.Needs) == 0 {
			needs = map[string]any{}
		}
		key, complete, err := jr.cacheKey(spec, salt, needs)
		if err != nil {
			return nil, err
		}
		key.Parts = maskedParts(masker, key.Parts) // the sum stays the key's
		out = append(out, LegCacheKey{Leg: jr.key, Key: key, Complete: complete})
	}
	return out, nil
}
