/* Keeping the raw result body (SPEC 3, --save-result) and reading it back
 * (load of a .gz file).
 *
 * wf_save is a tee: a wf_result_consumer that hands every byte to an inner
 * consumer (the loader) and writes the same bytes to a temporary file beside
 * the destination, gzip-compressed when the destination's name ends in ".gz".
 * Each attempt (reset) starts the file anew, a non-final body is discarded,
 * and only when the final body is finished whole (finish(final = 1) and the
 * inner consumer accepted it) is the file synced and renamed onto the
 * destination: the file holds exactly the final body, byte for byte as
 * received (after content decoding), or is left as it was. The body is never
 * held in memory: a fixed buffer of about 64 KiB (plus zlib's state).
 *
 * wf_inflate is the reverse for `load`: a consumer that un-gzips what it is
 * written and hands the bytes on (concatenated gzip members are read one
 * after the other, as gzip -d does). */
#ifndef WF2SQLITE_SAVE_H
#define WF2SQLITE_SAVE_H

#include <stddef.h>
#include <stdint.h>

#include "result.h"

typedef struct wf_save wf_save;

/* A tee to inner (borrowed; must outlive the wf_save) and to a temporary
 * file in path's folder (created now, so a folder that does not exist or
 * cannot be written is reported before any run starts: WF_EUSAGE naming
 * path). *out is the caller's (wf_save_free). */
WF_API wf_status wf_save_new(wf_save **out, const char *path, const wf_result_consumer *inner,
			     wf_err *err);

/* The consumer to hand to the waiter (borrowed from s). Its errors: the
 * inner consumer's as they are; writing the file fails with WF_EUSAGE naming
 * the file and the system's reason (e.g. the disk is full). */
WF_API const wf_result_consumer *wf_save_consumer(wf_save *s);

/* 1 once the final body was written to path (renamed into place). */
WF_API int wf_save_done(const wf_save *s);

/* The destination (borrowed from s). */
WF_API const char *wf_save_path(const wf_save *s);

/* Removes the temporary file unless the body was saved, then frees.
 * Accepts NULL. */
WF_API void wf_save_free(wf_save *s);

/* Checks before a run starts that wf_save_new(path) will succeed: path is
 * not a folder and a file can be created in its folder (one is created and
 * removed). WF_EUSAGE naming path otherwise. */
WF_API wf_status wf_save_check(const char *path, wf_err *err);

/* The file of one run in a --save-result folder: "<dir>/<run_id>.json.gz",
 * malloc'd (caller frees), NULL when out of memory. */
WF_API char *wf_save_run_path(const char *dir, int64_t run_id);

/* 1 when name ends in ".gz" (any case): --save-result compresses. */
WF_API int wf_save_name_is_gzip(const char *name);

/* 1 when the first bytes are gzip's magic (1f 8b); n may be short. */
WF_API int wf_is_gzip(const void *p, size_t n);

typedef struct wf_inflate wf_inflate;

/* A consumer that un-gzips into next (borrowed). A broken or cut gzip stream, or bytes
 * after it that are not another gzip member, fail with WF_EBADRESPONSE.
 * *out is the caller's (wf_inflate_free). */
WF_API wf_status wf_inflate_new(wf_inflate **out, const wf_result_consumer *next, wf_err *err);
WF_API const wf_result_consumer *wf_inflate_consumer(wf_inflate *z);
WF_API void wf_inflate_free(wf_inflate *z);

#endif
