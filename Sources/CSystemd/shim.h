#ifndef ORCHESTRATOR_CSYSTEMD_SHIM_H
#define ORCHESTRATOR_CSYSTEMD_SHIM_H
#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>
#include <sys/socket.h>
#include <sys/uio.h>

/* glibc hides struct ucred behind _GNU_SOURCE; this layout matches it. */
struct orch_ucred {
    int pid;
    unsigned int uid;
    unsigned int gid;
};
#endif
