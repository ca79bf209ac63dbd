/* feed: wakes long-poll requests when an event for their user commits.
 * Each user maps to a counter that writers bump after their transaction
 * commits. A waiter reads the counter before it looks in the store, then
 * sleeps until the counter moves: an event that commits between the look
 * and the sleep is never missed, and nothing polls on a timer. Counters are
 * hashed into buckets; a collision costs a spurious wake-up, never a lost
 * one. */
#ifndef DBX_FEED_H
#define DBX_FEED_H

#include <stddef.h>
#include <stdint.h>

typedef struct feed feed;

feed *feed_new(void);
void feed_free(feed *f);

uint64_t feed_counter(feed *f, uint32_t uid);
/* Sleeps until uid's counter differs from seen, the deadline passes
 * (CLOCK_MONOTONIC milliseconds) or the feed shuts down. 1 when woken by an
 * event, 0 at the deadline, -1 once the feed is shut down. */
int feed_wait(feed *f, uint32_t uid, uint64_t seen, int64_t deadline_ms);
void feed_notify(feed *f, const uint32_t *uids, size_t n);
void feed_notify_all(feed *f);
/* Wakes every waiter for good: the server is stopping. */
void feed_shutdown(feed *f);

int64_t feed_now_ms(void);

#endif
