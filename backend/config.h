/* config: dbxd's settings from a config file and the command line. Both
 * use the same names: `--url-ttl 60` on the command line is `url-ttl = 60`
 * in the file; the command line wins. */
#ifndef DBX_CONFIG_H
#define DBX_CONFIG_H

#include <stdio.h>

#include "dbxd.h"

void config_defaults(struct dbxd_config *cfg);
/* Parses argv[first..argc) (and the file named by --config, read first).
 * Returns 0, or -1 after printing a one-line error. */
int config_parse(struct dbxd_config *cfg, int argc, char **argv, int first);
/* Checks what only makes sense together (TLS files, public bind). */
int config_check(const struct dbxd_config *cfg);
void config_usage(FILE *out);

#endif
