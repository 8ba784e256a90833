#define _GNU_SOURCE
#include "cspawn.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* Where orchestrator-step-gate expects them. */
enum { GATE_FD = 3, REPORT_FD = 4 };

int orch_pipe_cloexec(int fds[2]) {
    return pipe2(fds, O_CLOEXEC);
}

int orch_pidfd_open(pid_t pid) {
#ifdef SYS_pidfd_open
    return (int)syscall(SYS_pidfd_open, pid, 0);
#else
    errno = ENOSYS;
    return -1;
#endif
}

/* A child's SIGCHLD, when it ends, serves nobody here: its end is seen
 * through its pidfd, and it is reaped with waitpid. The signal's action is
 * the default (ignore: not SIG_IGN, which would reap children before
 * waitpid could), and the kernel drops such a signal as it is sent only if
 * the child's parent, the thread that spawned it, does not block it.
 * Dispatch's worker threads block it: the signal was then queued to the
 * process and woke, for nothing, a thread that does not block it (the main
 * thread, waiting in pause()) and Dispatch's manager thread (whose
 * signalfd is woken by any signal sent to the process), once per step. So
 * a thread unblocks it before it spawns; the mask stays so (a worker that
 * spawns once is likely to spawn again). Whoever installs a SIGCHLD handler
 * one day must know that it may then run on any thread that spawned. */
static void let_children_end_quietly(void) {
    sigset_t child;
    sigemptyset(&child);
    sigaddset(&child, SIGCHLD);
    pthread_sigmask(SIG_UNBLOCK, &child, NULL);
}

/* A close-on-exec copy at 10 or above, so that the spawn's dup2s onto 3
 * and 4 can never overwrite a source they still need. */
static int move_high(int fd) {
    int high = fcntl(fd, F_DUPFD_CLOEXEC, 10);
    int saved = errno;
    close(fd);
    errno = saved;
    return high;
}

/* CLOCK_BOOTTIME in the clock ticks of /proc/PID/stat's starttime (which
 * the kernel takes from the same clock as it creates the process, and
 * rounds down to ticks); 0 if unknown. */
static unsigned long long boottime_ticks(void) {
    long per_second = sysconf(_SC_CLK_TCK); /* no system call: glibc knows it */
    struct timespec now;

    if (per_second <= 0 || 1000000000L % per_second != 0 || clock_gettime(CLOCK_BOOTTIME, &now) != 0) return 0;
    return ((unsigned long long)now.tv_sec * 1000000000ULL + (unsigned long long)now.tv_nsec) / (unsigned long long)(1000000000L / per_second);
}

static void close_pair(int fds[2]) {
    if (fds[0] >= 0) close(fds[0]);
    if (fds[1] >= 0) close(fds[1]);
}

int orch_spawn_gated(const char *gate_helper, const char *path, char *const argv[], char *const envp[], const char *cwd,
                     int stdout_fd, int stderr_fd, pid_t *pid_out, int *gate_out, int *report_out,
                     unsigned long long *start_ticks_out) {
    unsigned long long before, after;
    int gate[2] = { -1, -1 }, report[2] = { -1, -1 };
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attributes;
    sigset_t all, none;
    size_t count = 0;
    char **helper_argv;
    int rc;

    /* A socket, not a pipe, so that opening the gate of a step that died
     * meanwhile is EPIPE (MSG_NOSIGNAL), not a SIGPIPE. */
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, gate) != 0) return errno;
    if (pipe2(report, O_CLOEXEC) != 0 || (gate[0] = move_high(gate[0])) < 0 || (report[1] = move_high(report[1])) < 0) {
        rc = errno;
        close_pair(gate);
        close_pair(report);
        return rc;
    }
    while (argv[count] != NULL) count++;
    helper_argv = calloc(count + 3, sizeof *helper_argv);
    if (helper_argv == NULL) {
        close_pair(gate);
        close_pair(report);
        return ENOMEM;
    }
    helper_argv[0] = (char *)gate_helper;
    helper_argv[1] = (char *)path;
    memcpy(helper_argv + 2, argv, count * sizeof *argv);

    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attributes);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, stdout_fd, 1);
    posix_spawn_file_actions_adddup2(&actions, stderr_fd, 2);
    posix_spawn_file_actions_adddup2(&actions, gate[0], GATE_FD);
    posix_spawn_file_actions_adddup2(&actions, report[1], REPORT_FD);
    /* Whatever the daemon has open (sockets, MongoDB connections, the
     * journal, other steps' gates) stays out of the step. */
    posix_spawn_file_actions_addclosefrom_np(&actions, REPORT_FD + 1);
    if (cwd != NULL) posix_spawn_file_actions_addchdir_np(&actions, cwd);
    sigfillset(&all);
    sigemptyset(&none);
    posix_spawnattr_setsigdefault(&attributes, &all);
    posix_spawnattr_setsigmask(&attributes, &none);
    posix_spawnattr_setpgroup(&attributes, 0);
    posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);

    let_children_end_quietly();
    before = boottime_ticks();
    rc = posix_spawn(pid_out, gate_helper, &actions, &attributes, helper_argv, envp);
    after = boottime_ticks();
    /* The child was created between the two readings: when both fall in
     * the same tick, that tick is its start time, without reading
     * /proc/PID/stat (an open, a read and a close per step, and a dentry
     * the kernel must then invalidate when the process is reaped). */
    *start_ticks_out = before == after ? before : 0;
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attributes);
    free(helper_argv);
    close(gate[0]);
    close(report[1]);
    if (rc != 0) {
        close(gate[1]);
        close(report[0]);
        return rc;
    }
    *gate_out = gate[1];
    *report_out = report[0];
    return 0;
}

void orch_gate_release(int gate_fd) {
    char go = 'g';

    while (send(gate_fd, &go, 1, MSG_NOSIGNAL) < 0 && errno == EINTR) {}
    close(gate_fd);
}

int orch_gate_report(int report_fd) {
    int error = 0;
    ssize_t n;

    /* The process has been reaped: whatever the gate reported is in the
     * pipe already. Not blocking, so that a copy of the other end held
     * elsewhere (a helper that a user lookup forked, say) cannot hold this
     * thread: nothing there is no report. */
    fcntl(report_fd, F_SETFL, O_NONBLOCK);
    do { n = read(report_fd, &error, sizeof error); } while (n < 0 && errno == EINTR);
    close(report_fd);
    return n == (ssize_t)sizeof error ? error : 0; /* closed on exec: started */
}

void orch_gate_abandon(int gate_fd, int report_fd) {
    close(gate_fd);
    close(report_fd);
}

int orch_spawn(const char *path, char *const argv[], char *const envp[], int stdin_fd, int stdout_fd, int stderr_fd, pid_t *pid_out) {
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attributes;
    sigset_t all, none;
    int rc;

    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attributes);
    posix_spawn_file_actions_adddup2(&actions, stdin_fd, 0);
    posix_spawn_file_actions_adddup2(&actions, stdout_fd, 1);
    posix_spawn_file_actions_adddup2(&actions, stderr_fd, 2);
    posix_spawn_file_actions_addclosefrom_np(&actions, 3);
    sigfillset(&all);
    sigemptyset(&none);
    posix_spawnattr_setsigdefault(&attributes, &all);
    posix_spawnattr_setsigmask(&attributes, &none);
    posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
    let_children_end_quietly();
    rc = posix_spawn(pid_out, path, &actions, &attributes, argv, envp);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attributes);
    return rc;
}

void orch_name_this_thread(const char *name) {
    char kept[16];
    strncpy(kept, name, sizeof kept - 1);
    kept[sizeof kept - 1] = '\0';
    prctl(PR_SET_NAME, kept, 0, 0, 0);
}
