/* orchestrator-step-gate: what orchestratord starts for a step, in the
 * step's process group, environment and directory. It waits at the gate
 * (fd 3) until the daemon has recorded its pid, then becomes the step's
 * program (execve: same pid). End of file at the gate means the daemon
 * abandoned the launch or died first: exit 125 having run nothing. An exec
 * failure is reported as errno on fd 4, which otherwise closes on exec.
 *
 *   orchestrator-step-gate PATH ARGV0 [ARG...]   (not meant to be run by hand)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

extern char **environ;

enum { GATE_FD = 3, REPORT_FD = 4 };

int main(int argc, char *argv[]) {
    char go = 0;
    ssize_t n;
    int error;

    if (argc < 3 || fcntl(GATE_FD, F_GETFD) < 0 || fcntl(REPORT_FD, F_SETFD, FD_CLOEXEC) < 0) {
        fprintf(stderr, "orchestrator-step-gate: started by orchestratord for a step, not by hand\n");
        return 64;
    }
    do { n = read(GATE_FD, &go, 1); } while (n < 0 && errno == EINTR);
    if (n != 1 || go != 'g') return 125;
    close(GATE_FD);
    execve(argv[1], argv + 2, environ);
    error = errno;
    n = write(REPORT_FD, &error, sizeof error);
    return 127;
}
