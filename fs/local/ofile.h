/* ofile: the files open in the mount, one struct per node however many
 * handles share it (fi->fh points at it).
 *
 * While a file's content is local (a staging file: CN_COPY), fd is that
 * file opened read-write and size/mtime here are the truth, ahead of the
 * metadata store until the next release. Otherwise fd is -1 and reads go
 * through fetch.c (block cache, then dbxd).
 *
 * The table's mutex guards the table and refs; each ofile's mutex guards
 * its other fields. Data I/O on fd runs without either. copy_mu is held
 * while fd is being made (file.c), which may download: it is taken before
 * any other lock, never under one. */
#ifndef DBXFS_OFILE_H
#define DBXFS_OFILE_H

#include <pthread.h>
#include <stdint.h>

#include "wire.h"

struct ofile {
    uint64_t id;
    int refs;
    pthread_mutex_t mu;
    pthread_mutex_t copy_mu;
    int fd;
    uint64_t size;
    struct wire_time mtime;
    uint64_t gen;              /* bumped by every write and truncate */
    int written;               /* since the last release */
    int marked;                /* the store has the node dirty for the writes
                                * since the last release (file_begin_write) */
    int writers;               /* handles open for writing */
    unsigned drops;            /* local copies dropped (file.c checks it) */
    int remote_changed;        /* a remote change waits for the last close */
    uint64_t next_off;         /* where a sequential reader reads next */
    int retired[8], nretired;  /* old local copies, closed with the ofile
                                * (a read may still be using one) */
    struct ofile *next;        /* hash chain */
};

struct ofile_table;

int ofile_table_new(struct ofile_table **out);
void ofile_table_free(struct ofile_table *t);

/* The node's ofile with one more reference, created (fd -1) if needed. */
struct ofile *ofile_acquire(struct ofile_table *t, uint64_t id);
/* Drops a reference. Returns 1 when it was the last: the ofile is out of
 * the table and the caller finishes it with ofile_free. */
int ofile_release(struct ofile_table *t, struct ofile *of);
void ofile_free(struct ofile *of);

/* 1 and the open file's size and mtime when it is open with local
 * content; 0 otherwise. */
int ofile_attr(struct ofile_table *t, uint64_t id, uint64_t *size,
               struct wire_time *mtime);
int ofile_is_open(struct ofile_table *t, uint64_t id);
/* The content changed on the server: drop(arg) removes the node's local
 * copy, called under the table's lock so that no handle opens the copy
 * between the check and the removal. A file open only for reading stops
 * using its copy (reads then fetch the new content); one open for writing
 * or written keeps it, because a program editing it must not see it
 * change underneath: 0 is returned, the change waits for the last close
 * (and an upload of the edit will conflict). 1 when dropped. */
int ofile_drop_copy(struct ofile_table *t, uint64_t id,
                    void (*drop)(void *arg), void *arg);
/* Eviction: drop(arg) under the table's lock and 1 if the node is not
 * open; 0 if it is. */
int ofile_evict_copy(struct ofile_table *t, uint64_t id,
                     void (*drop)(void *arg), void *arg);
/* 1 while an open file has changes not yet released: its content is not
 * ready to upload (close or fsync finishes it). */
int ofile_writing(struct ofile_table *t, uint64_t id);
/* The local copy's descriptor now (-1: none), read under of->mu. */
int ofile_fd(struct ofile *of);
/* A handle open for writing comes (+1) or goes (-1). */
void ofile_writer(struct ofile *of, int delta);
/* Sets the mtime of an open file (utimens while open). */
void ofile_set_mtime(struct ofile_table *t, uint64_t id, struct wire_time mtime);

#endif
