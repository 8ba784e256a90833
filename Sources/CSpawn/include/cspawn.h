#ifndef ORCHESTRATOR_CSPAWN_H
#define ORCHESTRATOR_CSPAWN_H
#include <sys/types.h>

/* Starts `gate_helper` (orchestrator-step-gate) for a step that will run
 * `path` with `argv` and exactly `envp`: in a new process group of its own,
 * stdin from /dev/null, stdout/stderr on the given fds, in `cwd` (may be
 * NULL), no other fd inherited, every signal at its default disposition and
 * none blocked (the daemon ignores SIGPIPE/SIGTERM/SIGHUP; a step must not
 * inherit that).
 *
 * The helper waits at a gate before it executes anything, so the daemon can
 * record the pid before the step does any work: `orch_gate_release` lets it go
 * (it then becomes the program, same pid), `orch_gate_abandon` (or the
 * daemon dying) makes it exit with status 125 having run nothing.
 * A clone that shares the daemon's memory until the exec, as posix_spawn
 * does, not fork: a fork of the multi-threaded daemon costs milliseconds of
 * page-table copying per step.
 * `start_ticks_out` is the process's start time as /proc/PID/stat's
 * starttime shows it, when the clock around the spawn proves it; else 0.
 * `pidfd_out`: the process's pidfd (close-on-exec), readable once it has
 * exited; -1 if the kernel has none.
 * Returns 0 or an errno value (socket or spawn failed, e.g. no such cwd). */
int orch_spawn_gated(const char *gate_helper, const char *path, char *const argv[], char *const envp[], const char *cwd,
                     int stdout_fd, int stderr_fd, pid_t *pid_out, int *gate_out, int *pidfd_out,
                     unsigned long long *start_ticks_out);

/* Lets the step go: it executes its program, or fails to. Does not wait;
 * the fd stays open for `orch_gate_report`. */
void orch_gate_release(int gate_fd);

/* Once the step's process has been reaped (what the gate reported is in
 * the socket then; this does not block): 0 if it executed its program, else
 * the code the gate reported (an errno of the failed execve, or one of the
 * gate's own, see RunningProcess.gateFailure). Closes the fd. */
int orch_gate_report(int gate_fd);

/* The step exits without running anything. Closes the fd. */
void orch_gate_abandon(int gate_fd);

/* Starts `path` with `argv` and exactly `envp`, its stdin, stdout and
 * stderr on the given fds, no other fd inherited, every signal at its
 * default disposition and none blocked: what the tests start their
 * daemons, databases and commands with (Foundation's Process.run on Linux
 * over-reads /proc/self/fd entries and crashes now and then). Returns 0 or
 * an errno value. */
int orch_spawn(const char *path, char *const argv[], char *const envp[], int stdin_fd, int stdout_fd, int stderr_fd, pid_t *pid_out);

/* pidfd_open(2): readable once the process has exited; -1 if the kernel has none. (close-on-exec) */
int orch_pidfd_open(pid_t pid);

/* Names the calling thread as the kernel shows it (ps -L, top -H; at most
 * 15 bytes kept): a step's supervising thread, reused for step after step,
 * takes each step's name. prctl is variadic, out of Swift's reach. */
void orch_name_this_thread(const char *name);

/* pipe2(fds, O_CLOEXEC): hidden behind _GNU_SOURCE in glibc's headers. */
int orch_pipe_cloexec(int fds[2]);

#endif
