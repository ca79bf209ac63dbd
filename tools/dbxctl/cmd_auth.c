/* cmd_auth: `dbxctl login`, `logout` and `whoami`: the account the other
 * commands (and a dbxfs mount without -o password_file) act as.
 *
 * login writes two files with clientconf (common/clientconf.h): the config
 * (server, user, ca_file) and the token, both 0600 in a 0700 directory.
 * dbxctl wipes its copies of the secrets after use: the password (a stack
 * buffer and the request body) and the token (the answer). httpc's own
 * serialised copies are freed, not wiped. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api.h"
#include "prompt.h"
#include "units.h"
#include "wire.h"

#define SECRET_MAX 1024

enum { OPT_PASSWORD_STDIN = CTL_OPT_OWN, OPT_CA_FILE };

/* cJSON copies strings; a secret's copy is wiped before it is freed. */
static void wipe_field(cJSON *obj, const char *key)
{
    cJSON *f = cJSON_GetObjectItemCaseSensitive(obj, key);

    if (cJSON_IsString(f) && f->valuestring)
        explicit_bzero(f->valuestring, strlen(f->valuestring));
}

/* "2026-12-24 19:48:50 (in 29 d 23 h)": when the token of answer (login
 * or /v1/me) expires; "" when it does not say. */
static void expiry(const cJSON *answer, char *out, size_t outlen)
{
    char when[64], left[64];
    int64_t exp, now = (int64_t)time(NULL);

    out[0] = '\0';
    if (wire_get_int(answer, "expires", 0, INT64_MAX, &exp) != WIRE_OK)
        return;
    units_time(exp, when, sizeof(when));
    units_duration(exp > now ? (uint64_t)(exp - now) : 0, left, sizeof(left));
    snprintf(out, outlen, "%s (in %s)", when, left);
}

/* ---- login ---- */

struct login_args {
    const char *server, *user, *ca_file;
    int password_stdin;
};

static int login_parse(struct ctl *c, int argc, char **argv, struct login_args *a)
{
    static const struct option opts[] = {
        {"password-stdin", no_argument, NULL, OPT_PASSWORD_STDIN},
        {"ca-file", required_argument, NULL, OPT_CA_FILE},
        CTL_COMMON_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    int key, rc;

    while ((rc = ctl_option(c, argc, argv, opts, &key)) == CTL_OK && key) {
        if (key == OPT_PASSWORD_STDIN)
            a->password_stdin = 1;
        else if (key == OPT_CA_FILE)
            a->ca_file = optarg;
    }
    if (rc || (rc = ctl_want_args(c, argc - optind, 2, 2)))
        return rc;
    a->server = argv[optind];
    a->user = argv[optind + 1];
    if (!wire_user_valid(a->user))
        return ctl_usage_error(c, "'%s' is not a valid user name (1-32 of a-z 0-9 . _ -)",
                               a->user);
    return CTL_OK;
}

/* The config to save: the server without trailing slashes (so URLs join
 * cleanly), the CA file as an absolute path (the config is read from
 * anywhere). */
static int login_conf(struct ctl *c, const struct login_args *a)
{
    size_t len;

    memset(&c->conf, 0, sizeof(c->conf));
    if (strlen(a->server) >= sizeof(c->conf.server))
        return ctl_usage_error(c, "server URL too long");
    strcpy(c->conf.server, a->server);
    strcpy(c->conf.user, a->user);   /* wire_user_valid: at most 32 bytes */
    len = strlen(c->conf.server);
    while (len > 0 && c->conf.server[len - 1] == '/')
        c->conf.server[--len] = '\0';
    if (a->ca_file && !realpath(a->ca_file, c->conf.ca_file))
        return ctl_error(c, "--ca-file %s: %s", a->ca_file, strerror(errno));
    return CTL_OK;
}

static int login_post(struct ctl *c, const char *password, cJSON **reply)
{
    cJSON *body = cJSON_CreateObject();
    long status;
    int rc;

    if (!body || !cJSON_AddStringToObject(body, "user", c->conf.user) ||
        !cJSON_AddStringToObject(body, "password", password)) {
        rc = ctl_error(c, "out of memory");
        goto out;
    }
    if ((rc = api_request(c, "POST", "/v1/login", body, &status, reply)))
        goto out;
    if (status == 401)
        rc = ctl_error(c, "login refused: wrong user or password for %s at %s",
                       c->conf.user, c->conf.server);
    else if (status != 200)
        rc = api_report(c, NULL, status, *reply);
out:
    wipe_field(body, "password");
    cJSON_Delete(body);
    return rc;
}

static int login_save(struct ctl *c, const cJSON *reply)
{
    char err[PATH_MAX + 128];
    const char *token;

    if (wire_get_string(reply, "token", &token) != WIRE_OK || !token[0])
        return ctl_error(c, "dbxd at %s answered the login without a token",
                         c->conf.server);
    if (clientconf_save(c->config_path, &c->conf, err, sizeof(err)) ||
        clientconf_write_secret(c->token_path, token, err, sizeof(err)))
        return ctl_error(c, "%s", err);
    return CTL_OK;
}

static int login_run(struct ctl *c, int argc, char **argv)
{
    struct login_args a = {0};
    char password[SECRET_MAX], question[2 * CLIENTCONF_VALUE_MAX + 32], until[160];
    cJSON *reply = NULL;
    int rc;

    if ((rc = login_parse(c, argc, argv, &a)) || (rc = ctl_paths(c)) ||
        (rc = login_conf(c, &a)) ||
        (rc = api_open_server(c, c->conf.server, c->conf.ca_file)))
        return rc;
    snprintf(question, sizeof(question), "password for %s at %s: ", c->conf.user,
             c->conf.server);
    rc = prompt_password(question, a.password_stdin, password, sizeof(password));
    if (rc) {
        rc = ctl_error(c, "%s", rc == -EINTR       ? "cancelled"
                                : rc == -ENODATA   ? "no password given"
                                : rc == -EOVERFLOW ? "password too long"
                                                   : strerror(-rc));
        goto out;
    }
    if ((rc = login_post(c, password, &reply)) || (rc = login_save(c, reply)))
        goto out;
    expiry(reply, until, sizeof(until));
    printf("logged in to %s as %s%s%s\n", c->conf.server, c->conf.user,
           until[0] ? "; the token expires " : "", until);
out:
    explicit_bzero(password, sizeof(password));
    wipe_field(reply, "token");
    cJSON_Delete(reply);
    return rc;
}

const struct ctl_cmd ctl_cmd_login = {
    "login", "SERVER USER [--password-stdin] [--ca-file FILE]",
    "log in to dbxd and save the server, user and token for dbxctl and dbxfs",
    "Asks for the password on the terminal without echo, or reads the first\n"
    "line of stdin when stdin is not a terminal or with --password-stdin.\n"
    "Writes ~/.config/dbxfs/config (server, user, CA file) and\n"
    "~/.config/dbxfs/token, both 0600 (or --config / --token-file).\n\n"
    "  SERVER               http://HOST:PORT or https://HOST[:PORT]\n"
    "  --password-stdin     read the password from stdin even on a terminal\n"
    "  --ca-file FILE       PEM CA bundle to trust for https\n",
    login_run,
};

/* ---- logout ---- */

static int logout_run(struct ctl *c, int argc, char **argv)
{
    long status;
    int rc;

    if ((rc = ctl_parse_noargs(c, argc, argv)) || (rc = api_open(c)))
        return rc;
    /* Unreachable: keep the token, so that logging out again can revoke it. */
    if ((rc = api_request(c, "POST", "/v1/logout", NULL, &status, NULL)))
        return ctl_error(c, "the token was not revoked; it is kept in %s: try again, "
                            "or delete the file (the token then lives until it expires)",
                         c->token_path);
    /* 401: already expired or revoked, which is what logging out wants. */
    if (status != 200 && status != 401)
        return api_report(c, NULL, status, NULL);
    if (unlink(c->token_path) != 0 && errno != ENOENT)
        return ctl_error(c, "cannot remove %s: %s", c->token_path, strerror(errno));
    printf("logged out %s from %s\n", c->conf.user, c->conf.server);
    return CTL_OK;
}

const struct ctl_cmd ctl_cmd_logout = {
    "logout", "",
    "revoke the saved token on dbxd and delete its file",
    "The config (server, user) stays, so `dbxctl login` needs no more than\n"
    "before. A mount that uses the token stops syncing until a new login\n"
    "and a remount.\n",
    logout_run,
};

/* ---- whoami ---- */

static int whoami_run(struct ctl *c, int argc, char **argv)
{
    cJSON *me = NULL;
    const char *user;
    char until[160];
    int rc;

    if ((rc = ctl_parse_noargs(c, argc, argv)) || (rc = api_open(c)) ||
        (rc = api_call(c, NULL, "GET", "/v1/me", NULL, &me)))
        goto out;
    if (wire_get_string(me, "user", &user) != WIRE_OK) {
        rc = ctl_error(c, "unexpected answer from dbxd at %s", c->conf.server);
        goto out;
    }
    expiry(me, until, sizeof(until));
    printf("user:    %s\nserver:  %s\n", user, c->conf.server);
    if (until[0])
        printf("expires: %s\n", until);
out:
    cJSON_Delete(me);
    return rc;
}

const struct ctl_cmd ctl_cmd_whoami = {
    "whoami", "",
    "show the account and server dbxctl acts as, checked with dbxd",
    NULL,
    whoami_run,
};
