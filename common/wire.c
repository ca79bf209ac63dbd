#include "wire.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "hex.h"
#include "names.h"

static const char *const type_names[] = {NULL, "file", "dir", "symlink"};

void wire_id_format(uint64_t id, char out[WIRE_ID_HEX_LEN + 1])
{
    snprintf(out, WIRE_ID_HEX_LEN + 1, "%016llx", (unsigned long long)id);
}

int wire_id_parse(const char *s, uint64_t *id)
{
    uint64_t v = 0;
    if (!s || strlen(s) != WIRE_ID_HEX_LEN)
        return -1;
    for (int i = 0; i < WIRE_ID_HEX_LEN; i++) {
        char c = s[i];
        int d = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
        if (d < 0)
            return -1;
        v = (v << 4) | (uint64_t)d;
    }
    if (v == 0)
        return -1;
    *id = v;
    return 0;
}

const char *wire_type_name(enum node_type type)
{
    return (type >= NODE_FILE && type <= NODE_SYMLINK) ? type_names[type] : "unknown";
}

int wire_type_parse(const char *s, enum node_type *type)
{
    for (int t = NODE_FILE; t <= NODE_SYMLINK; t++)
        if (s && strcmp(s, type_names[t]) == 0) {
            *type = (enum node_type)t;
            return 0;
        }
    return -1;
}

int wire_user_valid(const char *name)
{
    size_t len = name ? strlen(name) : 0;
    if (len == 0 || len > WIRE_USER_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        int alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-')))
            return 0;
    }
    return 1;
}

static const cJSON *field(const cJSON *obj, const char *key)
{
    return cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
}

int wire_get_string(const cJSON *obj, const char *key, const char **out)
{
    const cJSON *f = field(obj, key);
    if (!f)
        return WIRE_ABSENT;
    if (!cJSON_IsString(f) || !utf8_valid(f->valuestring, strlen(f->valuestring)))
        return WIRE_INVALID;
    *out = f->valuestring;
    return WIRE_OK;
}

/* JSON numbers are doubles: only integral values up to 2^53 are exact. */
static int get_integral(const cJSON *obj, const char *key, double *out)
{
    const cJSON *f = field(obj, key);
    if (!f)
        return WIRE_ABSENT;
    if (!cJSON_IsNumber(f))
        return WIRE_INVALID;
    double v = f->valuedouble;
    if (!isfinite(v) || v != floor(v) || fabs(v) > (double)WIRE_MAX_SAFE_INT)
        return WIRE_INVALID;
    *out = v;
    return WIRE_OK;
}

int wire_get_uint(const cJSON *obj, const char *key, uint64_t max, uint64_t *out)
{
    double v;
    int rc = get_integral(obj, key, &v);
    if (rc != WIRE_OK)
        return rc;
    if (v < 0 || v > (double)max)
        return WIRE_INVALID;
    *out = (uint64_t)v;
    return WIRE_OK;
}

int wire_get_int(const cJSON *obj, const char *key, int64_t min, int64_t max, int64_t *out)
{
    double v;
    int rc = get_integral(obj, key, &v);
    if (rc != WIRE_OK)
        return rc;
    if (v < (double)min || v > (double)max)
        return WIRE_INVALID;
    *out = (int64_t)v;
    return WIRE_OK;
}

int wire_get_bool(const cJSON *obj, const char *key, int *out)
{
    const cJSON *f = field(obj, key);
    if (!f)
        return WIRE_ABSENT;
    if (!cJSON_IsBool(f))
        return WIRE_INVALID;
    *out = cJSON_IsTrue(f);
    return WIRE_OK;
}

int wire_get_id(const cJSON *obj, const char *key, uint64_t *out)
{
    const char *s;
    int rc = wire_get_string(obj, key, &s);
    if (rc != WIRE_OK)
        return rc;
    return wire_id_parse(s, out) == 0 ? WIRE_OK : WIRE_INVALID;
}

int wire_get_hash(const cJSON *obj, const char *key, uint8_t out[HASH_LEN])
{
    const char *s;
    int rc = wire_get_string(obj, key, &s);
    if (rc != WIRE_OK)
        return rc;
    return hash_from_hex(s, out) == 0 ? WIRE_OK : WIRE_INVALID;
}

int wire_get_time(const cJSON *obj, const char *key, struct wire_time *out)
{
    char nkey[64];
    int64_t sec;
    uint64_t nsec = 0;
    snprintf(nkey, sizeof nkey, "%s_nsec", key);
    int rc = wire_get_int(obj, key, -(int64_t)WIRE_MAX_SAFE_INT, (int64_t)WIRE_MAX_SAFE_INT, &sec);
    if (rc != WIRE_OK)
        return field(obj, nkey) ? WIRE_INVALID : rc;  /* nsec alone makes no sense */
    if (wire_get_uint(obj, nkey, 999999999, &nsec) == WIRE_INVALID)
        return WIRE_INVALID;
    out->sec = sec;
    out->nsec = (uint32_t)nsec;
    return WIRE_OK;
}

int wire_only_keys(const cJSON *obj, const char *const allowed[], const char **bad)
{
    *bad = NULL;
    if (!cJSON_IsObject(obj))
        return -1;
    for (const cJSON *f = obj->child; f; f = f->next) {
        int known = 0;
        for (int i = 0; allowed[i] && !known; i++)
            known = f->string && strcmp(f->string, allowed[i]) == 0;
        if (!known) {
            *bad = f->string ? f->string : "?";
            return -1;
        }
    }
    return 0;
}

int wire_json_safe(const char *body, size_t len)
{
    int in_string = 0;
    for (size_t i = 0; i < len; i++) {
        char c = body[i];
        if (c == '\0')
            return 0;
        if (!in_string) {
            in_string = c == '"';
            continue;
        }
        if (c == '"') {
            in_string = 0;
        } else if (c == '\\' && i + 1 < len) {
            if (body[i + 1] == 'u' && i + 5 < len && memcmp(body + i + 2, "0000", 4) == 0)
                return 0;
            i++;  /* skip the escaped character, so "\\" cannot fool us */
        }
    }
    return 1;
}

int wire_add_id(cJSON *obj, const char *key, uint64_t id)
{
    char hex[WIRE_ID_HEX_LEN + 1];
    wire_id_format(id, hex);
    return cJSON_AddStringToObject(obj, key, hex) ? 0 : -1;
}

int wire_add_time(cJSON *obj, const char *key, struct wire_time t)
{
    char nkey[64];
    snprintf(nkey, sizeof nkey, "%s_nsec", key);
    if (!cJSON_AddNumberToObject(obj, key, (double)t.sec))
        return -1;
    return cJSON_AddNumberToObject(obj, nkey, t.nsec) ? 0 : -1;
}

cJSON *wire_node_to_json(const struct dbx_node *n)
{
    cJSON *j = cJSON_CreateObject();
    int rc = 0;
    if (!j)
        return NULL;
    rc |= wire_add_id(j, "id", n->id);
    if (n->parent)
        rc |= wire_add_id(j, "parent", n->parent);
    else
        rc |= cJSON_AddStringToObject(j, "parent", "0000000000000000") ? 0 : -1;
    rc |= cJSON_AddStringToObject(j, "name", n->name) ? 0 : -1;
    rc |= cJSON_AddStringToObject(j, "type", wire_type_name(n->type)) ? 0 : -1;
    rc |= cJSON_AddNumberToObject(j, "mode", n->mode) ? 0 : -1;
    rc |= cJSON_AddNumberToObject(j, "uid", n->uid) ? 0 : -1;
    rc |= cJSON_AddNumberToObject(j, "gid", n->gid) ? 0 : -1;
    rc |= wire_add_time(j, "atime", n->atime);
    rc |= wire_add_time(j, "mtime", n->mtime);
    rc |= wire_add_time(j, "ctime", n->ctime);
    rc |= cJSON_AddNumberToObject(j, "size", (double)n->size) ? 0 : -1;
    rc |= cJSON_AddNumberToObject(j, "rev", (double)n->rev) ? 0 : -1;
    rc |= cJSON_AddNumberToObject(j, "content_rev", (double)n->content_rev) ? 0 : -1;
    rc |= cJSON_AddStringToObject(j, "owner", n->owner) ? 0 : -1;
    if (n->type == NODE_SYMLINK)
        rc |= cJSON_AddStringToObject(j, "target", n->target) ? 0 : -1;
    if (rc) {
        cJSON_Delete(j);
        return NULL;
    }
    return j;
}

static int copy_string(const cJSON *j, const char *key, char *dst, size_t cap, int required)
{
    const char *s;
    int rc = wire_get_string(j, key, &s);
    if (rc == WIRE_ABSENT)
        return required ? -1 : 0;
    if (rc != WIRE_OK || strlen(s) >= cap)
        return -1;
    memcpy(dst, s, strlen(s) + 1);
    return 0;
}

int wire_node_from_json(const cJSON *j, struct dbx_node *n)
{
    const char *type, *parent;
    uint64_t v;
    memset(n, 0, sizeof *n);
    if (wire_get_id(j, "id", &n->id) != WIRE_OK || wire_get_string(j, "parent", &parent) != WIRE_OK)
        return -1;
    if (strcmp(parent, "0000000000000000") != 0 && wire_id_parse(parent, &n->parent) != 0)
        return -1;
    if (wire_get_string(j, "type", &type) != WIRE_OK || wire_type_parse(type, &n->type) != 0)
        return -1;
    if (copy_string(j, "name", n->name, sizeof n->name, 1) ||
        copy_string(j, "owner", n->owner, sizeof n->owner, 0) ||
        copy_string(j, "target", n->target, sizeof n->target, 0))
        return -1;
    if (wire_get_uint(j, "mode", 07777, &v) != WIRE_OK) return -1;
    n->mode = (uint32_t)v;
    if (wire_get_uint(j, "uid", UINT32_MAX, &v) != WIRE_OK) return -1;
    n->uid = (uint32_t)v;
    if (wire_get_uint(j, "gid", UINT32_MAX, &v) != WIRE_OK) return -1;
    n->gid = (uint32_t)v;
    if (wire_get_time(j, "atime", &n->atime) != WIRE_OK ||
        wire_get_time(j, "mtime", &n->mtime) != WIRE_OK ||
        wire_get_time(j, "ctime", &n->ctime) != WIRE_OK)
        return -1;
    if (wire_get_uint(j, "size", WIRE_MAX_SAFE_INT, &n->size) != WIRE_OK ||
        wire_get_uint(j, "rev", WIRE_MAX_SAFE_INT, &n->rev) != WIRE_OK ||
        wire_get_uint(j, "content_rev", WIRE_MAX_SAFE_INT, &n->content_rev) != WIRE_OK)
        return -1;
    return 0;
}
