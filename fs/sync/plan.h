/* plan: the sync engine's decisions, as pure functions of the state they
 * look at: no I/O, no locks, no clock. The engine gathers the state (under
 * fs->lock, in one transaction), asks, and carries the answer out; unit
 * tests build any state and check the answers (tests/unit/test_plan.c).
 *
 * Three views of a node meet here (docs/architecture.md, "The sync
 * model"): the local tree (what programs see), the remote mirror (dbxd's
 * record as the change feed last showed it) and what this device still has
 * to send (journal operations, dirty content).
 *
 *   plan_reconcile  what to do with one node's local record
 *   plan_answer     what to do with dbxd's answer to one operation */
#ifndef DBXFS_PLAN_H
#define DBXFS_PLAN_H

#include <stdint.h>

#include "metadb.h"

/* ---- reconciling a node ---- */

struct plan_node {
    const struct cnode *local;    /* NULL: not in the local tree */
    const struct cnode *remote;   /* NULL: no record in the mirror */
    uint64_t remote_gone;         /* the mirror's tombstone (delete seq), 0 none */
    int gone;                     /* removed here (a local tombstone) */
    uint64_t gone_rev;            /* dbxd's answer to that delete, 0 none yet */
    uint64_t pending;             /* journal operations naming the node (its own,
                                   * and renames that replace it) */
    int dirty;                    /* content dbxd does not have */
    int tracked;                  /* remote's parent is followed here */
    int detached;                 /* local's directory entry is not its own (it
                                   * made way for another node) */
    int work_below;               /* a directory with local changes below */
};

enum plan_step {
    PLAN_KEEP,       /* nothing to do */
    PLAN_WAIT,       /* local work, or our own change not yet echoed: later */
    PLAN_TAKE,       /* local := remote (content too, unless dirty or busy) */
    PLAN_ADD,        /* a node new here: place the remote record */
    PLAN_FORGET,     /* deleted on dbxd, or moved out of sight: drop it here */
    PLAN_RESURRECT,  /* deleted on dbxd while it holds local work: create it again */
    PLAN_UNGONE,     /* our delete is settled (or was refused): drop the tombstone */
    PLAN_TAKE_CONTENT, /* metadata waits for local work, but dbxd has newer
                        * content this device did not touch: take that */
};

enum plan_step plan_reconcile(const struct plan_node *v);
const char *plan_step_name(enum plan_step s);

/* ---- settling an answer ---- */

enum plan_op { PLAN_OP_CREATE, PLAN_OP_PATCH, PLAN_OP_DELETE, PLAN_OP_UPLOAD };

struct plan_reply {
    enum plan_op op;
    long status;                  /* 0: no answer at all */
    const char *code;             /* the error code ("" when none) */
    int names_place;              /* the operation asks for a parent and name */
    int replaces;                 /* a rename that replaces what holds the name */
    int existing_is_self;         /* 409 exists names this very node (a replay) */
    int missing_is_self;          /* 404 names the operation's own node */
    int has_work;                 /* the local node is dirty, or a directory
                                   * with local changes below */
    int local_gone;               /* the node is no longer in the local tree */
    int failures;                 /* earlier 5xx answers to this operation */
};

enum plan_verdict {
    PLAN_DONE,       /* settled: out of the journal */
    PLAN_RETRY,      /* nothing settled (offline, overloaded): same again later */
    PLAN_RENAME,     /* the place is taken there: ours becomes a conflicted copy */
    PLAN_REPARENT,   /* its directory is gone there: follow ours, or create it again */
    PLAN_RECREATE,   /* the node is gone there but holds local work: create it again */
    PLAN_REVERT,     /* never accepted, nothing of value lost: drop it, dbxd's wins */
    PLAN_UNDELETE,   /* a delete refused (changed or filled elsewhere): it comes back */
    PLAN_RELOCATE,   /* no right to write there: ours moves to the own root */
    PLAN_PARK,       /* an answer not understood: set aside, visible, retried later */
};

/* How many 5xx answers in a row make an operation "not understood". */
#define PLAN_MAX_FAILURES 8

enum plan_verdict plan_answer(const struct plan_reply *r);
const char *plan_verdict_name(enum plan_verdict v);

#endif
