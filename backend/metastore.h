/* metastore: dbxd's metadata — accounts, tokens, the node tree, file
 * contents (chunk lists), chunk reference counts, upload sessions, shares
 * and the per-user change feed — behind one transactional API.
 *
 * The embedded implementation is LMDB (metastore_lmdb.c): one write
 * transaction at a time across every process that opens the store (dbxd
 * and its admin commands), any number of readers, a crash leaves the last
 * committed state. A PostgreSQL implementation will provide this header
 * too. Every call works inside a transaction the caller owns; nothing is
 * visible to others until ms_txn_commit. Records returned by value are
 * copies owned by the caller. */
#ifndef DBX_METASTORE_H
#define DBX_METASTORE_H

#include <stddef.h>
#include <stdint.h>

#include "hash.h"
#include "wire.h"

typedef struct metastore metastore;
typedef struct ms_txn ms_txn;

/* Error codes (negative); 0 is success. */
enum {
    MS_NOTFOUND = -1,
    MS_EXISTS = -2,
    MS_FULL = -3,      /* the map or the disk is full */
    MS_IO = -4,
    MS_CORRUPT = -5,   /* a record that does not decode */
};

enum role { ROLE_NONE = 0, ROLE_VIEWER = 1, ROLE_EDITOR = 2, ROLE_OWNER = 3 };

struct ms_user {
    uint32_t uid;
    uint64_t root;
    char name[WIRE_USER_MAX + 1];
    uint8_t salt[16];
    uint8_t pwhash[32];
    uint32_t scrypt_log2n, scrypt_r, scrypt_p;
};

struct ms_token {
    uint32_t uid;
    int64_t expires;
};

struct ms_chunkrec {
    uint64_t refs;      /* occurrences in file contents */
    uint64_t pins;      /* occurrences in open upload sessions */
    uint32_t raw_size;
    uint64_t stored_size;  /* as kept: raw, or its zstd frame */
    uint8_t encoding;      /* enum chunk_encoding of the stored form */
    uint8_t present;    /* the chunk file exists */
    int64_t touched;    /* when refs+pins last dropped to 0, or it arrived */
};

enum upload_state { UPLOAD_OPEN = 0, UPLOAD_COMMITTED = 1 };

struct ms_upload {
    uint8_t id[16];
    uint32_t uid;
    uint64_t node, base_rev, size;
    int64_t created, expires;
    enum upload_state state;
    uint64_t result_rev;      /* committed: the node rev it produced */
    uint64_t conflict_node;   /* committed: the conflicted copy, or 0 */
    uint32_t nchunks;
    struct dbx_chunk *chunks; /* owned by the record; ms_upload_release */
};

int ms_open(const char *dir, size_t map_size, metastore **out);
void ms_close(metastore *ms);

int ms_txn_begin(metastore *ms, int write, ms_txn **out);
int ms_txn_commit(ms_txn *t);   /* frees t */
void ms_txn_abort(ms_txn *t);   /* frees t; NULL is fine */

/* Sequence numbers: the last one used, and the next one (write txn). */
uint64_t ms_seq_last(ms_txn *t);
int ms_seq_next(ms_txn *t, uint64_t *seq);

/* Accounts. ms_user_add assigns uid and stores the record. */
int ms_user_add(ms_txn *t, struct ms_user *u);
int ms_user_by_name(ms_txn *t, const char *name, struct ms_user *u);
int ms_user_by_uid(ms_txn *t, uint32_t uid, struct ms_user *u);
int ms_user_put(ms_txn *t, const struct ms_user *u);     /* update */
int ms_user_del(ms_txn *t, const char *name);
int ms_user_name(ms_txn *t, uint32_t uid, char name[WIRE_USER_MAX + 1]);

/* Tokens, keyed by the SHA-256 of the token (the token itself is never
 * stored). ms_tokens_revoke_user drops every token of uid. */
int ms_token_put(ms_txn *t, const uint8_t key[HASH_LEN], const struct ms_token *tok);
int ms_token_get(ms_txn *t, const uint8_t key[HASH_LEN], struct ms_token *tok);
int ms_token_del(ms_txn *t, const uint8_t key[HASH_LEN]);
int ms_tokens_revoke_user(ms_txn *t, uint32_t uid);

/* Nodes and directory entries; ms_node_put keeps the entry of
 * (parent, name) in step with the record, so a rename is one put. */
int ms_node_get(ms_txn *t, uint64_t id, struct dbx_node *n);
int ms_node_put(ms_txn *t, const struct dbx_node *n);
int ms_node_del(ms_txn *t, uint64_t id);
int ms_dirent_get(ms_txn *t, uint64_t parent, const char *name, uint64_t *child);
int ms_dir_is_empty(ms_txn *t, uint64_t dir);
/* Calls fn for children of dir with names after `after` (NULL: from the
 * start), in bytewise name order, until fn returns non-zero (returned). */
typedef int (*ms_child_fn)(void *arg, uint64_t child, const char *name);
int ms_dir_list(ms_txn *t, uint64_t dir, const char *after, ms_child_fn fn, void *arg);

/* File contents. *chunks is malloc'd (free it); an absent content is an
 * empty file. */
int ms_content_get(ms_txn *t, uint64_t node, struct dbx_chunk **chunks, uint32_t *n);
int ms_content_put(ms_txn *t, uint64_t node, const struct dbx_chunk *chunks, uint32_t n);
int ms_content_del(ms_txn *t, uint64_t node);

/* Chunk records and the garbage-collection queue (chunks whose refs and
 * pins reached zero). */
int ms_chunk_get(ms_txn *t, const uint8_t hash[HASH_LEN], struct ms_chunkrec *c);
int ms_chunk_put(ms_txn *t, const uint8_t hash[HASH_LEN], const struct ms_chunkrec *c);
int ms_chunk_del(ms_txn *t, const uint8_t hash[HASH_LEN]);
int ms_gcq_put(ms_txn *t, const uint8_t hash[HASH_LEN]);
int ms_gcq_del(ms_txn *t, const uint8_t hash[HASH_LEN]);
typedef int (*ms_hash_fn)(void *arg, const uint8_t hash[HASH_LEN]);
/* Walks the queue in hash order, after `after` (NULL: from the start). */
int ms_gcq_scan(ms_txn *t, const uint8_t *after, ms_hash_fn fn, void *arg);

/* Proof of possession: (chunk, account) pairs for accounts that have shown
 * they have a chunk's bytes (sent them, or own a file made of them). A
 * chunk stored for one account is not handed to another that only knows
 * its hash. */
int ms_hold_put(ms_txn *t, const uint8_t hash[HASH_LEN], uint32_t uid);
int ms_hold_has(ms_txn *t, const uint8_t hash[HASH_LEN], uint32_t uid);  /* 1 or 0 */
int ms_holds_drop(ms_txn *t, const uint8_t hash[HASH_LEN]);

/* Upload sessions. */
int ms_upload_get(ms_txn *t, const uint8_t id[16], struct ms_upload *u);
int ms_upload_put(ms_txn *t, const struct ms_upload *u);
int ms_upload_del(ms_txn *t, const uint8_t id[16]);
void ms_upload_release(struct ms_upload *u);
typedef int (*ms_upload_fn)(void *arg, const struct ms_upload *u);
int ms_upload_scan(ms_txn *t, ms_upload_fn fn, void *arg);

/* Shares: (node, recipient) → role, indexed both ways. */
int ms_share_put(ms_txn *t, uint64_t node, uint32_t uid, enum role role);
int ms_share_get(ms_txn *t, uint64_t node, uint32_t uid, enum role *role);
int ms_share_del(ms_txn *t, uint64_t node, uint32_t uid);
typedef int (*ms_share_fn)(void *arg, uint64_t node, uint32_t uid, enum role role);
int ms_shares_of_node(ms_txn *t, uint64_t node, ms_share_fn fn, void *arg);
int ms_shares_of_user(ms_txn *t, uint32_t uid, ms_share_fn fn, void *arg);

/* The change feed: per user, events in sequence order, stored as the JSON
 * text they are served as. */
int ms_feed_append(ms_txn *t, uint32_t uid, uint64_t seq, const char *json);
typedef int (*ms_feed_fn)(void *arg, uint64_t seq, const char *json, size_t len);
int ms_feed_read(ms_txn *t, uint32_t uid, uint64_t after, ms_feed_fn fn, void *arg);

#endif
