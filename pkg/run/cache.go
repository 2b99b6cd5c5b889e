package run

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/birdflock/runner/pkg/jobcache"
)

// CacheHit says where a job's cached result came from (JobResult.Cached).
type CacheHit struct {
	Run int    // the run that stored it
	Key string // the cache key
}

// String is what the console and the summary show: cached (run N, key …).
func (c *CacheHit) String() string {
	k := c.Key
	if len(k) > 12 {
		k = k[:12]
	}
	return fmt.Sprintf("cached (run %d, key %s)", c.Run, k)
}

// text is String, or "" for nil (JobEnded's Text: why the job did not run).
func (c *CacheHit) text() string {
	if c == nil {
		return ""
	}
	return c.String()
}

// legCache is a cacheable leg's state: its key, and what it leaves for
// the cache as it runs (the artifacts it uploaded, its summary part).
type legCache struct {
	key       jobcache.Key
	artifacts []string
	summary   strings.Builder
}

// noteArtifact records an artifact the leg uploaded (step.go).
func (jr *legRun) noteArtifact(name string) {
	if name == "" {
		return
	}
	jr.uploaded = append(jr.uploaded, name)
	if jr.cache != nil {
		jr.cache.artifacts = append(jr.cache.artifacts, name)
	}
}

// noteSummary records the leg's part of the step summary, masked (step.go).
func (jr *legRun) noteSummary(text string) {
	if jr.cache != nil {
		jr.cache.summary.WriteString(text)
	}
	if w := jr.r.top().frames; w != nil { // a remote leg: to the controller
		for _, part := range splitText(text, summaryPart) {
			w.send(textFrame(frameSummary, part))
		}
	}
}

// cacheLookup computes the key of a leg that opted in, and restores its
// result on a hit: the caller then ends the leg without running it. Any
// problem with the cache is a warning and the job runs.
func (jr *legRun) cacheLookup(ctx context.Context, res *JobResult) (hit bool) {
	r := jr.r
	store := r.opts.Cache
	if store == nil || r.frame != nil {
		return false
	}
	spec, err := jobCacheSpec(r.w.File, jr.job)
	if err != nil || !spec.on {
		if err != nil {
			jr.emit("job", "Warning: cache: "+err.Error())
		}
		return false
	}
	if what := jr.sideEffect(); what != "" {
		jr.emit("job", "Warning: cache: off: "+what+" has side effects outside the run (a hit would skip them)")
		return false
	}
	warn := func(err error) bool {
		jr.emit("job", "Warning: cache: "+r.masker.Mask(err.Error())+"; the job runs")
		return false
	}
	salt, err := store.Salt()
	if err != nil {
		return warn(err)
	}
	key, _, err := jr.cacheKey(spec, salt, jr.needs)
	if err != nil {
		return warn(err)
	}
	jr.cache = &legCache{key: key}
	jr.log.line("job", "cache key "+key.Sum+":\n"+r.masker.Mask(key.Explain()))
	if r.opts.NoCache {
		jr.emit("job", "cache: not looked up (--no-cache); key "+key.Short())
		return false
	}
	e, err := store.Get(key.Sum)
	if errors.Is(err, jobcache.ErrMiss) && store.Remote != nil {
		// Not here: perhaps another machine stored it. Pull checks
		// every digest before the entry enters the store.
		if err = store.Remote.Pull(ctx, store, key.Sum); err == nil {
			jr.emit("job", "cache: pulled key "+key.Short()+" from "+store.Remote.String())
			e, err = store.Get(key.Sum)
		}
	}
	if errors.Is(err, jobcache.ErrMiss) {
		jr.emit("job", "cache: miss, key "+key.Short())
		return false
	}
	if err != nil {
		return warn(err)
	}
	if e.Conclusion != "success" {
		return warn(fmt.Errorf("entry %s has conclusion %q", key.Short(), e.Conclusion))
	}
	// Artifacts first: a restore that fails leaves nothing behind.
	dir := filepath.Join(r.dir, "artifacts")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return warn(err)
	}
	var restored []string
	for _, a := range e.Artifacts {
		dst := filepath.Join(dir, a.Name)
		err := store.Restore(key.Sum, a, dst)
		if err == nil {
			restored = append(restored, dst)
			continue
		}
		for _, p := range restored {
			os.RemoveAll(p)
		}
		return warn(err)
	}
	if e.Summary != "" {
		if err := appendFile(filepath.Join(r.dir, "summary.md"), r.masker.Mask(e.Summary)); err != nil {
			jr.emit("job", "Warning: the run's step summary: "+err.Error())
		}
	}
	store.Touch(key.Sum)
	for k, v := range e.Outputs {
		res.Outputs[k] = v
	}
	res.Result = "success"
	res.Cached = &CacheHit{Run: e.Run, Key: key.Sum}
	jr.emit("job", res.Cached.String())
	return true
}

// sideEffects are the built-ins that change the world outside the run: a
// job that uses one is never cached.
var sideEffects = map[string]bool{"push-image": true, "git-commit-push": true}

// sideEffect names the first step of the job that uses one, or "".
func (jr *legRun) sideEffect() string {
	if jr.r.opts.Builtins == nil {
		return ""
	}
	for _, s := range jr.job.Steps {
		if !s.Uses.Set {
			continue
		}
		if b, ok := jr.r.opts.Builtins.Lookup(s.Uses.Raw); ok && sideEffects[b.Spec().Name] {
			return fmt.Sprintf("step %d (%s)", s.Index+1, s.Uses.Raw)
		}
	}
	return ""
}

// cacheKey computes the leg's key once its actions are set up.
func (jr *legRun) cacheKey(spec cacheSpec, salt []byte, needs map[string]any) (jobcache.Key, bool, error) {
	r := jr.r
	acts := map[string]string{}
	if jr.acts != nil {
		for uses, a := range jr.acts.resolved {
			switch {
			case a.Commit != "":
				acts[uses] = a.Commit
			case a.Fetched != nil && a.Fetched.Digest != "":
				acts[uses] = a.Fetched.Digest // a folder source: its content
			}
			// A ./path action is in the checked-out tree (cache_key.go).
		}
	}
	g := r.githubContext(jr.job.ID, "")
	return cacheKey(keyInputs{plan: r.plan, job: jr.job, combo: jr.combo, spec: spec, needs: needs, secrets: r.opts.Secrets, salt: salt, actions: acts, github: g})
}

// cacheStore stores a successful leg's result under its key.
func (jr *legRun) cacheStore(ctx context.Context, res *JobResult, coerced bool) {
	r := jr.r
	if jr.cache == nil || res.Result != "success" || coerced || jr.failed || jr.cancelled {
		return
	}
	arts := map[string]string{}
	for _, name := range jr.cache.artifacts {
		arts[name] = filepath.Join(r.dir, "artifacts", name)
	}
	outs := map[string]string{}
	for k, v := range res.Outputs {
		outs[k] = v
	}
	// The run by the id users see (github.run_id): under runner serve a
	// re-run's attempt is a record of its own, the run is the same.
	run := r.plan.RunID
	if run == 0 {
		run = r.id
	}
	e := jobcache.Entry{
		Key: jr.cache.key.Sum, Job: jr.key, Workflow: r.w.File, Run: run, Conclusion: res.Result,
		Outputs: outs, Summary: jr.cache.summary.String(), Parts: maskedParts(r.masker, jr.cache.key.Parts),
	}
	if err := r.opts.Cache.Put(e, arts); err != nil {
		jr.emit("job", "Warning: cache: "+r.masker.Mask(err.Error()))
		return
	}
	jr.emit("job", "cache: stored, key "+jr.cache.key.Short())
	if rem := r.opts.Cache.Remote; rem != nil {
		if err := rem.Push(ctx, r.opts.Cache, jr.cache.key.Sum); err != nil {
			jr.emit("job", "Warning: cache: "+r.masker.Mask(err.Error()))
			return
		}
		jr.emit("job", "cache: pushed key "+jr.cache.key.Short()+" to "+rem.String())
	}
}

// maskedParts is parts with any secret value masked (a matrix value or
// input that holds one): what is written or shown of a key.
func maskedParts(m *Masker, parts []jobcache.Part) []jobcache.Part {
	out := make([]jobcache.Part, len(parts))
	for i, p := range parts {
		out[i] = jobcache.Part{Name: m.Mask(p.Name), Value: m.Mask(p.Value)}
	}
	return out
}
