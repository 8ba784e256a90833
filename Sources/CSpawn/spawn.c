#define _GNU_SOURCE
#include "cspawn.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

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

static void report_and_exit(int report_fd, int stage) {
    int message[2] = { stage, errno };
    ssize_t ignored = write(report_fd, message, sizeof message);
    (void)ignored;
    _exit(127);
}

static int close_span(unsigned first, unsigned last) {
    return first > last ? 0 : (int)syscall(SYS_close_range, first, last, 0U);
}

/* Closes every fd from 3 up except `keep_a` and `keep_b`. */
static void close_all_but(int keep_a, int keep_b) {
    unsigned low = (unsigned)(keep_a < keep_b ? keep_a : keep_b), high = (unsigned)(keep_a < keep_b ? keep_b : keep_a);
    if (close_span(3U, low - 1) == 0 && close_span(low + 1, high - 1) == 0 && close_span(high + 1, ~0U) == 0) return;
    long max = sysconf(_SC_OPEN_MAX);
    for (int fd = 3; fd < (max > 0 && max < 65536 ? max : 65536); fd++)
        if (fd != keep_a && fd != keep_b) close(fd);
}

/* Runs in the forked child of a multi-threaded process: async-signal-safe
 * calls only. */
static void become_step(const char *path, char *const argv[], char *const envp[], const char *cwd,
                        int stdout_fd, int stderr_fd, int gate_fd, int report_fd) {
    struct sigaction dfl = { .sa_handler = SIG_DFL };
    sigset_t none;
    char go = 0;
    ssize_t n;
    int null_fd;

    setpgid(0, 0);
    for (int sig = 1; sig < NSIG; sig++) sigaction(sig, &dfl, NULL);
    null_fd = open("/dev/null", O_RDONLY);
    if (null_fd < 0 || dup2(null_fd, 0) < 0 || dup2(stdout_fd, 1) < 0 || dup2(stderr_fd, 2) < 0) report_and_exit(report_fd, ORCH_FAILED_EXEC);
    /* Whatever the daemon has open (sockets, MongoDB connections, the
     * journal, other steps' gates) stays out of the step. The report pipe
     * closes on exec, which is how the parent learns the program started. */
    close_all_but(gate_fd, report_fd);

    /* The gate: one byte means go; end of file means the daemon abandoned
     * the launch or died before it could record the pid. */
    do { n = read(gate_fd, &go, 1); } while (n < 0 && errno == EINTR);
    if (n != 1 || go != 'g') _exit(125);
    close(gate_fd);

    if (cwd != NULL && chdir(cwd) != 0) report_and_exit(report_fd, ORCH_FAILED_CHDIR);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execve(path, argv, envp);
    report_and_exit(report_fd, ORCH_FAILED_EXEC);
}

int orch_spawn_gated(const char *path, char *const argv[], char *const envp[], const char *cwd,
                     int stdout_fd, int stderr_fd, pid_t *pid_out, int *gate_out, int *report_out) {
    int gate[2], report[2];
    sigset_t all, previous;
    pid_t pid;
    int saved;

    /* A socket, not a pipe, so that opening the gate of a child that died
     * meanwhile is EPIPE (MSG_NOSIGNAL), not a SIGPIPE. */
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, gate) != 0) return errno;
    if (pipe2(report, O_CLOEXEC) != 0) {
        saved = errno;
        close(gate[0]); close(gate[1]);
        return saved;
    }
    /* No signal handler of the daemon may run in the child before it resets them. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous);
    pid = fork();
    if (pid == 0) become_step(path, argv, envp, cwd, stdout_fd, stderr_fd, gate[0], report[1]);
    saved = errno;
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    close(gate[0]);
    close(report[1]);
    if (pid < 0) {
        close(gate[1]); close(report[0]);
        return saved;
    }
    *pid_out = pid;
    *gate_out = gate[1];
    *report_out = report[0];
    return 0;
}

int orch_gate_open(int gate_fd, int report_fd, int *error_out) {
    char go = 'g';
    int message[2] = { ORCH_STARTED, 0 };
    ssize_t n;

    while (send(gate_fd, &go, 1, MSG_NOSIGNAL) < 0 && errno == EINTR) {}
    close(gate_fd);
    do { n = read(report_fd, message, sizeof message); } while (n < 0 && errno == EINTR);
    close(report_fd);
    if (n != (ssize_t)sizeof message) return ORCH_STARTED; /* closed on exec */
    *error_out = message[1];
    return message[0];
}

void orch_gate_abandon(int gate_fd, int report_fd) {
    close(gate_fd);
    close(report_fd);
}
