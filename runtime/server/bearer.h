/*
 * bearer.h - the client key check of the emulator's and the local API
 * server's client routes (the OpenAI routes too).
 */
#ifndef RP_BEARER_H
#define RP_BEARER_H

/* Whether the Authorization header value auth (NULL: none) carries the
 * credentials "Bearer <key>" of bearer: the scheme compared without case
 * (RFC 9110), the key exactly. */
int rp_bearer_is(const char *auth, const char *bearer);

#endif
