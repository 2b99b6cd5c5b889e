package container

import "github.com/birdflock/runner/pkg/container/agent"

// The agent of job containers and of service containers with a health
// check (Spec.ExecAgent): the container's process (pid 1 in its pid
// namespace) is runner's own binary, bind-mounted read-only at agentPath,
// and it starts each step's process on request instead of a `runc exec`
// each (runc builds the seccomp filter, joins the namespaces and the
// cgroup for every exec: ≈ 40 ms, against ≈ 1 ms for a fork and exec by
// a process already inside).
//
// The agent talks to runner over a unix socket pair: runc passes one end
// to it as fd 3 (`runc run --preserve-fds 1`), so no socket file, path or
// permission is involved. Per process, runner sends over that control
// socket, as SCM_RIGHTS, one end of a new socket pair and the file that
// becomes the process's stdout and stderr; on the new socket it sends the
// request (agentRequest, one JSON line) and later signals, and receives
// the pid, then the exit status (agentReply lines).
//
// A service container's agent gets the image's entrypoint and command as
// its arguments after agentArg and "--", and starts that process before
// anything else, with its own environment, working directory and stdio;
// the container ends with it (agent.startMain).
//
// When runner's end of the control socket closes (Destroy, or runner
// killed) the agent exits, and with it, as pid 1, every process of the
// container. When runner closes a process's socket before that process
// has ended, its process group is killed.
//
// Any binary that links this package can be the agent: the init of
// pkg/container/agent (which this package imports, and which runs before
// most other packages' inits) turns it into one when it is started with
// agentArg (as docker's reexec does), so runner's binary and the test
// binaries of the packages that start job and service containers all
// work.

const (
	agentArg  = agent.Arg
	agentPath = "/__e/runner-agent"
)

type (
	agentRequest = agent.Request
	agentReply   = agent.Reply
)
