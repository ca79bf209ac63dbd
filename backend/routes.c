/* Every endpoint of the v1 API (docs/api.md) and its handler. */
#include "api.h"

#define AUTH ROUTE_AUTH
#define JSON ROUTE_JSON

const struct route http_routes[] = {
    {"POST", "/v1/login", JSON, api_login, NULL, NULL},
    {"POST", "/v1/logout", AUTH, api_logout, NULL, NULL},
    {"GET", "/v1/me", AUTH, api_me, NULL, NULL},

    {"POST", "/v1/nodes", AUTH | JSON, api_node_create, NULL, NULL},
    {"GET", "/v1/nodes/{id}", AUTH, api_node_get, NULL, NULL},
    {"PATCH", "/v1/nodes/{id}", AUTH | JSON, api_node_patch, NULL, NULL},
    {"DELETE", "/v1/nodes/{id}", AUTH | ROUTE_JSON_OPT, api_node_delete, NULL, NULL},
    {"GET", "/v1/nodes/{id}/children", AUTH, api_node_children, NULL, NULL},
    {"GET", "/v1/nodes/{id}/content", AUTH, api_content_get, NULL, NULL},
    {"POST", "/v1/batch", AUTH | JSON | ROUTE_BIG, api_batch, NULL, NULL},

    {"POST", "/v1/uploads", AUTH | JSON | ROUTE_BIG, api_upload_open, NULL, NULL},
    {"GET", "/v1/uploads/{upload}", AUTH, api_upload_get, NULL, NULL},
    {"POST", "/v1/uploads/{upload}/commit", AUTH | ROUTE_JSON_OPT, api_upload_commit, NULL, NULL},

    {"PUT", "/v1/chunks/{hash}", ROUTE_STREAM, api_chunk_put_end, api_chunk_put_begin, api_chunk_put_data},
    {"GET", "/v1/chunks/{hash}", 0, api_chunk_get, NULL, NULL},

    {"GET", "/v1/changes", AUTH, api_changes, NULL, NULL},

    {"POST", "/v1/nodes/{id}/shares", AUTH | JSON, api_share_add, NULL, NULL},
    {"GET", "/v1/nodes/{id}/shares", AUTH, api_share_list, NULL, NULL},
    {"DELETE", "/v1/nodes/{id}/shares/{user}", AUTH, api_share_delete, NULL, NULL},
    {"GET", "/v1/shared", AUTH, api_shared, NULL, NULL},

    {"POST", "/v1/nodes/{id}/links", AUTH | ROUTE_JSON_OPT, api_link_create, NULL, NULL},
    {"GET", "/v1/links/{id}", 0, api_link_get, NULL, NULL},

    {NULL, NULL, 0, NULL, NULL, NULL},
};
