/* apply: the kernel notifications a change of the local tree needs,
 * collected under fs->lock and sent after it (see apply.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apply.h"

void apply_note(struct apply_notes *notes, int kind, uint64_t parent,
                uint64_t id, const char *name)
{
    if (notes->n == notes->cap) {
        size_t cap = notes->cap ? notes->cap * 2 : 16;
        struct apply_note *v = realloc(notes->v, cap * sizeof(*v));
        if (!v)
            return;   /* a missed notification only delays what the kernel shows */
        notes->v = v;
        notes->cap = cap;
    }
    notes->v[notes->n] = (struct apply_note){ kind, parent, id, "" };
    if (name)
        snprintf(notes->v[notes->n].name, 256, "%s", name);
    notes->n++;
}

void apply_notes_send(struct dbxfs *fs, struct apply_notes *notes)
{
    for (size_t i = 0; i < notes->n; i++) {
        struct apply_note *a = &notes->v[i];
        switch (a->kind) {
        case APPLY_INVAL_ENTRY: fs_inval_entry(fs, a->parent, a->name); break;
        case APPLY_INVAL_INODE: fs_inval_inode(fs, a->id, 0); break;
        case APPLY_INVAL_DATA: fs_inval_inode(fs, a->id, 1); break;
        case APPLY_DELETE: fs_notify_delete(fs, a->parent, a->id, a->name); break;
        }
    }
    free(notes->v);
    memset(notes, 0, sizeof(*notes));
}

struct async_notes {
    struct dbxfs *fs;
    struct apply_notes notes;
};

static void *send_later(void *arg)
{
    struct async_notes *a = arg;
    struct dbxfs *fs = a->fs;

    apply_notes_send(fs, &a->notes);
    free(a);
    atomic_fetch_sub(&fs->notifiers, 1);
    return NULL;
}

void apply_notes_send_async(struct dbxfs *fs, struct apply_notes *notes)
{
    struct async_notes *a;
    pthread_attr_t attr;
    pthread_t t;

    if (notes->n == 0 || !(a = malloc(sizeof(*a)))) {
        apply_notes_send(fs, notes);   /* nothing to send, or best effort */
        return;
    }
    a->fs = fs;
    a->notes = *notes;
    memset(notes, 0, sizeof(*notes));
    atomic_fetch_add(&fs->notifiers, 1);
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &attr, send_later, a)) {
        /* Without a thread, dropping the notes is safer than a deadlock:
         * the kernel's caches then expire on their timeouts. */
        free(a->notes.v);
        free(a);
        atomic_fetch_sub(&fs->notifiers, 1);
    }
    pthread_attr_destroy(&attr);
}

void apply_notes_drain(struct dbxfs *fs)
{
    while (atomic_load(&fs->notifiers) > 0)
        usleep(10000);
}
