/* ops: the FUSE low-level operation table. Each ops_*.c fills in the
 * handlers of its part (entries, directories, file data, xattrs); a handler
 * turns a kernel request into calls to local/ and sync/ and their 0 or
 * -errno into exactly one reply. */
#ifndef DBXFS_OPS_H
#define DBXFS_OPS_H

#include "dbxfs.h"

/* The mount a request is for. */
static inline struct dbxfs *ops_fs(fuse_req_t req)
{
    return fuse_req_userdata(req);
}

void ops_fill(struct fuse_lowlevel_ops *ops);
void ops_entry_fill(struct fuse_lowlevel_ops *ops);
void ops_dir_fill(struct fuse_lowlevel_ops *ops);
void ops_file_fill(struct fuse_lowlevel_ops *ops);
void ops_xattr_fill(struct fuse_lowlevel_ops *ops);

#endif
