package store

import "sync"

// ChangeKind says what a write did to the runs lists show.
type ChangeKind int

const (
	// AnyChange: any list may show something else (a re-run's attempt
	// hides the one before it, a run deleted, a workflow numbered or
	// disabled).
	AnyChange ChangeKind = iota
	// Added: a new workflow run (its first attempt), every other run as
	// it was.
	Added
	// StatusChanged: only the attempt's status, conclusion, message and
	// times changed; its repository, workflow, ref, event, actor, commit
	// and creation never change.
	StatusChanged
)

// Change is one write, as Gen counts them: its generation, what it did
// and to which run attempt (its ID).
type Change struct {
	Gen  uint64
	Kind ChangeKind
	Run  int64
}

// changeLog is how many of the last changes ChangesSince can give.
const changeLog = 1024

type changes struct {
	mu  sync.Mutex
	log [changeLog]Change
}

// wrote marks a committed write and records what it changed; methods
// defer it, so that it follows their commit.
func (s *Store) wrote(kind ChangeKind, run int64) {
	s.changes.mu.Lock()
	defer s.changes.mu.Unlock()
	g := s.gen.Add(1)
	s.changes.log[g%changeLog] = Change{Gen: g, Kind: kind, Run: run}
}

// ChangesSince returns the changes after generation g, oldest first;
// false when they are no longer all known (more than the log keeps).
func (s *Store) ChangesSince(g uint64) ([]Change, bool) {
	s.changes.mu.Lock()
	defer s.changes.mu.Unlock()
	cur := s.gen.Load()
	if g > cur || cur-g >= changeLog {
		return nil, false
	}
	out := make([]Change, 0, cur-g)
	for n := g + 1; n <= cur; n++ {
		c := s.changes.log[n%changeLog]
		if c.Gen != n {
			return nil, false
		}
		out = append(out, c)
	}
	return out, true
}
