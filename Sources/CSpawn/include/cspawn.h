#ifndef ORCHESTRATOR_CSPAWN_H
#define ORCHESTRATOR_CSPAWN_H
#include <sys/types.h>

/* Starts `path` with `argv` and exactly `envp`, in a new process group of its
 * own, stdin from /dev/null, stdout/stderr on the given fds, no other fd
 * inherited, every signal at its default disposition and none blocked (the
 * daemon ignores SIGPIPE/SIGTERM/SIGHUP; a step must not inherit that).
 * `cwd` may be NULL. Returns 0 or an errno value (e.g. ENOENT, EACCES). */
int orch_spawn(const char *path, char *const argv[], char *const envp[], const char *cwd,
               int stdout_fd, int stderr_fd, pid_t *pid_out);

/* pipe2(fds, O_CLOEXEC): hidden behind _GNU_SOURCE in glibc's headers. */
int orch_pipe_cloexec(int fds[2]);

#endif
