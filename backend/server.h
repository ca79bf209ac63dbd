/* server: the lifecycle of the dbxd process — opening the stores under
 * the data directory (creating the key files on first start), serving
 * until SIGTERM or SIGINT, and stopping cleanly. */
#ifndef DBX_SERVER_H
#define DBX_SERVER_H

#include "dbxd.h"

/* Serves until a stop signal; 0 on a clean stop. */
int server_run(struct dbxd *d);

#endif
