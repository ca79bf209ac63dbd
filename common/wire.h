/* wire: the JSON types of the v1 API (docs/api.md) and strict readers for
 * them. Both sides use them: dbxd to validate every request field by type
 * and range, clients to read answers. A reader never trusts a field it did
 * not check: numbers must be integers within range, ids exactly 16 hex
 * digits, strings valid UTF-8. */
#ifndef DBX_WIRE_H
#define DBX_WIRE_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "hash.h"

#define WIRE_ID_HEX_LEN 16
#define WIRE_USER_MAX 32
#define WIRE_TARGET_MAX 4095
#define WIRE_MAX_SAFE_INT ((uint64_t)1 << 53)  /* what a JSON number carries exactly */

enum node_type { NODE_FILE = 1, NODE_DIR = 2, NODE_SYMLINK = 3 };

struct wire_time {
    int64_t sec;
    uint32_t nsec;
};

struct dbx_node {
    uint64_t id;
    uint64_t parent;         /* 0 for a root */
    enum node_type type;
    uint32_t mode;           /* permission bits only (07777) */
    uint32_t uid, gid;       /* POSIX owner as a client set it */
    struct wire_time atime, mtime, ctime;
    uint64_t size;
    uint64_t rev;            /* sequence number of the last change */
    uint64_t content_rev;    /* sequence number of the last content commit */
    uint32_t owner_uid;      /* the owning account (server side) */
    char owner[WIRE_USER_MAX + 1];
    char name[256];
    char target[WIRE_TARGET_MAX + 1];  /* symlinks only */
};

struct dbx_chunk {
    uint8_t hash[HASH_LEN];
    uint32_t size;
};

/* Results of the field readers. */
enum { WIRE_OK = 0, WIRE_ABSENT = 1, WIRE_INVALID = -1 };

void wire_id_format(uint64_t id, char out[WIRE_ID_HEX_LEN + 1]);
/* Exactly 16 lowercase hex digits, not all zero. 0 or -1. */
int wire_id_parse(const char *s, uint64_t *id);

const char *wire_type_name(enum node_type type);
int wire_type_parse(const char *s, enum node_type *type);  /* 0 or -1 */

/* Account names: 1..32 of [a-z0-9._-], starting with a letter or digit. */
int wire_user_valid(const char *name);

/* Field readers: WIRE_OK, WIRE_ABSENT (key missing; out untouched) or
 * WIRE_INVALID (present with a wrong type or out of range). */
int wire_get_string(const cJSON *obj, const char *key, const char **out);
int wire_get_uint(const cJSON *obj, const char *key, uint64_t max, uint64_t *out);
int wire_get_int(const cJSON *obj, const char *key, int64_t min, int64_t max, int64_t *out);
int wire_get_bool(const cJSON *obj, const char *key, int *out);
int wire_get_id(const cJSON *obj, const char *key, uint64_t *out);
int wire_get_hash(const cJSON *obj, const char *key, uint8_t out[HASH_LEN]);
/* A time given as KEY (seconds) and KEY_nsec. */
int wire_get_time(const cJSON *obj, const char *key, struct wire_time *out);

/* 0 when obj is an object whose keys are all in allowed (NULL-terminated);
 * otherwise -1 with *bad naming the first stranger. */
int wire_only_keys(const cJSON *obj, const char *const allowed[], const char **bad);

/* cJSON stores C strings, so a NUL inside a JSON string ("\u0000" or a raw
 * NUL byte) would silently shorten it. 1 when body has neither. */
int wire_json_safe(const char *body, size_t len);

/* Node JSON both ways. to_json returns NULL only on allocation failure. */
cJSON *wire_node_to_json(const struct dbx_node *n);
int wire_node_from_json(const cJSON *j, struct dbx_node *n);  /* 0 or -1 */

int wire_add_id(cJSON *obj, const char *key, uint64_t id);   /* 0 or -1 */
int wire_add_time(cJSON *obj, const char *key, struct wire_time t);

#endif
