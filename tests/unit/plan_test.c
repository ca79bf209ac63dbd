/* plan: the sync engine's decisions (fs/sync/plan.c), tried on built states:
 * one table of cases per rule, then properties over random states (the
 * CanopyCheck idea: any state, the decision keeps the invariants; applied
 * by a model of the executor, the node settles).
 *
 *   plan_test [SEED [ROUNDS]]     the random part replays from SEED */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan.h"
#include "unit.h"

static struct cnode node(uint64_t id, uint64_t parent, const char *name, uint64_t rev)
{
    struct cnode n;

    memset(&n, 0, sizeof(n));
    n.id = id;
    n.parent = parent;
    n.type = NODE_FILE;
    n.mode = 0644;
    n.rev = rev;
    snprintf(n.name, sizeof(n.name), "%s", name);
    return n;
}

/* ---- reconcile: one case per rule ---- */

static void test_reconcile_rules(void)
{
    struct cnode l = node(7, 1, "f", 10), r = l;
    struct plan_node v = { .local = &l, .remote = &r, .tracked = 1 };

    CHECK_EQ(plan_reconcile(&v), PLAN_KEEP);
    r.rev = 11;
    r.mode = 0600;                         /* changed there */
    CHECK_EQ(plan_reconcile(&v), PLAN_TAKE);
    v.pending = 1;                         /* and here: ours goes first */
    CHECK_EQ(plan_reconcile(&v), PLAN_WAIT);
    v.pending = 0;
    l.rev = 12;                            /* our answer, not yet echoed */
    CHECK_EQ(plan_reconcile(&v), PLAN_WAIT);
    l.rev = 10;
    v.detached = 1;                        /* made way for another node */
    r = l;
    CHECK_EQ(plan_reconcile(&v), PLAN_TAKE);
    v.detached = 0;
    v.tracked = 0;                         /* moved out of sight */
    CHECK_EQ(plan_reconcile(&v), PLAN_FORGET);
    v.dirty = 1;
    CHECK_EQ(plan_reconcile(&v), PLAN_WAIT);
    v.dirty = 0;
    v.tracked = 1;
    l.flags = CN_LOCAL;                    /* its create is not answered */
    CHECK_EQ(plan_reconcile(&v), PLAN_WAIT);
}

static void test_reconcile_deleted_there(void)
{
    struct cnode l = node(7, 1, "f", 10);
    struct plan_node v = { .local = &l, .remote_gone = 20, .tracked = 1 };

    CHECK_EQ(plan_reconcile(&v), PLAN_FORGET);
    v.dirty = 1;                           /* an edit here keeps it */
    CHECK_EQ(plan_reconcile(&v), PLAN_RESURRECT);
    v.dirty = 0;
    l.type = NODE_DIR;
    v.work_below = 1;                      /* new files in it here */
    CHECK_EQ(plan_reconcile(&v), PLAN_RESURRECT);
    v.work_below = 0;
    l.rev = 30;                            /* made again since, by us */
    CHECK_EQ(plan_reconcile(&v), PLAN_WAIT);
    v.remote_gone = 0;                     /* never known there at all */
    CHECK_EQ(plan_reconcile(&v), PLAN_KEEP);
}

static void test_reconcile_absent_here(void)
{
    struct cnode r = node(7, 1, "f", 10);
    struct plan_node v = { .remote = &r, .tracked = 1 };

    CHECK_EQ(plan_reconcile(&v), PLAN_ADD);
    v.tracked = 0;
    CHECK_EQ(plan_reconcile(&v), PLAN_KEEP);
    v.tracked = 1;
    v.gone = 1;                            /* deleted here, delete queued */
    v.pending = 1;
    CHECK_EQ(plan_reconcile(&v), PLAN_WAIT);
    v.pending = 0;
    v.gone_rev = 15;                       /* answered; the feed lags */
    CHECK_EQ(plan_reconcile(&v), PLAN_WAIT);
    r.rev = 16;                            /* made again after our delete */
    CHECK_EQ(plan_reconcile(&v), PLAN_UNGONE);
    v.gone_rev = 0;                        /* a delete that will never be sent */
    CHECK_EQ(plan_reconcile(&v), PLAN_UNGONE);
    v.remote = NULL;
    v.gone_rev = 15;                       /* the feed showed it gone */
    CHECK_EQ(plan_reconcile(&v), PLAN_UNGONE);
}

static void test_reconcile_content_apart(void)
{
    struct cnode l = node(7, 1, "f", 10), r = node(7, 1, "g", 12);
    struct plan_node v = { .local = &l, .remote = &r, .tracked = 1, .pending = 2 };

    l.content_rev = 5;
    r.content_rev = 12;                    /* newer content there ... */
    CHECK_EQ(plan_reconcile(&v), PLAN_TAKE_CONTENT);
    v.dirty = 1;                           /* ... unless we changed it too */
    CHECK_EQ(plan_reconcile(&v), PLAN_WAIT);
    v.dirty = 0;
    l.content_rev = 13;                    /* or ours is the newer */
    CHECK_EQ(plan_reconcile(&v), PLAN_WAIT);
}

/* ---- answers ---- */

struct answer_case {
    enum plan_op op;
    long status;
    const char *code;
    unsigned flags;                        /* A_* below */
    enum plan_verdict want;
};

enum { A_PLACE = 1, A_REPLACE = 2, A_SELF_EXISTS = 4, A_SELF_MISSING = 8, A_WORK = 16,
       A_GONE = 32 };

static void test_answers(void)
{
    static const struct answer_case cases[] = {
        { PLAN_OP_CREATE, 201, "", A_PLACE, PLAN_DONE },
        { PLAN_OP_CREATE, 0, "", A_PLACE, PLAN_RETRY },
        { PLAN_OP_CREATE, 503, "", A_PLACE, PLAN_RETRY },
        { PLAN_OP_CREATE, 429, "", A_PLACE, PLAN_RETRY },
        { PLAN_OP_CREATE, 409, "exists", A_PLACE, PLAN_RENAME },
        { PLAN_OP_CREATE, 409, "exists", A_PLACE | A_SELF_EXISTS, PLAN_DONE },
        { PLAN_OP_CREATE, 409, "exists", A_PLACE | A_GONE, PLAN_REVERT },
        { PLAN_OP_CREATE, 409, "reserved", A_PLACE, PLAN_RENAME },
        { PLAN_OP_CREATE, 404, "not_found", A_PLACE, PLAN_REPARENT },
        { PLAN_OP_CREATE, 403, "forbidden", A_PLACE, PLAN_RELOCATE },
        { PLAN_OP_CREATE, 400, "bad_request", A_PLACE, PLAN_PARK },
        { PLAN_OP_PATCH, 200, "", 0, PLAN_DONE },
        { PLAN_OP_PATCH, 409, "exists", A_PLACE, PLAN_RENAME },
        { PLAN_OP_PATCH, 409, "not_empty", A_PLACE | A_REPLACE, PLAN_RENAME },
        { PLAN_OP_PATCH, 409, "is_dir", A_PLACE | A_REPLACE, PLAN_RENAME },
        { PLAN_OP_PATCH, 404, "not_found", A_SELF_MISSING, PLAN_REVERT },
        { PLAN_OP_PATCH, 404, "not_found", A_SELF_MISSING | A_WORK, PLAN_RECREATE },
        { PLAN_OP_PATCH, 404, "not_found", A_PLACE, PLAN_REPARENT },
        { PLAN_OP_PATCH, 400, "invalid_move", A_PLACE, PLAN_REVERT },
        { PLAN_OP_PATCH, 403, "forbidden", A_PLACE, PLAN_REVERT },
        { PLAN_OP_DELETE, 200, "", 0, PLAN_DONE },
        { PLAN_OP_DELETE, 404, "not_found", 0, PLAN_DONE },
        { PLAN_OP_DELETE, 409, "not_empty", 0, PLAN_UNDELETE },
        { PLAN_OP_DELETE, 412, "rev_mismatch", 0, PLAN_UNDELETE },
        { PLAN_OP_DELETE, 403, "forbidden", 0, PLAN_UNDELETE },
        { PLAN_OP_UPLOAD, 404, "not_found", A_WORK, PLAN_RECREATE },
        { PLAN_OP_UPLOAD, 403, "forbidden", A_WORK, PLAN_RELOCATE },
        { PLAN_OP_UPLOAD, 409, "missing_chunks", A_WORK, PLAN_RETRY },
        { PLAN_OP_UPLOAD, 507, "no_space", A_WORK, PLAN_PARK },
        { PLAN_OP_UPLOAD, 404, "not_found", A_GONE, PLAN_DONE },
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct answer_case *c = &cases[i];
        struct plan_reply r = {
            .op = c->op, .status = c->status, .code = c->code,
            .names_place = !!(c->flags & A_PLACE), .replaces = !!(c->flags & A_REPLACE),
            .existing_is_self = !!(c->flags & A_SELF_EXISTS),
            .missing_is_self = !!(c->flags & A_SELF_MISSING),
            .has_work = !!(c->flags & A_WORK), .local_gone = !!(c->flags & A_GONE),
        };
        enum plan_verdict got = plan_answer(&r);
        if (!CHECK_EQ(got, c->want))
            printf("  case %zu: op %d %ld %s -> %s, wanted %s\n", i, c->op, c->status, c->code,
                   plan_verdict_name(got), plan_verdict_name(c->want));
    }
}

/* A 5xx is tried again, but not forever: the operation is set aside. */
static void test_server_errors_end(void)
{
    struct plan_reply r = { .op = PLAN_OP_PATCH, .status = 500, .code = "internal" };

    for (r.failures = 0; r.failures < PLAN_MAX_FAILURES - 1; r.failures++)
        CHECK_EQ(plan_answer(&r), PLAN_RETRY);
    CHECK_EQ(plan_answer(&r), PLAN_PARK);
}

/* ---- properties over random states ---- */

static uint64_t pick(uint64_t *s, uint64_t n)
{
    return unit_rand(s) % n;
}

static void random_node(uint64_t *s, struct cnode *n, uint64_t rev)
{
    static const char *const names[] = { "a", "b", "c" };

    *n = node(7, 1 + pick(s, 3), names[pick(s, 3)], rev);
    n->type = pick(s, 4) ? NODE_FILE : NODE_DIR;
    n->mode = pick(s, 2) ? 0644 : 0600;
    if (n->type == NODE_FILE)
        n->content_rev = pick(s, rev + 1);
}

struct state {
    struct cnode l, r;
    struct plan_node v;
};

static void random_state(uint64_t *s, struct state *st)
{
    memset(st, 0, sizeof(*st));
    random_node(s, &st->l, 1 + pick(s, 20));
    random_node(s, &st->r, 1 + pick(s, 20));
    st->r.type = st->l.type;               /* a node keeps its type */
    if (pick(s, 8) == 0)
        st->l.flags |= CN_LOCAL;
    st->v.local = pick(s, 5) ? &st->l : NULL;
    st->v.remote = pick(s, 4) ? &st->r : NULL;
    st->v.remote_gone = !st->v.remote && pick(s, 2) ? 1 + pick(s, 25) : 0;
    st->v.gone = !st->v.local && pick(s, 2);
    st->v.gone_rev = st->v.gone && pick(s, 2) ? 1 + pick(s, 25) : 0;
    st->v.pending = pick(s, 3) == 0 ? 1 + pick(s, 3) : 0;
    st->v.dirty = st->v.local && st->l.type == NODE_FILE && pick(s, 4) == 0;
    st->v.tracked = pick(s, 5) != 0;
    st->v.detached = st->v.local && pick(s, 10) == 0;
    st->v.work_below = st->v.local && st->l.type == NODE_DIR && pick(s, 4) == 0;
}

/* What every decision must respect, whatever the state. */
static void check_invariants(const struct state *st, enum plan_step step)
{
    const struct plan_node *v = &st->v;
    int unsent = v->pending || (v->local && (v->local->flags & CN_LOCAL));

    /* what is still to be sent is not overwritten by dbxd's record (the
     * content of a dirty file survives a take: the executor keeps it) */
    if (unsent)
        CHECK(step != PLAN_FORGET && step != PLAN_TAKE);
    /* local work is never dropped */
    if (v->dirty || v->work_below)
        CHECK(step != PLAN_FORGET);
    /* content is taken apart only when it is newer there and untouched here */
    if (step == PLAN_TAKE_CONTENT)
        CHECK(!v->dirty && v->remote && v->local &&
              v->remote->content_rev > v->local->content_rev);
    /* a node comes here only from a record of a followed directory */
    if (step == PLAN_ADD)
        CHECK(!v->local && v->remote && v->tracked && !v->gone && !v->pending);
    /* made again only when deleted there and holding work here */
    if (step == PLAN_RESURRECT)
        CHECK(v->local && v->remote_gone && (v->dirty || v->work_below));
    /* our own answer is not undone by an older record */
    if (v->local && v->remote && v->remote->rev < v->local->rev)
        CHECK(step == PLAN_WAIT || step == PLAN_TAKE_CONTENT);
    /* a local delete still to be answered keeps the node away */
    if (!v->local && v->gone && v->pending)
        CHECK(step == PLAN_WAIT);
}

/* The executor, as a model: what each step makes of the local record. */
static void model_apply(struct state *st, enum plan_step step)
{
    switch (step) {
    case PLAN_TAKE:
    case PLAN_ADD:
        st->l = st->r;
        st->v.local = &st->l;
        st->v.detached = 0;
        break;
    case PLAN_FORGET:
        st->v.local = NULL;
        break;
    case PLAN_UNGONE:
        st->v.gone = 0;
        break;
    case PLAN_TAKE_CONTENT:
        st->l.content_rev = st->r.content_rev;
        break;
    default:
        break;
    }
}

/* The feed brings the echo of what this device sent: what a wait for it
 * ends with. 0 when the wait is for something else. */
static int model_echo(struct state *st)
{
    struct plan_node *v = &st->v;

    if (v->local && v->remote && st->r.rev < st->l.rev) {
        st->r = st->l;                     /* our change, as the feed shows it */
        return 1;
    }
    if (v->local && !v->remote && v->remote_gone && v->remote_gone < st->l.rev) {
        st->r = st->l;                     /* our re-creation */
        v->remote = &st->r;
        v->remote_gone = 0;
        return 1;
    }
    if (!v->local && v->gone && v->remote && st->r.rev <= v->gone_rev) {
        v->remote = NULL;                  /* our delete */
        v->remote_gone = v->gone_rev;
        return 1;
    }
    return 0;
}

/* With nothing left to send, a node settles: once the feed has echoed
 * what was sent, a couple of steps and the plan has nothing more to do (no
 * step undoes another). */
static void check_settles(struct state *st)
{
    enum plan_step step = PLAN_KEEP;

    st->v.pending = 0;
    st->v.dirty = 0;
    st->v.work_below = 0;
    st->l.flags &= ~CN_LOCAL;
    for (int i = 0; i < 4; i++) {
        step = plan_reconcile(&st->v);
        if (step == PLAN_KEEP)
            break;
        if (step == PLAN_WAIT)
            CHECK(model_echo(st));         /* only ever for the feed */
        else
            model_apply(st, step);
    }
    CHECK_EQ(step, PLAN_KEEP);
}

static void test_random_states(uint64_t seed, int rounds)
{
    uint64_t s = seed;
    struct state st;

    for (int i = 0; i < rounds; i++) {
        random_state(&s, &st);
        check_invariants(&st, plan_reconcile(&st.v));
        check_settles(&st);
    }
}

/* Every answer is settled, retried or set aside: never retried unchanged
 * once dbxd has said no for good (a 4xx other than throttling). */
static void test_random_answers(uint64_t seed, int rounds)
{
    static const char *const codes[] = { "", "exists", "reserved", "not_empty", "not_dir",
                                         "is_dir", "not_found", "forbidden", "invalid_move",
                                         "rev_mismatch", "missing_chunks", "bad_request" };
    static const long statuses[] = { 0, 200, 201, 400, 401, 403, 404, 408, 409, 412, 413,
                                     429, 500, 502, 503, 507 };
    uint64_t s = seed;

    for (int i = 0; i < rounds; i++) {
        struct plan_reply r = {
            .op = (enum plan_op)pick(&s, 4), .status = statuses[pick(&s, 16)],
            .code = codes[pick(&s, 12)], .names_place = (int)pick(&s, 2),
            .replaces = (int)pick(&s, 2), .existing_is_self = (int)pick(&s, 2),
            .missing_is_self = (int)pick(&s, 2), .has_work = (int)pick(&s, 2),
            .local_gone = (int)pick(&s, 2), .failures = (int)pick(&s, 10),
        };
        enum plan_verdict v = plan_answer(&r);
        int throttled = r.status == 401 || r.status == 408 || r.status == 429 ||
                        (r.op == PLAN_OP_UPLOAD && r.status == 409 &&
                         strcmp(r.code, "missing_chunks") == 0);
        if (r.status >= 400 && r.status < 500 && !throttled)
            CHECK(v != PLAN_RETRY);
        if (r.local_gone)
            CHECK(v != PLAN_RENAME && v != PLAN_REPARENT && v != PLAN_RECREATE &&
                  v != PLAN_RELOCATE);
        if (r.op == PLAN_OP_DELETE)
            CHECK(v == PLAN_DONE || v == PLAN_RETRY || v == PLAN_UNDELETE || v == PLAN_PARK);
        if (r.status >= 200 && r.status < 300)
            CHECK_EQ(v, PLAN_DONE);
    }
}

int main(int argc, char **argv)
{
    uint64_t seed = argc > 1 ? strtoull(argv[1], NULL, 0) : 0x5eed;
    int rounds = argc > 2 ? atoi(argv[2]) : 200000;

    test_reconcile_rules();
    test_reconcile_deleted_there();
    test_reconcile_absent_here();
    test_reconcile_content_apart();
    test_answers();
    test_server_errors_end();
    printf("plan_test: random states from seed %llu (replay: plan_test %llu %d)\n",
           (unsigned long long)seed, (unsigned long long)seed, rounds);
    test_random_states(seed, rounds);
    test_random_answers(seed, rounds);
    return unit_done();
}
