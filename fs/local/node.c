/* node: see node.h. */
#include <errno.h>
#include <openssl/rand.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "node.h"

static mode_t type_bits(uint32_t type)
{
    switch (type) {
    case NODE_DIR: return S_IFDIR;
    case NODE_SYMLINK: return S_IFLNK;
    default: return S_IFREG;
    }
}

void node_to_stat(const struct dbxfs *fs, const struct cnode *n, struct stat *st)
{
    memset(st, 0, sizeof(*st));
    st->st_ino = fs_ino(fs, n->id);
    st->st_mode = type_bits(n->type) | (n->mode & 07777);
    /* as btrfs: a directory's count of subdirectories is not kept; an
     * unlinked file still open has none */
    st->st_nlink = (n->flags & CN_ORPHAN) ? 0 : 1;
    st->st_uid = n->uid;
    st->st_gid = n->gid;
    if (n->id == fs->root_id || (n->flags & CN_SHARED)) {
        /* The account's root is the mounting user's (or uid=/gid='s): dbxd
         * has no local owner for it. Another user's numbers mean nothing
         * here either: shared nodes are the mounting user's, writable as
         * the share's role allows. */
        st->st_uid = fs->opts->root_uid >= 0 ? (uid_t)fs->opts->root_uid : geteuid();
        st->st_gid = fs->opts->root_gid >= 0 ? (gid_t)fs->opts->root_gid : getegid();
        if (n->flags & CN_VIEWER)
            st->st_mode &= ~(mode_t)0222;
    }
    st->st_size = n->type == NODE_DIR ? 4096 :
                  n->type == NODE_SYMLINK ? (off_t)strlen(n->target) : (off_t)n->size;
    st->st_blksize = 1 << 20;   /* cp and friends size their buffers by it */
    st->st_blocks = (st->st_size + 511) / 512;
    st->st_atim = (struct timespec){ n->atime.sec, n->atime.nsec };
    st->st_mtim = (struct timespec){ n->mtime.sec, n->mtime.nsec };
    st->st_ctim = (struct timespec){ n->ctime.sec, n->ctime.nsec };
}

void node_to_entry(const struct dbxfs *fs, const struct cnode *n,
                   struct fuse_entry_param *e)
{
    memset(e, 0, sizeof(*e));
    e->ino = fs_ino(fs, n->id);
    e->attr_timeout = fs->opts->attr_timeout;
    e->entry_timeout = fs->opts->entry_timeout;
    node_to_stat(fs, n, &e->attr);
}

int node_from_wire(const cJSON *j, struct cnode *n)
{
    struct dbx_node w;

    if (wire_node_from_json(j, &w))
        return -1;
    n->id = w.id;
    n->parent = w.parent;
    n->type = w.type;
    n->mode = w.mode;
    n->uid = w.uid;
    n->gid = w.gid;
    n->atime = w.atime;
    n->mtime = w.mtime;
    n->ctime = w.ctime;
    n->size = w.size;
    n->rev = w.rev;
    n->content_rev = w.content_rev;
    memcpy(n->name, w.name, sizeof(n->name));
    memcpy(n->target, w.target, sizeof(n->target));
    return 0;
}

uint64_t node_new_id(void)
{
    uint64_t id = 0;

    /* 0 is "no node" and 1 is FUSE's root inode: never hand those out. */
    while (id <= FUSE_ROOT_ID)
        if (RAND_bytes((unsigned char *)&id, sizeof(id)) != 1)
            id = ((uint64_t)time(NULL) << 20) ^ (uint64_t)clock();
    return id;
}

struct wire_time node_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (struct wire_time){ ts.tv_sec, (uint32_t)ts.tv_nsec };
}
