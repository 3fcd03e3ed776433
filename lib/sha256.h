/* Internal to lib/: SHA-256 as hex (sha256.c). */
#ifndef WF2SQLITE_SHA256_H
#define WF2SQLITE_SHA256_H

#include <stddef.h>

/* out: 64 lowercase hex digits and a NUL. */
void wf_sha256_hex(const void *data, size_t len, char out[65]);

#endif
