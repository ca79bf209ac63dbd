/* account: who the mount is and what it starts from: a token (from a
 * password login, saved 0600, or the token file dbxctl wrote), the root
 * node and the change-feed cursor. A mount with a cache starts offline
 * when dbxd is unreachable; a first mount needs dbxd. Errors are one line
 * in err, for the user. */
#ifndef DBXFS_ACCOUNT_H
#define DBXFS_ACCOUNT_H

#include <stddef.h>

struct dbxfs;

int account_connect(struct dbxfs *fs, char *err, size_t errlen);

#endif
