/* sdnotify: the service manager's readiness protocol (sd_notify(3)) without
 * libsystemd: one datagram of "KEY=VALUE" lines to $NOTIFY_SOCKET. dbxd
 * and a foreground dbxfs tell systemd when they are ready and stopping,
 * so Type=notify units start what depends on them at the right moment.
 * Without $NOTIFY_SOCKET (not under systemd) every call does nothing. */
#ifndef DBX_SDNOTIFY_H
#define DBX_SDNOTIFY_H

/* Sends state (e.g. "READY=1\nSTATUS=listening on ..."). 1 when sent, 0
 * when there is no service manager to tell, -errno on failure. */
int sdnotify(const char *state);

#endif
