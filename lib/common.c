#include "wf2sqlite/common.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

const char *wf_strerror(wf_status status)
{
	switch (status) {
	case WF_OK: return "ok";
	case WF_EINTERNAL: return "internal error";
	case WF_EUSAGE: return "usage error";
	case WF_EAUTH: return "authentication refused";
	case WF_ENOTFOUND: return "not found";
	case WF_EWORKFLOW: return "workflow failed";
	case WF_ETIMEOUT: return "timed out";
	case WF_EDB: return "database error";
	case WF_ENET: return "network error";
	case WF_EBADRESPONSE: return "bad response";
	case WF_EINTERRUPTED: return "interrupted";
	}
	return "unknown error";
}

wf_status wf_err_setv(wf_err *err, wf_status status, const char *fmt, va_list ap)
{
	if (err)
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	return status;
}

wf_status wf_err_set(wf_err *err, wf_status status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	wf_err_setv(err, status, fmt, ap);
	va_end(ap);
	return status;
}

void wf_err_prefix(wf_err *err, const char *fmt, ...)
{
	char prefix[512];
	char old[WF_ERR_MAX];
	va_list ap;

	if (!err)
		return;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	size_t plen;

	memcpy(old, err->msg, sizeof(old));
	old[sizeof(old) - 1] = '\0';
	plen = strlen(prefix);
	if (plen >= sizeof(err->msg))
		plen = sizeof(err->msg) - 1;
	memcpy(err->msg, prefix, plen);
	/* Truncation is acceptable: a long message keeps its head. */
	memcpy(err->msg + plen, old, sizeof(err->msg) - plen - 1);
	err->msg[sizeof(err->msg) - 1] = '\0';
}

int64_t wf_clock_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
