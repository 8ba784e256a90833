#define _GNU_SOURCE
#include "cspawn.h"
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The raw signal-mask calls below pass an unsigned long as the kernel's 64-bit set. */
_Static_assert(sizeof(unsigned long) * 8 == NSIG - 1, "a kernel signal set is one unsigned long here");

/* Where orchestrator-step-gate expects its end of the gate. */
enum { GATE_FD = 3 };

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

/* A close-on-exec copy at 10 or above, so that the spawn's dup2s onto 1,
 * 2 and 3 can never overwrite a source they still need. */
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

/* The child places its fds one after another on 0, 1, 2...: a source
 * numbered `highest` or below could be overwritten before its turn (a
 * daemon started with its own stdio closed gets such numbers for its
 * pipes). Such a source is replaced in `sources` by a close-on-exec copy at
 * 10 or above, also kept in `copies` (-1 where none was made) for
 * `close_copies`. 0, or an errno (then no copy is left open). */
static int copy_low_sources(int sources[], int copies[], int count, int highest) {
    for (int i = 0; i < count; i++) copies[i] = -1;
    for (int i = 0; i < count; i++) {
        if (sources[i] > highest) continue;
        if ((copies[i] = fcntl(sources[i], F_DUPFD_CLOEXEC, 10)) < 0) {
            int rc = errno;
            for (int j = 0; j < i; j++) {
                if (copies[j] >= 0) close(copies[j]);
            }
            return rc;
        }
        sources[i] = copies[i];
    }
    return 0;
}

static void close_copies(const int copies[], int count) {
    for (int i = 0; i < count; i++) {
        if (copies[i] >= 0) close(copies[i]);
    }
}

/* What the child of a spawn does, and where it leaves the errno of what
 * failed: on the parent's stack, which the child shares (CLONE_VM) while
 * the parent waits for its exec (CLONE_VFORK). */
struct child_plan {
    const char *program;
    char *const *argv;
    char *const *envp;
    const char *cwd;    /* NULL: the daemon's */
    int fds[4];         /* what becomes fd 0, 1, 2 and 3; -1 for fd 0: /dev/null; -1 for fd 3: none */
    int own_group;      /* in a new process group of its own */
    volatile int error;
};

/* Everything from `lowest` up closed, even where close_range is missing
 * (a kernel before 5.9) or refused (a seccomp filter): then the fds open
 * are read from /proc/self/fd, as glibc's closefrom does (a loop up to the
 * fd limit could be a billion system calls in a container), and the loop
 * is the last resort, without /proc. */
static void close_from(int lowest) {
    char entries[1024] __attribute__((aligned(8)));
    struct rlimit limit;
    long directory, count;
    int closed;

#ifdef SYS_close_range
    if (syscall(SYS_close_range, (unsigned)lowest, ~0U, 0U) == 0) return;
#endif
    directory = syscall(SYS_openat, AT_FDCWD, "/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (directory >= 0) {
        do {
            closed = 0;
            while ((count = syscall(SYS_getdents64, (int)directory, entries, sizeof entries)) > 0) {
                for (long offset = 0; offset < count;) {
                    const struct dirent64 *entry = (const struct dirent64 *)(entries + offset);
                    long fd = 0;
                    const char *digit = entry->d_name;
                    offset += entry->d_reclen;
                    if (*digit < '0' || *digit > '9') continue;
                    for (; *digit >= '0' && *digit <= '9'; digit++) fd = fd * 10 + (*digit - '0');
                    if (fd < lowest || fd == directory) continue;
                    syscall(SYS_close, (int)fd);
                    closed = 1;
                }
            }
            /* Closing changes the listing: read it again from the start until a pass closes nothing. */
        } while (closed && syscall(SYS_lseek, (int)directory, 0L, SEEK_SET) == 0);
        syscall(SYS_close, (int)directory);
        return;
    }
    if (syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, NULL, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) limit.rlim_cur = 65536;
    for (rlim_t fd = (rlim_t)lowest; fd < limit.rlim_cur; fd++) syscall(SYS_close, (int)fd);
}

/* `from` as fd `to` in the child. dup3 refuses a source already numbered
 * `to`, and such a close-on-exec source (a pipe that got fd 1 in a daemon
 * started with stdout closed) would close at the exec: its flag is
 * cleared instead, as glibc's posix_spawn does. */
static int place_fd(int from, int to) {
    if (from == to) return (int)syscall(SYS_fcntl, from, F_SETFD, 0);
    return syscall(SYS_dup3, from, to, 0) < 0 ? -1 : 0;
}

/* The child, until it executes its program: raw system calls only,
 * nothing that allocates or locks (it shares the daemon's memory), and no
 * call into glibc, whose functions may be cancellation points that write
 * to the spawning thread's own descriptor, be resolved lazily by the
 * dynamic linker on their first call, or be a sanitizer's interceptor
 * (`syscall` itself, and errno's location, were used by the parent just
 * before: already bound).
 * Signals are all blocked on entry (the parent blocked them), so no
 * handler of the daemon can run here; each is set to its default before
 * they are unblocked for the exec (the daemon ignores SIGPIPE, SIGTERM and
 * SIGHUP; a step must not inherit that). The system call, not glibc's
 * sigaction, which refuses the two real-time signals glibc keeps for
 * itself: its posix_spawn set those to be ignored, and every step
 * inherited SIGRTMIN and SIGRTMIN+1 ignored. (An all-zero kernel sigaction
 * is the default action with no flags and an empty mask, whatever the
 * architecture's layout of the rest.) */
static int become_child(void *argument) {
    struct child_plan *plan = argument;
    unsigned long default_action[4] = { 0, 0, 0, 0 };
    unsigned long none = 0;
    long null_fd;
    int highest = plan->fds[3] >= 0 ? 3 : 2;

    for (int signal_number = 1; signal_number < NSIG; signal_number++) {
        if (signal_number != SIGKILL && signal_number != SIGSTOP) {
            syscall(SYS_rt_sigaction, signal_number, default_action, NULL, (size_t)(NSIG / 8));
        }
    }
    if (plan->own_group && syscall(SYS_setpgid, 0, 0) != 0) goto failed;
    if (plan->fds[0] < 0) {
        if ((null_fd = syscall(SYS_openat, AT_FDCWD, "/dev/null", O_RDONLY)) < 0) goto failed;
        if (null_fd != 0 && (syscall(SYS_dup3, null_fd, 0, 0) < 0 || syscall(SYS_close, null_fd) != 0)) goto failed;
    } else if (place_fd(plan->fds[0], 0) < 0) {
        goto failed;
    }
    for (int fd = 1; fd <= highest; fd++) {
        if (place_fd(plan->fds[fd], fd) < 0) goto failed;
    }
    /* Whatever the daemon has open (sockets, MongoDB connections, the
     * journal, other steps' gates) stays out of the child. */
    close_from(highest + 1);
    if (plan->cwd != NULL && syscall(SYS_chdir, plan->cwd) != 0) goto failed;
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, (size_t)(NSIG / 8));
    syscall(SYS_execve, plan->program, plan->argv, plan->envp);
failed:
    plan->error = errno != 0 ? errno : EINVAL;
    syscall(SYS_exit_group, 127);
    return 127;
}

/* Starts the child `plan` describes: its pid, or -1 with errno (or the
 * errno of what the child could not do before its exec, reaped then).
 * `pidfd_out` (may be NULL) gets its pidfd, or -1. `before` and `after`:
 * CLOCK_BOOTTIME in ticks just before and just after the clone. */
static pid_t spawn_child(struct child_plan *plan, int *pidfd_out, unsigned long long *before, unsigned long long *after) {
    /* The child's stack is here, as in musl's posix_spawn. glibc's
     * posix_spawn maps one for every spawn and unmaps it after (and in a
     * multi-threaded process an unmapping must flush the TLBs of the CPUs
     * running its other threads), and checks each file action against the
     * fd limit with a system call: measured in a process with threads, the
     * spawning thread spent about 25 us more per spawn that way. */
    char child_stack[32768] __attribute__((aligned(16)));
    unsigned long all = ~0UL, previous = 0; /* kernel signal sets: 64 bits (checked above) */
    int pidfd = -1, rc;
    pid_t pid;

    plan->error = 0;
    /* Bound here, so that the child's read of errno (on its failure path) calls nothing the dynamic linker must resolve first. */
    errno = 0;
    let_children_end_quietly();
    /* Every signal, glibc's own two included (its sigfillset leaves them
     * out), blocked for the child's first instructions. */
    syscall(SYS_rt_sigprocmask, SIG_BLOCK, &all, &previous, (size_t)(NSIG / 8));
    *before = boottime_ticks();
    /* With its pidfd made by the clone itself (Linux 5.2), not by a
     * pidfd_open after. A kernel before 5.2 ignores the flag (the pidfd
     * stays -1, and pidfd_open finds none either); one that refuses it, or
     * a full fd table (no fd for the pidfd), fails the clone before it
     * creates anything, and it is made again without: a step without a
     * pidfd is still supervised, by polling. */
    pid = pidfd_out == NULL ? -1 : clone(become_child, child_stack + sizeof child_stack, CLONE_VM | CLONE_VFORK | CLONE_PIDFD | SIGCHLD, plan, &pidfd);
    if (pidfd_out == NULL || (pid < 0 && (errno == EINVAL || errno == EMFILE || errno == ENFILE))) {
        pidfd = -1;
        *before = boottime_ticks();
        pid = clone(become_child, child_stack + sizeof child_stack, CLONE_VM | CLONE_VFORK | SIGCHLD, plan);
    }
    *after = boottime_ticks();
    rc = pid < 0 ? errno : plan->error;
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &previous, NULL, (size_t)(NSIG / 8));
    if (pid > 0 && rc != 0) {
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {}
        if (pidfd >= 0) close(pidfd);
    }
    if (rc != 0) {
        errno = rc;
        return -1;
    }
    if (pidfd_out != NULL) *pidfd_out = pidfd >= 0 ? pidfd : orch_pidfd_open(pid);
    return pid;
}

int orch_spawn_gated(const char *gate_helper, const char *path, char *const argv[], char *const envp[], const char *cwd,
                     int stdout_fd, int stderr_fd, pid_t *pid_out, int *gate_out, int *pidfd_out,
                     unsigned long long *start_ticks_out) {
    struct child_plan plan;
    unsigned long long before, after;
    int gate[2] = { -1, -1 };
    size_t count = 0;
    char **helper_argv;
    pid_t pid;
    int rc;

    /* A socket, not a pipe: both ways (the daemon opens the gate, the
     * helper reports a failure back), and opening the gate of a step that
     * died meanwhile is EPIPE (MSG_NOSIGNAL), not a SIGPIPE. */
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, gate) != 0) return errno;
    if ((gate[0] = move_high(gate[0])) < 0) {
        rc = errno;
        close_pair(gate);
        return rc;
    }
    while (argv[count] != NULL) count++;
    helper_argv = calloc(count + 3, sizeof *helper_argv);
    if (helper_argv == NULL) {
        close_pair(gate);
        return ENOMEM;
    }
    int sources[2] = { stdout_fd, stderr_fd }, copies[2];
    if ((rc = copy_low_sources(sources, copies, 2, GATE_FD)) != 0) {
        close_pair(gate);
        free(helper_argv);
        return rc;
    }
    helper_argv[0] = (char *)gate_helper;
    helper_argv[1] = (char *)path;
    memcpy(helper_argv + 2, argv, count * sizeof *argv);
    plan = (struct child_plan){
        .program = gate_helper, .argv = helper_argv, .envp = envp, .cwd = cwd,
        .fds = { -1, sources[0], sources[1], [GATE_FD] = gate[0] }, .own_group = 1, .error = 0,
    };
    pid = spawn_child(&plan, pidfd_out, &before, &after);
    rc = pid < 0 ? errno : 0;
    /* The child was created between the two readings: when both fall in
     * the same tick, that tick is its start time, without reading
     * /proc/PID/stat (an open, a read and a close per step, and a dentry
     * the kernel must then invalidate when the process is reaped). */
    *start_ticks_out = before == after ? before : 0;
    free(helper_argv);
    close(gate[0]);
    close_copies(copies, 2);
    if (rc != 0) {
        close(gate[1]);
        return rc;
    }
    *pid_out = pid;
    *gate_out = gate[1];
    return 0;
}

void orch_gate_release(int gate_fd) {
    char go = 'g';

    while (send(gate_fd, &go, 1, MSG_NOSIGNAL) < 0 && errno == EINTR) {}
}

int orch_gate_report(int gate_fd) {
    int error = 0;
    ssize_t n;

    /* The process has been reaped: whatever the gate reported is in the
     * socket already. Not blocking, so that a copy of the other end held
     * elsewhere (a helper that a user lookup forked, say) cannot hold this
     * thread: nothing there is no report. */
    do { n = recv(gate_fd, &error, sizeof error, MSG_DONTWAIT); } while (n < 0 && errno == EINTR);
    close(gate_fd);
    return n == (ssize_t)sizeof error ? error : 0; /* closed on exec: started */
}

void orch_gate_abandon(int gate_fd) {
    close(gate_fd);
}

int orch_spawn(const char *path, char *const argv[], char *const envp[], int stdin_fd, int stdout_fd, int stderr_fd, pid_t *pid_out) {
    int sources[3] = { stdin_fd, stdout_fd, stderr_fd }, copies[3];
    unsigned long long before, after;
    pid_t pid;
    int rc = copy_low_sources(sources, copies, 3, 2);

    if (rc != 0) return rc;
    struct child_plan plan = {
        .program = path, .argv = argv, .envp = envp, .cwd = NULL, .fds = { sources[0], sources[1], sources[2], -1 }, .own_group = 0, .error = 0,
    };
    pid = spawn_child(&plan, NULL, &before, &after);
    if (pid < 0) rc = errno; else *pid_out = pid;
    close_copies(copies, 3);
    return rc;
}

void orch_name_this_thread(const char *name) {
    char kept[16];
    strncpy(kept, name, sizeof kept - 1);
    kept[sizeof kept - 1] = '\0';
    prctl(PR_SET_NAME, kept, 0, 0, 0);
}
