/* fopencookie (glibc) for wf_progress_ui_stream. */
#define _GNU_SOURCE 1
#include "progress.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "wf2sqlite/session.h"
#include "wf2sqlite/text.h"

#define LIVE_MIN_INTERVAL_MS 100      /* at most 10 redraws a second */
#define PLAIN_LOAD_INTERVAL_MS 10000  /* load-phase lines without a TTY */
#define PLAIN_LOAD_INTERVAL_VERBOSE_MS 2000
#define RATE_MIN_MS 200               /* no rows/s before this much load time */
#define DEFAULT_COLUMNS 80
#define LINE_MAX_BYTES 1024
#define TICK_MS 1000                  /* the ticker's redraw period */

enum ui_mode { UI_OFF, UI_LIVE, UI_PLAIN };

/* The stages whose change is worth a line: the two transfer phases count as
 * one, since the waiter (bytes) and the loader (rows) alternate within it. */
enum ui_stage { ST_NONE, ST_STARTING, ST_WAITING, ST_TRANSFER, ST_DONE };

/* In live mode a ticker thread redraws the line once a second, so the
 * elapsed time moves while the caller is blocked in a long-poll. Everything
 * below `lock` is guarded by it; every write to err goes through it. */
struct wf_progress_ui {
	FILE *err;  /* borrowed */
	enum ui_mode mode;
	int verbose;
	int64_t (*now_ms)(void *ctx);
	void *clock_ctx;
	int fake_clock;  /* tests: no ticker */
	int64_t start_ms;
	int columns;  /* 0: ask the terminal */

	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_t ticker;
	int ticker_running, stopping;
	FILE *stream;  /* wf_progress_ui_stream's; owned */

	/* The merged state. */
	enum ui_stage stage;
	char status[64];
	int cards_done, cards_total;
	char card[160];
	int64_t rows, bytes;
	int64_t rows_start_ms, rows_at_start;  /* the first rows seen: the rate's origin */

	/* What was shown last. */
	char shown_key[512];
	int64_t last_draw_ms;
	int64_t last_plain_transfer_ms;
	int drawn;  /* a live line is on the screen */
	int shown;  /* it should be: updated since the last clear, not done */
};

static int64_t monotonic_ms(void *ctx)
{
	(void)ctx;
	return wf_clock_ms();
}

int wf_progress_ui_is_tty(FILE *f)
{
	const char *term = getenv("TERM");
	int fd = f ? fileno(f) : -1;
	if (fd < 0 || !isatty(fd))
		return 0;
	return term && *term && strcmp(term, "dumb") != 0;
}

wf_progress_ui *wf_progress_ui_new(FILE *err, int is_tty, int quiet, int verbose)
{
	pthread_condattr_t ca;
	wf_progress_ui *ui = calloc(1, sizeof(*ui));
	if (!ui)
		return NULL;
	if (pthread_condattr_init(&ca) != 0) {
		free(ui);
		return NULL;
	}
	/* The ticker's timed waits run on the clock the elapsed time uses. */
	if (pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0 ||
	    pthread_cond_init(&ui->wake, &ca) != 0) {
		pthread_condattr_destroy(&ca);
		free(ui);
		return NULL;
	}
	pthread_condattr_destroy(&ca);
	if (pthread_mutex_init(&ui->lock, NULL) != 0) {
		pthread_cond_destroy(&ui->wake);
		free(ui);
		return NULL;
	}
	ui->err = err;
	if (quiet || !err)
		ui->mode = UI_OFF;
	else if (is_tty && !verbose)
		ui->mode = UI_LIVE;
	else
		ui->mode = UI_PLAIN;
	ui->verbose = verbose;
	ui->now_ms = monotonic_ms;
	ui->start_ms = ui->now_ms(NULL);
	ui->stage = ST_NONE;
	ui->last_draw_ms = INT64_MIN / 2;
	return ui;
}

void wf_progress_ui_set_clock(wf_progress_ui *ui, int64_t (*now_ms)(void *ctx), void *ctx)
{
	if (!ui)
		return;
	pthread_mutex_lock(&ui->lock);
	ui->now_ms = now_ms ? now_ms : monotonic_ms;
	ui->clock_ctx = now_ms ? ctx : NULL;
	ui->fake_clock = now_ms != NULL;
	ui->start_ms = ui->now_ms(ui->clock_ctx);
	pthread_mutex_unlock(&ui->lock);
}

void wf_progress_ui_set_width(wf_progress_ui *ui, int columns)
{
	if (!ui)
		return;
	pthread_mutex_lock(&ui->lock);
	ui->columns = columns > 0 ? columns : 0;
	pthread_mutex_unlock(&ui->lock);
}

void wf_progress_format_elapsed(char *out, size_t size, int64_t ms)
{
	int64_t s = ms > 0 ? ms / 1000 : 0;
	if (s >= 3600)
		snprintf(out, size, "%lld:%02lld:%02lld", (long long)(s / 3600),
			 (long long)(s / 60 % 60), (long long)(s % 60));
	else
		snprintf(out, size, "%lld:%02lld", (long long)(s / 60), (long long)(s % 60));
}

void wf_progress_format_bytes(char *out, size_t size, int64_t bytes)
{
	static const char *const units[] = {"KiB", "MiB", "GiB", "TiB"};
	double v = (double)bytes;
	int u = -1;

	if (bytes < 1024) {
		snprintf(out, size, "%lld B", (long long)(bytes > 0 ? bytes : 0));
		return;
	}
	while (v >= 1024.0 && u < 3) {
		v /= 1024.0;
		u++;
	}
	snprintf(out, size, "%.1f %s", v, units[u]);
}

void wf_progress_format_count(char *out, size_t size, int64_t n)
{
	char digits[32];
	char grouped[48];
	size_t len, i, j = 0;
	int neg = n < 0;
	uint64_t u = neg ? (uint64_t)0 - (uint64_t)n : (uint64_t)n;

	snprintf(digits, sizeof(digits), "%llu", (unsigned long long)u);
	len = strlen(digits);
	if (neg)
		grouped[j++] = '-';
	for (i = 0; i < len; i++) {
		if (i > 0 && (len - i) % 3 == 0)
			grouped[j++] = ',';
		grouped[j++] = digits[i];
	}
	grouped[j] = '\0';
	snprintf(out, size, "%s", grouped);
}

/* Copies src into dst: control characters and invalid UTF-8 become '?'. */
static void copy_sanitized(char *dst, size_t size, const char *src)
{
	wf_text_safe(dst, size, src, strlen(src), WF_TEXT_QMARK);
}

/* Cuts line (valid UTF-8) to at most max_cols characters. */
static void cut_to_columns(char *line, int max_cols)
{
	int cols = 0;
	size_t i;

	for (i = 0; line[i]; i++) {
		if (((unsigned char)line[i] & 0xC0) == 0x80)
			continue;
		if (cols == max_cols) {
			line[i] = '\0';
			return;
		}
		cols++;
	}
}

static int terminal_columns(const wf_progress_ui *ui)
{
	struct winsize ws;
	int fd;

	if (ui->columns > 0)
		return ui->columns;
	fd = fileno(ui->err);
	if (fd >= 0 && ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	return DEFAULT_COLUMNS;
}

static enum ui_stage stage_of(wf_phase phase)
{
	switch (phase) {
	case WF_PHASE_STARTING: return ST_STARTING;
	case WF_PHASE_WAITING: return ST_WAITING;
	case WF_PHASE_DOWNLOADING:
	case WF_PHASE_LOADING: return ST_TRANSFER;
	case WF_PHASE_DONE: return ST_DONE;
	}
	return ST_WAITING;
}

static void merge(wf_progress_ui *ui, const wf_progress *p, int64_t now)
{
	enum ui_stage st = stage_of(p->phase);

	/* With --wait block the body streams (and loads) before the waiter
	 * confirms the session ended: that confirmation is not a new attempt,
	 * and the line must not go back from the load to "idle, cards 3/3". */
	if (st == ST_WAITING && ui->stage == ST_TRANSFER && p->session_status &&
	    wf_session_status_is_terminal(p->session_status))
		st = ST_TRANSFER;
	if (st == ST_STARTING || st == ST_WAITING) {
		ui->rows = 0;
		ui->bytes = 0;
	}
	ui->stage = st;
	if (p->session_status)
		copy_sanitized(ui->status, sizeof(ui->status), p->session_status);
	if (p->cards_total > 0) {
		ui->cards_done = p->cards_done;
		ui->cards_total = p->cards_total;
	}
	if (st == ST_WAITING) {
		if (p->current_card)
			copy_sanitized(ui->card, sizeof(ui->card), p->current_card);
		else
			ui->card[0] = '\0';
	}
	if (st == ST_TRANSFER) {
		if (p->rows > 0 && ui->rows <= 0) {
			ui->rows_start_ms = now;
			ui->rows_at_start = p->rows;
		}
		if (p->rows > 0)
			ui->rows = p->rows;
		if (p->bytes > 0)
			ui->bytes = p->bytes;
	}
}

/* The part of the state whose change is shown at once. */
static void state_key(const wf_progress_ui *ui, char *out, size_t size)
{
	/* The load line shows neither the status nor the cards. */
	if (ui->stage == ST_TRANSFER) {
		snprintf(out, size, "%d", (int)ui->stage);
		return;
	}
	snprintf(out, size, "%d|%s|%d/%d|%s", (int)ui->stage, ui->status, ui->cards_done,
		 ui->cards_total, ui->stage == ST_WAITING ? ui->card : "");
}

static void render(const wf_progress_ui *ui, int64_t now, char *line, size_t size)
{
	char elapsed[32], a[48], b[48], c[48];
	size_t n;

	wf_progress_format_elapsed(elapsed, sizeof(elapsed), now - ui->start_ms);
	n = (size_t)snprintf(line, size, "[%s] ", elapsed);
	if (n >= size)
		return;
	switch (ui->stage) {
	case ST_STARTING:
		snprintf(line + n, size - n, "starting the run");
		break;
	case ST_TRANSFER: {
		int64_t dt = now - ui->rows_start_ms;
		if (ui->rows <= 0) {
			wf_progress_format_bytes(a, sizeof(a), ui->bytes);
			snprintf(line + n, size - n, "downloading the result%s%s",
				 ui->bytes > 0 ? ", " : "", ui->bytes > 0 ? a : "");
			break;
		}
		wf_progress_format_count(a, sizeof(a), ui->rows);
		wf_progress_format_bytes(b, sizeof(b), ui->bytes);
		n += (size_t)snprintf(line + n, size - n, "loading, %s rows", a);
		if (n < size && ui->bytes > 0)
			n += (size_t)snprintf(line + n, size - n, ", %s", b);
		if (n < size && dt >= RATE_MIN_MS) {
			wf_progress_format_count(c, sizeof(c),
						 (ui->rows - ui->rows_at_start) * 1000 / dt);
			snprintf(line + n, size - n, ", %s rows/s", c);
		}
		break;
	}
	case ST_DONE:
		snprintf(line + n, size - n, "done");
		break;
	case ST_NONE:
	case ST_WAITING:
	default:
		n += (size_t)snprintf(line + n, size - n, "%s",
				      ui->status[0] ? ui->status : "waiting for the session");
		if (n < size && ui->cards_total > 0)
			n += (size_t)snprintf(line + n, size - n, ", cards %d/%d", ui->cards_done,
					      ui->cards_total);
		if (n < size && ui->card[0])
			snprintf(line + n, size - n, ", at card %s", ui->card);
		break;
	}
}

/* Erases the live line; the caller holds the lock. */
static void erase_locked(wf_progress_ui *ui)
{
	if (!ui->drawn)
		return;
	fputs("\r\033[K", ui->err);
	fflush(ui->err);
	ui->drawn = 0;
}

void wf_progress_ui_clear(wf_progress_ui *ui)
{
	if (!ui || ui->mode != UI_LIVE)
		return;
	pthread_mutex_lock(&ui->lock);
	erase_locked(ui);
	ui->shown = 0;
	pthread_mutex_unlock(&ui->lock);
}

static void draw_live(wf_progress_ui *ui, int64_t now)
{
	char line[LINE_MAX_BYTES];
	int cols = terminal_columns(ui);

	render(ui, now, line, sizeof(line));
	/* One column short of the edge: some terminals wrap on the last one. */
	cut_to_columns(line, cols > 1 ? cols - 1 : 1);
	fprintf(ui->err, "\r\033[K%s", line);
	fflush(ui->err);
	ui->drawn = 1;
	ui->last_draw_ms = now;
}

static void draw_plain(wf_progress_ui *ui, int64_t now)
{
	char line[LINE_MAX_BYTES];

	render(ui, now, line, sizeof(line));
	fprintf(ui->err, "wf2sqlite: %s\n", line);
	fflush(ui->err);
	ui->last_draw_ms = now;
}

static void *ticker_main(void *arg)
{
	wf_progress_ui *ui = arg;

	pthread_mutex_lock(&ui->lock);
	while (!ui->stopping) {
		struct timespec until;
		int64_t now;
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += TICK_MS / 1000;
		while (!ui->stopping &&
		       pthread_cond_timedwait(&ui->wake, &ui->lock, &until) == 0)
			;
		if (ui->stopping)
			break;
		now = ui->now_ms(ui->clock_ctx);
		if (ui->shown && ui->stage != ST_DONE && now - ui->last_draw_ms >= TICK_MS / 2)
			draw_live(ui, now);
	}
	pthread_mutex_unlock(&ui->lock);
	return NULL;
}

/* Starts the ticker with every signal blocked in it, so that SIGINT and
 * SIGTERM reach the main thread. The caller holds the lock. Without a
 * ticker the line is still drawn at each update. */
static void start_ticker_locked(wf_progress_ui *ui)
{
	sigset_t all, old;

	if (ui->ticker_running || ui->fake_clock || ui->mode != UI_LIVE)
		return;
	sigfillset(&all);
	if (pthread_sigmask(SIG_SETMASK, &all, &old) != 0)
		return;
	if (pthread_create(&ui->ticker, NULL, ticker_main, ui) == 0)
		ui->ticker_running = 1;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

void wf_progress_ui_update(void *ctx, const wf_progress *p)
{
	wf_progress_ui *ui = ctx;
	char key[sizeof(ui->shown_key)];
	int changed;
	int64_t now;

	if (!ui || !p || ui->mode == UI_OFF)
		return;
	pthread_mutex_lock(&ui->lock);
	now = ui->now_ms(ui->clock_ctx);
	merge(ui, p, now);
	state_key(ui, key, sizeof(key));
	changed = strcmp(key, ui->shown_key) != 0;
	memcpy(ui->shown_key, key, sizeof(key));

	if (ui->stage == ST_DONE) {
		erase_locked(ui);
		ui->shown = 0;
	} else if (ui->mode == UI_LIVE) {
		ui->shown = 1;
		if (changed || !ui->drawn || now - ui->last_draw_ms >= LIVE_MIN_INTERVAL_MS)
			draw_live(ui, now);
		start_ticker_locked(ui);
	} else if (changed) {
		draw_plain(ui, now);
		ui->last_plain_transfer_ms = now;
	} else if (ui->stage == ST_TRANSFER &&
		   now - ui->last_plain_transfer_ms >= (ui->verbose ? PLAIN_LOAD_INTERVAL_VERBOSE_MS
								    : PLAIN_LOAD_INTERVAL_MS)) {
		draw_plain(ui, now);
		ui->last_plain_transfer_ms = now;
	}
	pthread_mutex_unlock(&ui->lock);
}

/* The stream's writes erase the live line first; the ticker or the next
 * update draws it again below what was written. */
static ssize_t stream_write(void *cookie, const char *buf, size_t n)
{
	wf_progress_ui *ui = cookie;
	size_t done;

	pthread_mutex_lock(&ui->lock);
	erase_locked(ui);
	done = fwrite(buf, 1, n, ui->err);
	fflush(ui->err);
	pthread_mutex_unlock(&ui->lock);
	return done == 0 && n > 0 ? -1 : (ssize_t)done;
}

FILE *wf_progress_ui_stream(wf_progress_ui *ui)
{
	cookie_io_functions_t fns = {NULL, stream_write, NULL, NULL};

	if (!ui)
		return NULL;
	if (ui->mode != UI_LIVE)
		return ui->err;
	if (!ui->stream) {
		ui->stream = fopencookie(ui, "w", fns);
		if (!ui->stream)
			return ui->err;
		setvbuf(ui->stream, NULL, _IOLBF, 0);
	}
	return ui->stream;
}

void wf_progress_ui_free(wf_progress_ui *ui)
{
	if (!ui)
		return;
	pthread_mutex_lock(&ui->lock);
	ui->stopping = 1;
	pthread_cond_broadcast(&ui->wake);
	pthread_mutex_unlock(&ui->lock);
	if (ui->ticker_running)
		pthread_join(ui->ticker, NULL);
	if (ui->stream)
		fclose(ui->stream);  /* flushes through stream_write */
	wf_progress_ui_clear(ui);
	pthread_mutex_destroy(&ui->lock);
	pthread_cond_destroy(&ui->wake);
	free(ui);
}
