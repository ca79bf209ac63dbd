/* ops: the operation table and session setup (capabilities). */
#include <string.h>

#include "ops.h"

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
    /* Reads of local content are spliced from the staging file, writes
     * spliced into it; O_TRUNC arrives with open, not as a separate
     * setattr. The kernel's page cache stays on: the sync thread
     * invalidates it. */
    unsigned want = FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE |
                    FUSE_CAP_SPLICE_READ | FUSE_CAP_ATOMIC_O_TRUNC |
                    FUSE_CAP_ASYNC_READ | FUSE_CAP_READDIRPLUS |
                    FUSE_CAP_READDIRPLUS_AUTO | FUSE_CAP_PARALLEL_DIROPS;

    conn->want |= want & conn->capable;
    conn->want &= ~(unsigned)FUSE_CAP_WRITEBACK_CACHE;
}

void ops_fill(struct fuse_lowlevel_ops *ops)
{
    memset(ops, 0, sizeof(*ops));
    ops->init = op_init;
    ops_entry_fill(ops);
    ops_dir_fill(ops);
    ops_file_fill(ops);
    ops_xattr_fill(ops);
}
