#ifndef ORCHESTRATOR_CSPAWN_H
#define ORCHESTRATOR_CSPAWN_H
#include <sys/types.h>

/* Forks a child that will run `path` with `argv` and exactly `envp`, in a
 * new process group of its own, stdin from /dev/null, stdout/stderr on the
 * given fds, no other fd inherited, every signal at its default disposition
 * and none blocked (the daemon ignores SIGPIPE/SIGTERM/SIGHUP; a step must
 * not inherit that). `cwd` may be NULL.
 *
 * The child waits at a gate before it changes directory or executes
 * anything, so the daemon can record the pid before the step does any work:
 * `orch_gate_open` lets it go, `orch_gate_abandon` (or the daemon dying)
 * makes it exit with status 125 having run nothing.
 * Returns 0 or an errno value (pipe or fork failed). */
int orch_spawn_gated(const char *path, char *const argv[], char *const envp[], const char *cwd,
                     int stdout_fd, int stderr_fd, pid_t *pid_out, int *gate_out, int *report_out);

/* Where a gated child failed, if it did. */
enum orch_start_stage { ORCH_STARTED = 0, ORCH_FAILED_CHDIR = 1, ORCH_FAILED_EXEC = 2 };

/* Lets the child go and waits until it has executed its program or failed
 * to (a few microseconds: this does not wait for the program to finish).
 * Returns the stage reached; on failure *error_out holds the errno. Closes
 * both fds. */
int orch_gate_open(int gate_fd, int report_fd, int *error_out);

/* The child exits without running anything. Closes both fds. */
void orch_gate_abandon(int gate_fd, int report_fd);

/* pidfd_open(2): readable once the process has exited; -1 if the kernel has none. */
int orch_pidfd_open(pid_t pid);

/* pipe2(fds, O_CLOEXEC): hidden behind _GNU_SOURCE in glibc's headers. */
int orch_pipe_cloexec(int fds[2]);

#endif
