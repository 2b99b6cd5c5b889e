package run

import (
	"syscall"
	"time"
)

// stopLadder is how a cancelled or timed-out step's processes are ended,
// as GitHub's runner ends them (ProcessInvoker.CancelAndKillProcessTree,
// documented in "Canceling a workflow"): SIGINT to the step's entry
// process (the shell of a run: step, node, the container's main process);
// SIGTERM to it after interrupt (7.5 s there) if it has not ended; SIGKILL
// to its whole tree after kill (2.5 s there). A force (a second Ctrl-C, a
// force-cancel, the end of the cancel timeout) goes to SIGKILL at once.
type stopLadder struct {
	interrupt, kill time.Duration
	force           <-chan struct{}
}

// ladder is the options' ladder: InterruptGrace, KillGrace, Force.
func (opts Options) ladder() stopLadder {
	return stopLadder{interrupt: opts.InterruptGrace, kill: opts.KillGrace, force: opts.Force.Done()}
}

// total is the longest the ladder takes.
func (l stopLadder) total() time.Duration { return l.interrupt + l.kill }

// rung is a signal to the entry process and the wait after it.
type rung struct {
	sig  syscall.Signal
	wait time.Duration
}

// rungs are the ladder's signals before SIGKILL; none once forced.
func (l stopLadder) rungs() []rung {
	select {
	case <-l.force:
		return nil
	default:
	}
	return []rung{{syscall.SIGINT, l.interrupt}, {syscall.SIGTERM, l.kill}}
}

// climb sends SIGINT and SIGTERM through entry, each after the previous
// one's wait, then SIGKILL through tree, until done is closed (the entry
// process ended). A force during a wait skips to SIGKILL.
func (l stopLadder) climb(done <-chan struct{}, entry, tree func(syscall.Signal)) {
	for _, rung := range l.rungs() {
		entry(rung.sig)
		t := time.NewTimer(rung.wait)
		select {
		case <-done:
			t.Stop()
			return
		case <-l.force:
			t.Stop()
			tree(syscall.SIGKILL)
			return
		case <-t.C:
		}
	}
	tree(syscall.SIGKILL)
}
