/* Status codes and the error message buffer shared by every module.
 *
 * Every fallible function returns a wf_status and, on failure, writes one line
 * into a caller-owned wf_err: what failed and what to do about it. The numeric
 * values are the process exit codes of SPEC section 8, so cmd/ can exit with
 * the status it got; a lower layer's code is never masked by a higher one. */
#ifndef WF2SQLITE_COMMON_H
#define WF2SQLITE_COMMON_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#define WF_API __attribute__((visibility("default")))
#define WF_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define WF_API
#define WF_PRINTF(a, b)
/* Milliseconds of the monotonic clock: the one clock for deadlines and
 * timings in the library and the tool. */
WF_API int64_t wf_clock_ms(void);

#endif

typedef enum wf_status {
	WF_OK = 0,
	WF_EINTERNAL = 1,      /* a bug or out of memory */
	WF_EUSAGE = 2,         /* bad arguments or configuration */
	WF_EAUTH = 3,          /* 401/403 */
	WF_ENOTFOUND = 4,      /* 404 */
	WF_EWORKFLOW = 5,      /* session errored/inactive, or errored cards */
	WF_ETIMEOUT = 6,       /* --timeout passed */
	WF_EDB = 7,            /* SQLite or the database file */
	WF_ENET = 8,           /* network or server error after retries */
	WF_EBADRESPONSE = 9,   /* unparseable or invalid response */
	WF_EINTERRUPTED = 130  /* SIGINT/SIGTERM */
} wf_status;

#define WF_ERR_MAX 2048

typedef struct wf_err {
	char msg[WF_ERR_MAX];
} wf_err;

/* A short constant name for a status ("database error"); never NULL. */
WF_API const char *wf_strerror(wf_status status);

/* Formats a message into err (if not NULL) and returns status, so a failure
 * reads `return wf_err_set(err, WF_EUSAGE, "...", ...);`. */
WF_API wf_status wf_err_set(wf_err *err, wf_status status, const char *fmt, ...)
	WF_PRINTF(3, 4);
WF_API wf_status wf_err_setv(wf_err *err, wf_status status, const char *fmt, va_list ap)
	WF_PRINTF(3, 0);

/* Prepends context ("loading result: ") to the message already in err. */
WF_API void wf_err_prefix(wf_err *err, const char *fmt, ...) WF_PRINTF(2, 3);

/* Milliseconds of the monotonic clock: the one clock for deadlines and
 * timings in the library and the tool. */
WF_API int64_t wf_clock_ms(void);

#endif
