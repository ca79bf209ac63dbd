/* auth: accounts, passwords and bearer tokens. Passwords are kept as scrypt
 * hashes with a per-account random salt; tokens are 32 random bytes shown
 * to the client once, and stored only as their SHA-256 with an expiry, so
 * a copy of the database grants nothing. */
#ifndef DBX_AUTH_H
#define DBX_AUTH_H

#include <stdint.h>

#include "dbxd.h"

#define AUTH_TOKEN_HEX_LEN 64

/* Creates an account and its root directory. 0, MS_EXISTS, or an error. */
int auth_user_add(metastore *ms, const char *name, const char *password);
int auth_user_del(metastore *ms, const char *name);
int auth_user_passwd(metastore *ms, const char *name, const char *password);

/* Checks the password (with the same work for unknown users) and issues a
 * token. 0, MS_NOTFOUND for bad credentials, or an error. */
int auth_login(struct dbxd *d, const char *user, const char *password,
               char token[AUTH_TOKEN_HEX_LEN + 1], int64_t *expires, struct ms_user *u);
/* 0 and the account when token is valid; MS_NOTFOUND otherwise. */
int auth_check_token(struct dbxd *d, const char *token, struct ms_user *u);
int auth_token_expiry(struct dbxd *d, const char *token, int64_t *expires);
int auth_revoke_token(struct dbxd *d, const char *token);

#endif
