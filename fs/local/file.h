/* file: a file's content as the mount holds it: the staging file (local
 * copy) made on demand from the block cache and dbxd, truncation, and the
 * write-back bookkeeping that hands finished content to the push worker. */
#ifndef DBXFS_FILE_H
#define DBXFS_FILE_H

#include "dbxfs.h"
#include "ofile.h"

/* Makes sure of->fd is the local copy; 0 or -errno. */
int file_open_copy(struct dbxfs *fs, struct ofile *of, const struct cnode *n,
                   int empty);
/* truncate/ftruncate. */
int file_truncate(struct dbxfs *fs, uint64_t id, uint64_t size,
                  struct fuse_file_info *fi);
/* open(O_TRUNC): empties the open file, recorded at its release. */
int file_truncate_open(struct dbxfs *fs, struct ofile *of);
/* Call before the staging file of `of` changes: the first change since the
 * last release marks the node dirty in the store first, so that a crash
 * before the release cannot leave changed bytes under a record that says
 * they are the server's (the restart uploads them instead). */
int file_begin_write(struct dbxfs *fs, struct ofile *of);
/* of was created open for writing and dirty at gen, in its creation's
 * transaction: that is file_begin_write's mark for its first write. */
void file_created(struct ofile *of, uint64_t gen);
/* Writes in at off into the local copy of `of` (open for writing); the
 * bytes written or -errno. */
ssize_t file_write(struct dbxfs *fs, struct ofile *of, struct fuse_bufvec *in, off_t off);
/* fsync: the local copy of `of` (if it has one) to disk, then what was
 * written through it recorded (file_commit_local). 0 or -errno. */
int file_sync(struct dbxfs *fs, struct ofile *of);
/* Records what was written through of since the last call (size, mtime,
 * dirty) so that the push worker uploads it. */
int file_commit_local(struct dbxfs *fs, struct ofile *of);

#endif
