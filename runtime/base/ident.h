/*
 * ident.h - who this worker is: its worker id (RUNPOD_POD_ID, or a random
 * version-4 UUID made once per process) and its host name
 * (RUNPOD_POD_HOSTNAME, else the machine's). Thread-safe once
 * rp_ident_set() has been called.
 */
#ifndef RP_IDENT_H
#define RP_IDENT_H

#include <stddef.h>

/* Sets the pod id and host name read from the environment (settings.h);
 * NULL or "" for unset. Call once at start, before any thread and before
 * rp_worker_id(). The strings are copied. */
void rp_ident_set(const char *id, const char *hostname);

/* Borrowed: valid for the life of the process. */
const char *rp_worker_id(void);

/* Writes a random version-4 UUID (36 characters and a NUL) to out.
 * Returns RP_OK, or RP_EIO with the message in err. */
int rp_uuid4(char out[37], char *err, size_t errlen);

/* Writes the host name into buf (always terminated). */
void rp_hostname(char *buf, unsigned long len);

#endif
