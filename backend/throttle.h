/* throttle: counts failed logins per client address in one-minute windows
 * and refuses further tries past the limit, so a password cannot be
 * guessed at the speed of the hardware. Per address, not per account:
 * otherwise anyone could lock a user out by failing on purpose. Addresses
 * hash into a fixed table; a collision makes two clients share a budget,
 * and memory stays constant whatever the traffic. */
#ifndef DBX_THROTTLE_H
#define DBX_THROTTLE_H

#include <stdint.h>
#include <sys/socket.h>

typedef struct throttle throttle;

throttle *throttle_new(unsigned per_minute);
void throttle_free(throttle *t);

/* 1 when this address may try again now. */
int throttle_allow(throttle *t, const struct sockaddr *addr);
void throttle_failed(throttle *t, const struct sockaddr *addr);

#endif
