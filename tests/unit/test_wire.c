/* The JSON wire types: strict field readers, ids, NUL detection, and the
 * node object both ways. */
#include <string.h>

#include "unit.h"
#include "wire.h"

static cJSON *parse(const char *text)
{
    return cJSON_Parse(text);
}

static void test_ids(void)
{
    uint64_t id = 0;
    char hex[WIRE_ID_HEX_LEN + 1];
    CHECK_EQ(wire_id_parse("00a1b2c3d4e5f607", &id), 0);
    CHECK_EQ(id, 0x00a1b2c3d4e5f607ull);
    wire_id_format(id, hex);
    CHECK_STR(hex, "00a1b2c3d4e5f607");
    wire_id_format(UINT64_MAX, hex);
    CHECK_STR(hex, "ffffffffffffffff");
    const char *bad[] = {"0000000000000000", "00A1B2C3D4E5F607", "00a1b2c3d4e5f60",
                         "00a1b2c3d4e5f6070", "00a1b2c3d4e5f60g", "", " 0a1b2c3d4e5f607"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_EQ(wire_id_parse(bad[i], &id), -1);
    CHECK_EQ(wire_id_parse(NULL, &id), -1);
}

static void test_numbers(void)
{
    cJSON *j = parse("{\"a\":5,\"b\":-1,\"c\":1.5,\"d\":\"5\",\"e\":9007199254740992,"
                     "\"f\":9007199254740993e3,\"g\":true,\"h\":null}");
    uint64_t u = 0;
    int64_t i = 0;
    int b = 0;
    CHECK_EQ(wire_get_uint(j, "a", 10, &u), WIRE_OK);
    CHECK_EQ(u, 5);
    CHECK_EQ(wire_get_uint(j, "a", 4, &u), WIRE_INVALID);       /* over max */
    CHECK_EQ(wire_get_uint(j, "b", 10, &u), WIRE_INVALID);      /* negative */
    CHECK_EQ(wire_get_int(j, "b", -5, 5, &i), WIRE_OK);
    CHECK_EQ(i, -1);
    CHECK_EQ(wire_get_uint(j, "c", 10, &u), WIRE_INVALID);      /* fraction */
    CHECK_EQ(wire_get_uint(j, "d", 10, &u), WIRE_INVALID);      /* a string */
    CHECK_EQ(wire_get_uint(j, "e", WIRE_MAX_SAFE_INT, &u), WIRE_OK);
    CHECK_EQ(wire_get_uint(j, "f", UINT64_MAX, &u), WIRE_INVALID); /* beyond 2^53 */
    CHECK_EQ(wire_get_uint(j, "h", 10, &u), WIRE_INVALID);
    CHECK_EQ(wire_get_uint(j, "zz", 10, &u), WIRE_ABSENT);
    CHECK_EQ(wire_get_bool(j, "g", &b), WIRE_OK);
    CHECK_EQ(b, 1);
    CHECK_EQ(wire_get_bool(j, "a", &b), WIRE_INVALID);
    cJSON_Delete(j);
}

static void test_strings_and_times(void)
{
    /* a lone surrogate escape is not JSON at all */
    CHECK(parse("{\"bad\":\"\\udc00\"}") == NULL);
    cJSON *j = parse("{\"s\":\"ok\",\"t\":10,\"t_nsec\":999999999,"
                     "\"u\":1,\"u_nsec\":1000000000,\"v_nsec\":5}");
    const char *s = NULL;
    struct wire_time t;
    CHECK_EQ(wire_get_string(j, "s", &s), WIRE_OK);
    CHECK_STR(s, "ok");
    CHECK_EQ(wire_get_string(j, "t", &s), WIRE_INVALID);
    CHECK_EQ(wire_get_time(j, "t", &t), WIRE_OK);
    CHECK_EQ(t.sec, 10);
    CHECK_EQ(t.nsec, 999999999);
    CHECK_EQ(wire_get_time(j, "u", &t), WIRE_INVALID);   /* nsec out of range */
    CHECK_EQ(wire_get_time(j, "v", &t), WIRE_INVALID);   /* nsec without seconds */
    CHECK_EQ(wire_get_time(j, "w", &t), WIRE_ABSENT);
    cJSON_Delete(j);
    /* raw invalid UTF-8 inside a JSON string: cJSON keeps it, we refuse it */
    j = parse("{\"s\":\"\xff\xfe\"}");
    CHECK(j != NULL);
    CHECK_EQ(wire_get_string(j, "s", &s), WIRE_INVALID);
    cJSON_Delete(j);
}

static void test_keys_and_nul(void)
{
    static const char *const allowed[] = {"a", "b", NULL};
    const char *bad = NULL;
    cJSON *j = parse("{\"a\":1,\"b\":2}");
    CHECK_EQ(wire_only_keys(j, allowed, &bad), 0);
    cJSON_Delete(j);
    j = parse("{\"a\":1,\"c\":2}");
    CHECK_EQ(wire_only_keys(j, allowed, &bad), -1);
    CHECK_STR(bad, "c");
    cJSON_Delete(j);
    j = parse("[1]");
    CHECK_EQ(wire_only_keys(j, allowed, &bad), -1);
    cJSON_Delete(j);

    const char *nul = "{\"name\":\"a\\u0000b\"}";
    CHECK(!wire_json_safe(nul, strlen(nul)));
    const char *escaped = "{\"name\":\"a\\\\u0000b\"}";   /* a backslash, then u0000 */
    CHECK(wire_json_safe(escaped, strlen(escaped)));
    CHECK(!wire_json_safe("{\"a\":\"\0\"}", 9));
    const char *outside = "{\"a\":1}";
    CHECK(wire_json_safe(outside, strlen(outside)));
}

static void test_node_round_trip(void)
{
    struct dbx_node n, back;
    memset(&n, 0, sizeof n);
    n.id = 0x1234, n.parent = 0, n.type = NODE_SYMLINK, n.mode = 0777;
    n.uid = 1000, n.gid = 100, n.size = 7, n.rev = 42, n.content_rev = 40;
    n.mtime = (struct wire_time){1700000000, 123456789};
    n.atime = (struct wire_time){1700000001, 1};
    n.ctime = (struct wire_time){1700000002, 2};
    strcpy(n.name, "link \xc3\xa9");
    strcpy(n.owner, "alice");
    strcpy(n.target, "../some/where");
    cJSON *j = wire_node_to_json(&n);
    CHECK(j != NULL);
    CHECK_STR(cJSON_GetObjectItem(j, "parent")->valuestring, "0000000000000000");
    CHECK_EQ(wire_node_from_json(j, &back), 0);
    CHECK_EQ(back.id, n.id);
    CHECK_EQ(back.parent, 0);
    CHECK_EQ(back.type, NODE_SYMLINK);
    CHECK_EQ(back.mtime.sec, n.mtime.sec);
    CHECK_EQ(back.mtime.nsec, n.mtime.nsec);
    CHECK_EQ(back.rev, 42);
    CHECK_STR(back.name, n.name);
    CHECK_STR(back.target, n.target);
    CHECK_STR(back.owner, "alice");
    /* a broken field makes the whole node unreadable */
    cJSON_ReplaceItemInObject(j, "mode", cJSON_CreateNumber(070000));
    CHECK_EQ(wire_node_from_json(j, &back), -1);
    cJSON_Delete(j);
}

static void test_users(void)
{
    CHECK(wire_user_valid("alice"));
    CHECK(wire_user_valid("a.b_c-1"));
    CHECK(wire_user_valid("0day"));
    CHECK(!wire_user_valid(""));
    CHECK(!wire_user_valid("Alice"));
    CHECK(!wire_user_valid(".alice"));
    CHECK(!wire_user_valid("al ice"));
    CHECK(!wire_user_valid("al/ice"));
    CHECK(!wire_user_valid("abcdefghijklmnopqrstuvwxyz0123456"));  /* 33 */
}

int main(void)
{
    test_ids();
    test_numbers();
    test_strings_and_times();
    test_keys_and_nul();
    test_node_round_trip();
    test_users();
    return unit_done();
}
