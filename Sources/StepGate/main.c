/* orchestrator-step-gate: what orchestratord starts for a step, in the
 * step's process group, environment and directory. It waits at the gate
 * (fd 3) until the daemon has recorded its pid, then becomes the step's
 * program (execve: same pid). End of file at the gate means the daemon
 * abandoned the launch or died first: exit 125 having run nothing. An exec
 * failure is reported as errno on fd 4, which otherwise closes on exec.
 *
 * With --run-as=USER:GROUP first (GROUP empty: the user's primary group),
 * it becomes that user before the exec: supplementary groups from the
 * group database (initgroups), then setgid, then setuid, and HOME, USER
 * and LOGNAME are the user's. A failure there is reported on fd 4 as a
 * negative code (no such user, no such group, still privileged: see
 * RunningProcess.gateFailure in the daemon) or as the errno of the call
 * that failed.
 *
 *   orchestrator-step-gate [--run-as=USER:GROUP] PATH ARGV0 [ARG...]   (not meant to be run by hand)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

enum { GATE_FD = 3, REPORT_FD = 4 };
enum { NO_SUCH_USER = -1, NO_SUCH_GROUP = -2, STILL_PRIVILEGED = -3 };

static const char RUN_AS[] = "--run-as=";

static int report(int code) {
    ssize_t n;
    do { n = write(REPORT_FD, &code, sizeof code); } while (n < 0 && errno == EINTR);
    return 127;
}

/* Becomes USER (and GROUP): 0, or the code to report. */
static int become(char *spec) {
    char *colon = strchr(spec, ':');
    const char *group_name = NULL;
    struct passwd *user;
    gid_t gid;

    if (colon != NULL) {
        *colon = '\0';
        if (colon[1] != '\0') group_name = colon + 1;
    }
    errno = 0;
    user = getpwnam(spec);
    if (user == NULL) return errno != 0 ? errno : NO_SUCH_USER;
    gid = user->pw_gid;
    if (group_name != NULL) {
        struct group *group;
        errno = 0;
        group = getgrnam(group_name);
        if (group == NULL) return errno != 0 ? errno : NO_SUCH_GROUP;
        gid = group->gr_gid;
    }
    if (initgroups(user->pw_name, gid) != 0 || setgid(gid) != 0 || setuid(user->pw_uid) != 0) return errno;
    /* Had setuid only changed the effective uid, root could come back. */
    if (user->pw_uid != 0 && setuid(0) == 0) return STILL_PRIVILEGED;
    setenv("HOME", user->pw_dir, 1);
    setenv("USER", user->pw_name, 1);
    setenv("LOGNAME", user->pw_name, 1);
    return 0;
}

int main(int argc, char *argv[]) {
    char go = 0;
    ssize_t n;
    int code;
    char *run_as = NULL;

    if (argc > 1 && strncmp(argv[1], RUN_AS, sizeof RUN_AS - 1) == 0) {
        run_as = argv[1] + sizeof RUN_AS - 1;
        argv++;
        argc--;
    }
    if (argc < 3 || fcntl(GATE_FD, F_GETFD) < 0 || fcntl(REPORT_FD, F_SETFD, FD_CLOEXEC) < 0) {
        fprintf(stderr, "orchestrator-step-gate: started by orchestratord for a step, not by hand\n");
        return 64;
    }
    do { n = read(GATE_FD, &go, 1); } while (n < 0 && errno == EINTR);
    if (n != 1 || go != 'g') return 125;
    close(GATE_FD);
    if (run_as != NULL && (code = become(run_as)) != 0) return report(code);
    execve(argv[1], argv + 2, environ);
    return report(errno);
}
