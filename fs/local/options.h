/* options: dbxfs's command line, mount options and defaults.
 *
 *   dbxfs [-f] [-d] [-o opt,...] MOUNTPOINT
 *   dbxfs SOURCE MOUNTPOINT [-o opt,...]      (what mount.fuse3 runs for
 *                                              `mount -t fuse.dbxfs` and fstab)
 * SOURCE is `URL`, `USER@URL` (URL = http[s]://host:port) or a placeholder
 * word without "://" (e.g. `dbxfs`), meaning "from the config".
 *
 * dbxfs's own -o options (the rest go to FUSE: allow_other, ro, ...):
 *   server=URL          dbxd base URL (else SOURCE, else the config's)
 *   user=NAME           account (else SOURCE's, else the config's)
 *   config=PATH         config file (default clientconf's)
 *   token_file=PATH     bearer token file (default: token beside the config)
 *   password_file=PATH  log in with this password (first line of a 0600
 *                       file) and save the token to token_file
 *   ca_file=PATH        PEM CA bundle for https
 *   cache_dir=DIR       local state (default $XDG_CACHE_HOME/dbxfs/USER@HOST_PORT,
 *                       ~/.cache/... ; for root /var/cache/dbxfs/USER@HOST_PORT)
 *   cache_size=SIZE     cache cap (block cache + clean local copies): bytes or K/M/G/T (default 10G)
 *   attr_timeout=SEC, entry_timeout=SEC   kernel cache lifetimes (default 60)
 *   log_level=error|warn|info|debug
 *   fsync_server        fsync() waits until the file is on the server
 *   device=NAME         names this device's conflicted copies (default: hostname)
 *   uid=N, gid=N        owner of the root when the server has none to say
 *   _netdev, nofail, noauto, user, users, defaults, x-systemd.*, comment=*
 *                       fstab words, accepted and ignored
 *   nonempty            accepted and ignored (fuse2 habit)
 * Flags: -f foreground, -d debug (implies -f and log_level=debug),
 *   -s single-threaded, -h/--help, -V/--version.
 * Unknown options and a missing mountpoint are one-line errors. */
#ifndef DBXFS_OPTIONS_H
#define DBXFS_OPTIONS_H

#include <stdint.h>
#ifndef FUSE_USE_VERSION
#define FUSE_USE_VERSION 34
#endif
#include <fuse_lowlevel.h>

#include "clientconf.h"

struct dbxfs_opts {
    char *mountpoint;           /* realpath of MOUNTPOINT */
    char server[CLIENTCONF_VALUE_MAX];
    char user[CLIENTCONF_VALUE_MAX];
    char ca_file[CLIENTCONF_VALUE_MAX];
    char config[CLIENTCONF_VALUE_MAX];
    char token_file[CLIENTCONF_VALUE_MAX];
    char password_file[CLIENTCONF_VALUE_MAX];
    char cache_dir[CLIENTCONF_VALUE_MAX];
    char device[CLIENTCONF_VALUE_MAX];
    uint64_t cache_size;
    double attr_timeout, entry_timeout;
    int log_level;              /* enum log_level */
    int foreground, debug, singlethread, fsync_server, allow_other;
    int root_uid, root_gid;     /* uid=, gid=; -1 when not given */
    int show_help, show_version;
    /* What is left for fuse_session_new (owned: fuse_opt_free_args). */
    struct fuse_args fuse_args;
};

/* Parses argv. On error returns -1 with a one-line message in err (no
 * "dbxfs: " prefix). Help and version set the flags and return 0. */
int options_parse(int argc, char **argv, struct dbxfs_opts *o, char *err,
                  size_t errlen);
void options_free(struct dbxfs_opts *o);
void options_usage(const char *prog);   /* to stdout */

#endif
