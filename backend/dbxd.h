/* dbxd: the one context of the server process. Everything a request needs
 * hangs off struct dbxd; there is no other mutable global state. The
 * context is built by server_start and lives until server_stop; request
 * threads only read its fields (the stores and the feed do their own
 * locking). */
#ifndef DBX_DBXD_H
#define DBX_DBXD_H

#include <limits.h>
#include <pthread.h>
#include <stdint.h>

#include "chunkstore.h"
#include "feed.h"
#include "metastore.h"
#include "throttle.h"
#include "urlsign.h"

struct dbxd_config {
    char data_dir[PATH_MAX - 64];  /* room for the names inside it */
    char config_file[PATH_MAX];
    char listen[64];
    unsigned port;
    char tls_cert[PATH_MAX];
    char tls_key[PATH_MAX];
    char public_url[512];
    char ready_file[PATH_MAX];
    int insecure_bind;
    unsigned max_connections;
    unsigned max_header;
    unsigned login_attempts;  /* failed logins per address and minute */
    long token_ttl, url_ttl, upload_ttl;
    long gc_grace, gc_interval;
    unsigned long map_size_mb;
    int log_level;
};

struct dbxd {
    struct dbxd_config cfg;
    metastore *ms;
    chunkstore *cs;
    feed *feed;
    throttle *logins;
    uint8_t sign_key[URLSIGN_KEY_LEN];
    struct MHD_Daemon *mhd;
    char *tls_cert_pem, *tls_key_pem;  /* libmicrohttpd reads them while it runs */
    pthread_t gc_thread;
    int gc_running;
    pthread_mutex_t stop_lock;
    pthread_cond_t stop_cond;
    int stopping;
};

/* Opens the stores under cfg->data_dir (creating keys on first use). */
int dbxd_open_stores(struct dbxd *d);
void dbxd_close_stores(struct dbxd *d);

#endif
