/* mountpath: from a PATH the user names to what dbxctl needs of the dbxfs
 * mount it lies in, asked of the mount itself rather than the server:
 *
 *   the mount's root   the fuse.dbxfs entry of /proc/self/mountinfo on
 *                      PATH's device whose mount point is the longest
 *                      prefix of PATH's real path
 *   the node id        the virtual xattr user.dbxfs.id of PATH
 *   the sync state     the virtual xattr user.dbxfs.status of the root
 *
 * The caller owns every buffer. Errors are -errno, with a one-line message
 * in err that names PATH as the user gave it. */
#ifndef DBXCTL_MOUNTPATH_H
#define DBXCTL_MOUNTPATH_H

#include <limits.h>
#include <stddef.h>

#include "wire.h"

struct mountpath {
    char real[PATH_MAX];                 /* realpath of PATH */
    char root[PATH_MAX];                 /* the mount point */
    char id[WIRE_ID_HEX_LEN + 1];        /* PATH's node; mountpath_find_node */
};

/* The mount PATH lies in (fills real and root). -ENOENT and "PATH is not
 * inside a dbxfs mount" when it lies in none. */
int mountpath_find(const char *path, struct mountpath *mp, char *err, size_t errlen);
/* The same, plus PATH's node id. */
int mountpath_find_node(const char *path, struct mountpath *mp, char *err,
                        size_t errlen);
/* With no PATH: the mount of the current directory, else the only dbxfs
 * mount there is (an error names them when there are several). */
int mountpath_find_default(struct mountpath *mp, char *err, size_t errlen);

/* The mount's status JSON, malloc'd and NUL-terminated, in *json. */
int mountpath_status(const struct mountpath *mp, char **json, char *err,
                     size_t errlen);

#endif
