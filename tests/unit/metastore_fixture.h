/* metastore_fixture: fresh stores for metastore_test.c, which tests the
 * contract of backend/metastore.h and nothing else. Each implementation of
 * metastore.h has a fixture file of its own (metastore_fixture_lmdb.c; a
 * PostgreSQL one would create and drop a database or schema) and links the
 * same test source: how a store is named, made and removed is the
 * fixture's business, what a store does is the test's. */
#ifndef DBX_METASTORE_FIXTURE_H
#define DBX_METASTORE_FIXTURE_H

#include "metastore.h"

typedef struct msf msf;

/* A new, empty store, open; NULL (with the reason on stderr) if not. */
msf *msf_create(void);
/* The open store (NULL after a failed msf_reopen). */
metastore *msf_store(msf *f);
/* Closes the store and opens the same one again, as a restart of dbxd
 * would: what is there afterwards is what was committed. 0 or an MS_ code. */
int msf_reopen(msf *f);
/* Closes the store and removes everything it kept; NULL is fine. Returns
 * 0, or -1 if something could not be removed (a leak the test reports). */
int msf_destroy(msf *f);

#endif
