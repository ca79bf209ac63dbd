/* status: the mount's state as JSON, for the user.dbxfs.status xattr
 * (dbxctl status reads it): online, queued work, uploads and what dbxd
 * refused. */
#ifndef DBXFS_STATUS_H
#define DBXFS_STATUS_H

struct dbxfs;

/* The JSON text (malloc'd; the caller frees it), or NULL without memory. */
char *status_json(struct dbxfs *fs);

#endif
