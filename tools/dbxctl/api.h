/* api: dbxctl's client of the dbxd API (docs/api.md), on common/httpc.
 *
 * api_open() reads the config and token that `dbxctl login` saved (or
 * --config / --token-file) and fills the client half of struct ctl: the
 * httpc pool holds the token from then on, and the copy read from the file
 * is wiped. api_call() makes one JSON call and turns every failure
 * (unreachable server, refused token, an error answer) into one line on
 * stderr, so a subcommand only handles success. Nothing here prints the
 * token or a password. api_close() frees what api_open*() made; it is safe
 * to call on a struct ctl that was never opened. */
#ifndef DBXCTL_API_H
#define DBXCTL_API_H

#include <cjson/cJSON.h>

#include "ctl.h"

/* A logged-in client: config + token. CTL_OK or CTL_FAIL (reported). */
int api_open(struct ctl *c);
/* A client of server without a token (login). CTL_OK or CTL_FAIL. */
int api_open_server(struct ctl *c, const char *server, const char *ca_file);
void api_close(struct ctl *c);

/* One call; only a transport failure is reported (CTL_FAIL). On CTL_OK,
 * *status is the HTTP status and *reply the answer (or NULL): for callers
 * that give some statuses their own message. */
int api_request(struct ctl *c, const char *method, const char *path,
                const cJSON *body, long *status, cJSON **reply);
/* One call that must answer 2xx: CTL_OK with *reply (may be NULL when
 * reply is NULL), or CTL_FAIL after a one-line message naming what (the
 * PATH the user gave, or NULL). */
int api_call(struct ctl *c, const char *what, const char *method,
             const char *path, const cJSON *body, cJSON **reply);
/* Reports a failed answer as api_call does; returns CTL_FAIL. */
int api_report(struct ctl *c, const char *what, long status, const cJSON *reply);

#endif
