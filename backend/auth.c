#include "auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <string.h>
#include <time.h>

#include "hex.h"
#include "log.h"

/* scrypt N=2^14, r=8, p=1: 16 MiB and some tens of milliseconds a try. */
#define SCRYPT_LOG2N 14
#define SCRYPT_R 8
#define SCRYPT_P 1

static int scrypt_hash(const char *password, const uint8_t salt[16], uint32_t log2n,
                       uint32_t r, uint32_t p, uint8_t out[32])
{
    uint64_t n = (uint64_t)1 << log2n;
    uint64_t maxmem = 128 * n * r * p + (1u << 20);
    return EVP_PBE_scrypt(password, strlen(password), salt, 16, n, r, p, maxmem, out, 32) == 1 ? 0 : -1;
}

static int set_password(struct ms_user *u, const char *password)
{
    u->scrypt_log2n = SCRYPT_LOG2N, u->scrypt_r = SCRYPT_R, u->scrypt_p = SCRYPT_P;
    if (RAND_bytes(u->salt, sizeof u->salt) != 1)
        return MS_IO;
    return scrypt_hash(password, u->salt, u->scrypt_log2n, u->scrypt_r, u->scrypt_p, u->pwhash) ? MS_IO : 0;
}

static struct wire_time now_time(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (struct wire_time){ts.tv_sec, (uint32_t)ts.tv_nsec};
}

static int make_root(ms_txn *t, const struct ms_user *u)
{
    struct dbx_node root;
    memset(&root, 0, sizeof root);
    root.id = u->root;
    root.type = NODE_DIR;
    root.mode = 0755;
    root.owner_uid = u->uid;
    root.atime = root.mtime = root.ctime = now_time();
    int rc = ms_seq_next(t, &root.rev);
    return rc ? rc : ms_node_put(t, &root);
}

int auth_user_add(metastore *ms, const char *name, const char *password)
{
    struct ms_user u;
    ms_txn *t = NULL;
    memset(&u, 0, sizeof u);
    strcpy(u.name, name);
    int rc = set_password(&u, password);
    do {  /* a random root id that no node has yet */
        if (rc || RAND_bytes((uint8_t *)&u.root, sizeof u.root) != 1)
            return rc ? rc : MS_IO;
    } while (u.root == 0);
    if ((rc = ms_txn_begin(ms, 1, &t)) != 0)
        return rc;
    if ((rc = ms_user_add(t, &u)) == 0 && (rc = make_root(t, &u)) == 0)
        return ms_txn_commit(t);
    ms_txn_abort(t);
    return rc;
}

int auth_user_del(metastore *ms, const char *name)
{
    struct ms_user u;
    ms_txn *t;
    int rc = ms_txn_begin(ms, 1, &t);
    if (rc)
        return rc;
    if ((rc = ms_user_by_name(t, name, &u)) == 0 && (rc = ms_tokens_revoke_user(t, u.uid)) == 0 &&
        (rc = ms_user_del(t, name)) == 0)
        return ms_txn_commit(t);
    ms_txn_abort(t);
    return rc;
}

int auth_user_passwd(metastore *ms, const char *name, const char *password)
{
    struct ms_user u;
    ms_txn *t;
    int rc = ms_txn_begin(ms, 1, &t);
    if (rc)
        return rc;
    /* a new password ends every session of the old one */
    if ((rc = ms_user_by_name(t, name, &u)) == 0 && (rc = set_password(&u, password)) == 0 &&
        (rc = ms_user_put(t, &u)) == 0 && (rc = ms_tokens_revoke_user(t, u.uid)) == 0)
        return ms_txn_commit(t);
    ms_txn_abort(t);
    return rc;
}

static int check_password(ms_txn *t, const char *user, const char *password, struct ms_user *u)
{
    static const uint8_t dummy_salt[16] = {0};
    uint8_t got[32];
    int known = wire_user_valid(user) && ms_user_by_name(t, user, u) == 0;
    if (!known) {
        /* the same work as for a real account, so timing tells nothing */
        scrypt_hash(password, dummy_salt, SCRYPT_LOG2N, SCRYPT_R, SCRYPT_P, got);
        return MS_NOTFOUND;
    }
    if (u->scrypt_log2n > 20 || scrypt_hash(password, u->salt, u->scrypt_log2n, u->scrypt_r,
                                            u->scrypt_p, got) != 0)
        return MS_IO;
    return CRYPTO_memcmp(got, u->pwhash, sizeof got) == 0 ? 0 : MS_NOTFOUND;
}

static void token_key(const char *token, uint8_t key[HASH_LEN])
{
    hash_buf(token, strlen(token), key);
}

int auth_login(struct dbxd *d, const char *user, const char *password,
               char token[AUTH_TOKEN_HEX_LEN + 1], int64_t *expires, struct ms_user *u)
{
    uint8_t raw[32], key[HASH_LEN];
    ms_txn *t;
    int rc = ms_txn_begin(d->ms, 0, &t);
    if (rc)
        return rc;
    rc = check_password(t, user, password, u);
    ms_txn_abort(t);
    if (rc)
        return rc;
    if (RAND_bytes(raw, sizeof raw) != 1)
        return MS_IO;
    hex_encode(raw, sizeof raw, token);
    token_key(token, key);
    struct ms_token tok = {u->uid, (int64_t)time(NULL) + d->cfg.token_ttl};
    if ((rc = ms_txn_begin(d->ms, 1, &t)) != 0)
        return rc;
    if ((rc = ms_token_put(t, key, &tok)) != 0) {
        ms_txn_abort(t);
        return rc;
    }
    *expires = tok.expires;
    return ms_txn_commit(t);
}

static int token_lookup(struct dbxd *d, const char *token, struct ms_token *tok, struct ms_user *u)
{
    uint8_t key[HASH_LEN];
    ms_txn *t;
    if (strlen(token) != AUTH_TOKEN_HEX_LEN)
        return MS_NOTFOUND;
    token_key(token, key);
    int rc = ms_txn_begin(d->ms, 0, &t);
    if (rc)
        return rc;
    if ((rc = ms_token_get(t, key, tok)) == 0 && tok->expires <= (int64_t)time(NULL))
        rc = MS_NOTFOUND;
    if (rc == 0 && u)
        rc = ms_user_by_uid(t, tok->uid, u);
    ms_txn_abort(t);
    return rc == MS_CORRUPT ? MS_NOTFOUND : rc;
}

int auth_check_token(struct dbxd *d, const char *token, struct ms_user *u)
{
    struct ms_token tok;
    return token_lookup(d, token, &tok, u);
}

int auth_token_expiry(struct dbxd *d, const char *token, int64_t *expires)
{
    struct ms_token tok;
    int rc = token_lookup(d, token, &tok, NULL);
    if (rc == 0)
        *expires = tok.expires;
    return rc;
}

int auth_revoke_token(struct dbxd *d, const char *token)
{
    uint8_t key[HASH_LEN];
    ms_txn *t;
    token_key(token, key);
    int rc = ms_txn_begin(d->ms, 1, &t);
    if (rc)
        return rc;
    if ((rc = ms_token_del(t, key)) != 0 && rc != MS_NOTFOUND) {
        ms_txn_abort(t);
        return rc;
    }
    return ms_txn_commit(t);
}
