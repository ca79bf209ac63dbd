/* clientconf: where a client (dbxfs, dbxctl) finds its server and
 * credentials, as `dbxctl login` writes them.
 *
 *   $XDG_CONFIG_HOME/dbxfs/config   (default ~/.config/dbxfs/config), 0600
 *       server = https://host:port
 *       user = alice
 *       ca_file = /path/ca.pem          (optional)
 *   $XDG_CONFIG_HOME/dbxfs/token    the bearer token alone, 0600
 *
 * Lines are `name = value`; blank lines and lines starting with '#' are
 * ignored; an unknown name is an error (so a typo never passes silently).
 * Files holding secrets are created 0600 in a 0700 directory, written to a
 * temporary file and renamed into place, so a reader never sees half a
 * token. Errors are -errno, with a one-line message in err. */
#ifndef DBX_CLIENTCONF_H
#define DBX_CLIENTCONF_H

#include <stddef.h>

#define CLIENTCONF_VALUE_MAX 1024

typedef struct clientconf {
    char server[CLIENTCONF_VALUE_MAX];
    char user[CLIENTCONF_VALUE_MAX];
    char ca_file[CLIENTCONF_VALUE_MAX];
} clientconf;

/* The config directory ($XDG_CONFIG_HOME/dbxfs or $HOME/.config/dbxfs). */
int clientconf_dir(char *out, size_t outlen);

/* Reads path into c (fields absent stay ""). -ENOENT if there is no file. */
int clientconf_load(const char *path, clientconf *c, char *err, size_t errlen);
/* Writes c to path atomically, 0600, creating the directory 0700. */
int clientconf_save(const char *path, const clientconf *c, char *err,
                    size_t errlen);

/* Reads a secret (token or password): the first line of path, without its
 * newline. Refuses a file readable or writable by group or others (-EPERM,
 * like ssh does with keys). */
int clientconf_read_secret(const char *path, char *out, size_t outlen,
                           char *err, size_t errlen);
/* Writes a secret and a newline to path atomically, 0600. */
int clientconf_write_secret(const char *path, const char *secret, char *err,
                            size_t errlen);

#endif
