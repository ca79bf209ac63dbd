/* api: the handlers of the v1 endpoints (docs/api.md), one file per
 * resource: api_auth.c, api_nodes.c, api_uploads.c, api_chunks.c,
 * api_changes.c, api_shares.c, api_links.c, api_batch.c. routes.c maps paths to them. */
#ifndef DBX_API_H
#define DBX_API_H

#include "access.h"
#include "http.h"

enum MHD_Result api_login(struct http_req *r);
enum MHD_Result api_logout(struct http_req *r);
enum MHD_Result api_me(struct http_req *r);

enum MHD_Result api_node_get(struct http_req *r);
enum MHD_Result api_node_children(struct http_req *r);
enum MHD_Result api_node_create(struct http_req *r);
enum MHD_Result api_node_patch(struct http_req *r);
enum MHD_Result api_node_delete(struct http_req *r);
enum MHD_Result api_batch(struct http_req *r);

enum MHD_Result api_upload_open(struct http_req *r);
enum MHD_Result api_upload_get(struct http_req *r);
enum MHD_Result api_upload_commit(struct http_req *r);
enum MHD_Result api_content_get(struct http_req *r);

void api_chunk_put_begin(struct http_req *r);
void api_chunk_put_data(struct http_req *r, const char *buf, size_t len);
enum MHD_Result api_chunk_put_end(struct http_req *r);
enum MHD_Result api_chunk_get(struct http_req *r);

enum MHD_Result api_changes(struct http_req *r);

enum MHD_Result api_share_add(struct http_req *r);
enum MHD_Result api_share_list(struct http_req *r);
enum MHD_Result api_share_delete(struct http_req *r);
enum MHD_Result api_shared(struct http_req *r);

enum MHD_Result api_link_create(struct http_req *r);
enum MHD_Result api_link_get(struct http_req *r);

/* --- helpers shared by the handlers (api_util.c) --- */

/* Loads node id and checks the caller holds at least `need` on it. 0 when
 * allowed; otherwise the answer (404, or 403 for a role too weak) has been
 * queued and -1 returned. */
int api_node_access(struct http_req *r, ms_txn *t, uint64_t id, enum role need,
                    struct dbx_node *n, enum role *role);
/* 0 when the JSON body has only allowed keys; else a 400 is queued, -1. */
int api_only_keys(struct http_req *r, const char *const allowed[]);
/* Reads a node name field: 0 with *out set (untouched if absent and not
 * required), or -1 with 400 invalid_name / bad_request queued. */
int api_get_name(struct http_req *r, const char *key, int required, const char **out);
/* Reads an optional decimal query parameter into *out (untouched when
 * absent). 0, or -1 when it is not plain digits or is above max. */
int api_query_uint(struct http_req *r, const char *key, uint64_t max, uint64_t *out);
/* Queues 400 bad_request naming the field. */
enum MHD_Result api_bad_field(struct http_req *r, const char *field);
/* Queues 400 invalid_name for a failed name_check. */
enum MHD_Result api_bad_name(struct http_req *r, int check);
/* A signed URL for method and path, absolute with --public-url. */
int api_signed_url(struct http_req *r, const char *method, const char *path,
                   int64_t exp, char *out, size_t cap);
/* Checks ?exp=&sig= against method and path (with ?u= when present);
 * queues 403 and returns -1 on failure. */
int api_check_signature(struct http_req *r, const char *method);
/* The wall clock as the API stores times. */
struct wire_time api_now(void);

#endif
