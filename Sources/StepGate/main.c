/* orchestrator-step-gate: what orchestratord starts for a step, in the
 * step's process group, environment and directory. It waits at the gate
 * (fd 3) until the daemon has recorded its pid, then becomes the step's
 * program (execve: same pid). End of file at the gate means the daemon
 * abandoned the launch or died first: exit 125 having run nothing. An exec
 * failure is reported as errno back through the gate (a socket), which
 * otherwise closes on exec.
 *
 * With --run-as=USER:GROUP (GROUP empty: the user's primary group; else
 * one of the user's groups), it becomes that user before the exec:
 * supplementary groups from the group database (initgroups), then setgid,
 * then setuid, and HOME, USER and LOGNAME are the user's; then, with
 * --cwd=DIR, it enters DIR as that user (so a step never starts in a
 * directory its user could not enter). A failure there is reported at the
 * gate as a negative code (see RunningProcess.gateFailure in the daemon) or as
 * the errno of the call that failed.
 *
 *   orchestrator-step-gate [--run-as=USER:GROUP [--cwd=DIR]] -- PATH ARGV0 [ARG...]   (not meant to be run by hand)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

enum { GATE_FD = 3 };
enum { NO_SUCH_USER = -1, NO_SUCH_GROUP = -2, STILL_PRIVILEGED = -3, NOT_A_MEMBER = -4, CHDIR_FAILED = -1000 };

static const char RUN_AS[] = "--run-as=";
static const char CWD[] = "--cwd=";

static int report(int code) {
    ssize_t n;
    do { n = write(GATE_FD, &code, sizeof code); } while (n < 0 && errno == EINTR);
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
    /* glibc may leave ENOENT (or nothing) for a name it does not know: either way, there is none. */
    user = getpwnam(spec);
    if (user == NULL) return NO_SUCH_USER;
    gid = user->pw_gid;
    if (group_name != NULL) {
        struct group *group = getgrnam(group_name);
        gid_t groups[NGROUPS_MAX];
        int count = NGROUPS_MAX, member = 0;
        if (group == NULL) return NO_SUCH_GROUP;
        gid = group->gr_gid;
        /* Only a group the user is in: any other would hand the step what that group may read. */
        if (getgrouplist(user->pw_name, user->pw_gid, groups, &count) >= 0) {
            for (int i = 0; i < count; i++) member |= groups[i] == gid;
        }
        if (!member) return NOT_A_MEMBER;
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
    int code, i = 1;
    char *run_as = NULL, *cwd = NULL;

    if (i < argc && strncmp(argv[i], RUN_AS, sizeof RUN_AS - 1) == 0) run_as = argv[i++] + sizeof RUN_AS - 1;
    if (run_as != NULL && i < argc && strncmp(argv[i], CWD, sizeof CWD - 1) == 0) cwd = argv[i++] + sizeof CWD - 1;
    /* The options end at "--": a program whose path looks like one is still a program. */
    if (i >= argc || strcmp(argv[i], "--") != 0 || argc - i < 3 || fcntl(GATE_FD, F_SETFD, FD_CLOEXEC) < 0) {
        fprintf(stderr, "orchestrator-step-gate: started by orchestratord for a step, not by hand\n");
        return 64;
    }
    i++;
    do { n = read(GATE_FD, &go, 1); } while (n < 0 && errno == EINTR);
    if (n != 1 || go != 'g') return 125;
    if (run_as != NULL && (code = become(run_as)) != 0) return report(code);
    if (cwd != NULL && chdir(cwd) != 0) return report(CHDIR_FAILED - errno);
    execve(argv[i], argv + i + 1, environ);
    return report(errno);
}
