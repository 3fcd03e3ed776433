/* The progress display (cmd/progress.c) rendered into a memory stream with a
 * fake clock, in both the TTY (live line) and the plain (one line per change)
 * modes. */
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "t.h"
#include "progress.h"

typedef struct cap {
	FILE *f;
	char *buf;
	size_t len;
	int64_t now;
	wf_progress_ui *ui;
} cap;

static int64_t fake_now(void *ctx)
{
	return ((cap *)ctx)->now;
}

static void cap_open(cap *c, int tty, int quiet, int verbose, int width)
{
	memset(c, 0, sizeof(*c));
	c->f = open_memstream(&c->buf, &c->len);
	c->now = 1000000;
	c->ui = wf_progress_ui_new(c->f, tty, quiet, verbose);
	wf_progress_ui_set_clock(c->ui, fake_now, c);
	wf_progress_ui_set_width(c->ui, width);
}

/* Everything written so far; the caller frees it. */
static char *cap_text(cap *c)
{
	fflush(c->f);
	return strdup(c->buf ? c->buf : "");
}

static void cap_close(cap *c)
{
	wf_progress_ui_free(c->ui);
	fclose(c->f);
	free(c->buf);
}

static int count_of(const char *hay, const char *needle)
{
	int n = 0;
	const char *p = hay;
	while ((p = strstr(p, needle)) != NULL) {
		n++;
		p += strlen(needle);
	}
	return n;
}

static void waiting(cap *c, const char *status, int done, int total, const char *card)
{
	wf_progress p = {WF_PHASE_WAITING, status, done, total, card, 0, 0};
	wf_progress_ui_update(c->ui, &p);
}

static void transfer(cap *c, wf_phase phase, int64_t rows, int64_t bytes)
{
	wf_progress p = {phase, NULL, 0, 0, NULL, rows, bytes};
	wf_progress_ui_update(c->ui, &p);
}

static void formats_elapsed_bytes_and_counts(void)
{
	char b[64];
	wf_progress_format_elapsed(b, sizeof(b), 7400);
	T_CHECK_STR(b, "0:07");
	wf_progress_format_elapsed(b, sizeof(b), 723000);
	T_CHECK_STR(b, "12:03");
	wf_progress_format_elapsed(b, sizeof(b), 3723000);
	T_CHECK_STR(b, "1:02:03");
	wf_progress_format_bytes(b, sizeof(b), 512);
	T_CHECK_STR(b, "512 B");
	wf_progress_format_bytes(b, sizeof(b), 1536);
	T_CHECK_STR(b, "1.5 KiB");
	wf_progress_format_bytes(b, sizeof(b), 19293798);
	T_CHECK_STR(b, "18.4 MiB");
	wf_progress_format_count(b, sizeof(b), 1234567);
	T_CHECK_STR(b, "1,234,567");
	wf_progress_format_count(b, sizeof(b), 999);
	T_CHECK_STR(b, "999");
	wf_progress_format_count(b, sizeof(b), -1000);
	T_CHECK_STR(b, "-1,000");
}

static void tty_line_shows_status_cards_card_and_elapsed(void)
{
	cap c;
	char *t;
	cap_open(&c, 1, 0, 0, 200);
	c.now += 12000;
	waiting(&c, "processing", 2, 5, "summarize");
	t = cap_text(&c);
	T_CHECK_STR(t, "\r\033[K[0:12] processing, cards 2/5, at card summarize");
	free(t);
	cap_close(&c);
}

static void tty_redraws_in_place_at_most_ten_times_a_second(void)
{
	cap c;
	char *t;
	int i;
	cap_open(&c, 1, 0, 0, 200);
	waiting(&c, "processing", 1, 3, "a");
	/* 50 identical updates 10 ms apart: 0.5 s, so about 5 redraws. */
	for (i = 0; i < 50; i++) {
		c.now += 10;
		waiting(&c, "processing", 1, 3, "a");
	}
	t = cap_text(&c);
	T_CHECK(count_of(t, "\r\033[K") >= 5 && count_of(t, "\r\033[K") <= 6);
	T_CHECK(strchr(t, '\n') == NULL);
	free(t);
	cap_close(&c);
}

static void tty_redraws_at_once_when_the_card_changes(void)
{
	cap c;
	char *t;
	cap_open(&c, 1, 0, 0, 200);
	waiting(&c, "processing", 1, 3, "first");
	c.now += 1;
	waiting(&c, "processing", 2, 3, "second");
	t = cap_text(&c);
	T_CHECK(count_of(t, "\r\033[K") == 2);
	T_CHECK(strstr(t, "cards 2/3, at card second") != NULL);
	free(t);
	cap_close(&c);
}

static void tty_line_is_cut_to_the_terminal_width(void)
{
	cap c;
	char *t;
	const char *line;
	cap_open(&c, 1, 0, 0, 30);
	waiting(&c, "processing", 2, 5, "a-card-with-a-very-long-name-indeed");
	t = cap_text(&c);
	line = strstr(t, "[0:00]");
	T_CHECK(line != NULL);
	T_CHECK(line && strlen(line) == 29);
	free(t);
	cap_close(&c);
}

static void tty_cut_never_splits_a_utf8_character(void)
{
	cap c;
	char *t;
	const char *line;
	cap_open(&c, 1, 0, 0, 20);
	/* 19 columns fit: "[0:00] " (7), "abcdefghijk" (11), then one of the two
	 * two-byte characters. */
	waiting(&c, "abcdefghijk\xc3\xa9\xc3\xa9", 0, 0, NULL);
	t = cap_text(&c);
	line = strstr(t, "[0:00]");
	T_CHECK(line && strcmp(line, "[0:00] abcdefghijk\xc3\xa9") == 0);
	free(t);
	cap_close(&c);
}

static void tty_clear_erases_the_line_and_next_update_redraws(void)
{
	cap c;
	char *t;
	size_t before;
	cap_open(&c, 1, 0, 0, 200);
	waiting(&c, "processing", 0, 2, NULL);
	wf_progress_ui_clear(c.ui);
	t = cap_text(&c);
	before = strlen(t);
	T_CHECK(before >= 4 && strcmp(t + before - 4, "\r\033[K") == 0);
	free(t);
	/* A second clear writes nothing: the line is gone already. */
	wf_progress_ui_clear(c.ui);
	c.now += 1;
	waiting(&c, "processing", 0, 2, NULL);
	t = cap_text(&c);
	T_CHECK(strlen(t) > before);
	T_CHECK(count_of(t, "\r\033[K") == 3);
	free(t);
	cap_close(&c);
}

static void tty_done_clears_the_line(void)
{
	cap c;
	char *t;
	wf_progress done = {WF_PHASE_DONE, NULL, 0, 0, NULL, 0, 0};
	cap_open(&c, 1, 0, 0, 200);
	transfer(&c, WF_PHASE_LOADING, 10, 100);
	wf_progress_ui_update(c.ui, &done);
	t = cap_text(&c);
	T_CHECK(strlen(t) >= 4 && strcmp(t + strlen(t) - 4, "\r\033[K") == 0);
	free(t);
	cap_close(&c);
}

static void tty_load_phase_shows_rows_bytes_and_rate(void)
{
	cap c;
	char *t;
	cap_open(&c, 1, 0, 0, 200);
	c.now += 3000;
	transfer(&c, WF_PHASE_DOWNLOADING, 0, 2048);
	c.now += 2000;
	/* The waiter knows bytes, the loader rows: both stay on the line. */
	transfer(&c, WF_PHASE_DOWNLOADING, 0, 19293798);
	transfer(&c, WF_PHASE_LOADING, 120000, 0);
	c.now += 100;
	transfer(&c, WF_PHASE_LOADING, 130000, 0);
	c.now += 100;
	/* The rate counts from the first rows seen: 30,000 rows in 0.2 s. */
	transfer(&c, WF_PHASE_LOADING, 150000, 0);
	t = cap_text(&c);
	T_CHECK(strstr(t, "[0:03] downloading the result, 2.0 KiB") != NULL);
	/* No rate before 0.2 s of rows. */
	T_CHECK(strstr(t, "[0:05] loading, 130,000 rows, 18.4 MiB\r") != NULL);
	T_CHECK(strstr(t, "[0:05] loading, 150,000 rows, 18.4 MiB, 150,000 rows/s") != NULL);
	free(t);
	cap_close(&c);
}

static void tty_new_attempt_forgets_rows_and_bytes(void)
{
	cap c;
	char *t;
	cap_open(&c, 1, 0, 0, 200);
	transfer(&c, WF_PHASE_LOADING, 500, 4096);
	waiting(&c, "processing", 3, 3, NULL);
	c.now += 1000;
	transfer(&c, WF_PHASE_DOWNLOADING, 0, 0);
	t = cap_text(&c);
	T_CHECK(strstr(t, "[0:01] downloading the result") != NULL);
	T_CHECK(strstr(strstr(t, "[0:01]"), "rows") == NULL);
	free(t);
	cap_close(&c);
}

/* --wait block: the body loads, then the waiter confirms the session is idle.
 * The line must not go back from the load to "idle, cards 3/3". */
static void tty_terminal_status_after_the_load_began_keeps_the_load_line(void)
{
	cap c;
	char *t, *last;
	cap_open(&c, 1, 0, 0, 200);
	waiting(&c, "processing", 2, 3, "c");
	c.now += 1000;
	transfer(&c, WF_PHASE_LOADING, 201060, 4096);
	c.now += 1000;
	waiting(&c, "idle", 3, 3, NULL);
	c.now += 1000;
	transfer(&c, WF_PHASE_LOADING, 300000, 8192);
	t = cap_text(&c);
	last = strrchr(t, '\r');
	T_CHECK(last != NULL && strstr(last, "loading, 300,000 rows") != NULL);
	T_CHECK(strstr(t, "idle") == NULL);
	free(t);
	cap_close(&c);
}

static void plain_terminal_status_after_the_load_began_prints_no_line(void)
{
	cap c;
	char *t;
	cap_open(&c, 0, 0, 0, 200);
	waiting(&c, "processing", 2, 3, "c");
	transfer(&c, WF_PHASE_LOADING, 201060, 4096);
	waiting(&c, "idle", 3, 3, NULL);
	t = cap_text(&c);
	T_CHECK(strstr(t, "idle") == NULL);
	T_CHECK(count_of(t, "wf2sqlite: [") == 2);
	T_CHECK(strstr(t, "wf2sqlite: [0:00] loading, 201,060 rows") != NULL);
	free(t);
	/* A non-terminal status is a new attempt: shown, as before. */
	waiting(&c, "processing", 2, 3, "c");
	t = cap_text(&c);
	T_CHECK(strstr(t, "wf2sqlite: [0:00] processing, cards 2/3, at card c\n"
			  "wf2sqlite: [0:00] loading") != NULL);
	T_CHECK(count_of(t, "processing") == 2);
	free(t);
	cap_close(&c);
}

static void server_text_cannot_drive_the_terminal(void)
{
	cap c;
	char *t;
	cap_open(&c, 1, 0, 0, 200);
	waiting(&c, "proc\033]0;pwned\007essing", 1, 2, "card\r\n\xc2\x9b" "31m\xff");
	t = cap_text(&c);
	/* Only the one erase sequence: no ESC, BEL, CR, LF, C1 CSI or bad UTF-8 from the server. */
	T_CHECK(count_of(t, "\033") == 1);
	T_CHECK(strchr(t, '\007') == NULL);
	T_CHECK(count_of(t, "\r") == 1);
	T_CHECK(strchr(t, '\n') == NULL);
	T_CHECK(strstr(t, "\xc2\x9b") == NULL);
	T_CHECK(strstr(t, "\xff") == NULL);
	T_CHECK(strstr(t, "proc?]0;pwned?essing, cards 1/2, at card card????31m?") != NULL);
	free(t);
	cap_close(&c);
}

static void plain_prints_one_line_per_change(void)
{
	cap c;
	char *t;
	int i;
	cap_open(&c, 0, 0, 0, 0);
	waiting(&c, "pending_work", 0, 3, NULL);
	for (i = 0; i < 20; i++) {
		c.now += 500;
		waiting(&c, "processing", 1, 3, "extract");
	}
	c.now += 500;
	waiting(&c, "processing", 2, 3, "summarize");
	t = cap_text(&c);
	T_CHECK_STR(t, "wf2sqlite: [0:00] pending_work, cards 0/3\n"
		       "wf2sqlite: [0:00] processing, cards 1/3, at card extract\n"
		       "wf2sqlite: [0:10] processing, cards 2/3, at card summarize\n");
	T_CHECK(strchr(t, '\r') == NULL && strchr(t, '\033') == NULL);
	free(t);
	cap_close(&c);
}

static void plain_load_phase_prints_at_most_every_ten_seconds(void)
{
	cap c;
	char *t;
	int i;
	cap_open(&c, 0, 0, 0, 0);
	waiting(&c, "idle", 3, 3, NULL);
	/* 25 s of rows, an update every 100 ms: start line + 2 more. */
	for (i = 1; i <= 250; i++) {
		c.now += 100;
		transfer(&c, WF_PHASE_LOADING, i * 1000, i * 100000);
	}
	t = cap_text(&c);
	T_CHECK(count_of(t, "\n") == 4);
	T_CHECK(count_of(t, "rows/s") == 2);
	T_CHECK(strstr(t, "wf2sqlite: [0:10] loading, 101,000 rows,") != NULL);
	free(t);
	cap_close(&c);
}

static void verbose_uses_plain_lines_every_two_seconds_in_load(void)
{
	cap c;
	char *t;
	int i;
	cap_open(&c, 1, 0, 1, 0);
	for (i = 1; i <= 100; i++) {
		c.now += 100;
		transfer(&c, WF_PHASE_LOADING, i, i);
	}
	t = cap_text(&c);
	T_CHECK(strchr(t, '\r') == NULL);
	T_CHECK(count_of(t, "\n") == 5);
	free(t);
	cap_close(&c);
}

static void quiet_prints_nothing(void)
{
	cap c;
	char *t;
	cap_open(&c, 1, 1, 0, 80);
	waiting(&c, "processing", 1, 2, "x");
	transfer(&c, WF_PHASE_LOADING, 10, 10);
	wf_progress_ui_clear(c.ui);
	t = cap_text(&c);
	T_CHECK_STR(t, "");
	free(t);
	cap_close(&c);
}

static void stream_erases_the_line_before_a_warning(void)
{
	cap c;
	char *t;
	FILE *w;
	cap_open(&c, 1, 0, 0, 200);
	waiting(&c, "processing", 0, 0, NULL);
	w = wf_progress_ui_stream(c.ui);
	T_CHECK(w != NULL && w != c.f);
	fprintf(w, "wf2sqlite: warning: %s\n", "column x added");
	c.now += 1;
	waiting(&c, "processing", 0, 0, NULL);
	t = cap_text(&c);
	T_CHECK_STR(t, "\r\033[K[0:00] processing"
		       "\r\033[Kwf2sqlite: warning: column x added\n"
		       "\r\033[K[0:00] processing");
	free(t);
	cap_close(&c);
}

static void stream_is_err_itself_without_a_tty(void)
{
	cap c;
	cap_open(&c, 0, 0, 0, 0);
	T_CHECK(wf_progress_ui_stream(c.ui) == c.f);
	T_CHECK(wf_progress_ui_stream(NULL) == NULL);
	cap_close(&c);
}

/* The real clock and the ticker thread: with no update for 2.6 s, the line
 * still shows the elapsed time moving. */
static void ticker_redraws_every_second_without_updates(void)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	wf_progress_ui *ui = wf_progress_ui_new(f, 1, 0, 0);
	wf_progress p = {WF_PHASE_WAITING, "processing", 1, 2, "slow_card", 0, 0};
	struct timespec ts = {2, 600000000};

	wf_progress_ui_set_width(ui, 200);
	wf_progress_ui_update(ui, &p);
	nanosleep(&ts, NULL);
	wf_progress_ui_free(ui);  /* joins the ticker, then erases */
	fclose(f);
	T_CHECK(strstr(buf, "\r\033[K[0:00] processing, cards 1/2, at card slow_card") != NULL);
	T_CHECK(strstr(buf, "\r\033[K[0:01] processing, cards 1/2, at card slow_card") != NULL);
	T_CHECK(strstr(buf, "\r\033[K[0:02] processing, cards 1/2, at card slow_card") != NULL);
	T_CHECK(len >= 4 && strcmp(buf + len - 4, "\r\033[K") == 0);
	free(buf);
}

static void no_ticker_without_a_tty(void)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	wf_progress_ui *ui = wf_progress_ui_new(f, 0, 0, 0);
	wf_progress p = {WF_PHASE_WAITING, "processing", 1, 2, NULL, 0, 0};
	struct timespec ts = {1, 200000000};

	wf_progress_ui_update(ui, &p);
	nanosleep(&ts, NULL);
	wf_progress_ui_free(ui);
	fclose(f);
	T_CHECK_STR(buf, "wf2sqlite: [0:00] processing, cards 1/2\n");
	free(buf);
}

static void null_ui_is_accepted(void)
{
	wf_progress p = {WF_PHASE_WAITING, "processing", 0, 0, NULL, 0, 0};
	wf_progress_ui_update(NULL, &p);
	wf_progress_ui_clear(NULL);
	wf_progress_ui_free(NULL);
	T_CHECK(wf_progress_ui_is_tty(NULL) == 0);
}

static void memstream_is_not_a_tty(void)
{
	cap c;
	cap_open(&c, 0, 0, 0, 0);
	T_CHECK(wf_progress_ui_is_tty(c.f) == 0);
	cap_close(&c);
}

int main(void)
{
	T_RUN(formats_elapsed_bytes_and_counts);
	T_RUN(tty_line_shows_status_cards_card_and_elapsed);
	T_RUN(tty_redraws_in_place_at_most_ten_times_a_second);
	T_RUN(tty_redraws_at_once_when_the_card_changes);
	T_RUN(tty_line_is_cut_to_the_terminal_width);
	T_RUN(tty_cut_never_splits_a_utf8_character);
	T_RUN(tty_clear_erases_the_line_and_next_update_redraws);
	T_RUN(tty_done_clears_the_line);
	T_RUN(tty_load_phase_shows_rows_bytes_and_rate);
	T_RUN(tty_new_attempt_forgets_rows_and_bytes);
	T_RUN(tty_terminal_status_after_the_load_began_keeps_the_load_line);
	T_RUN(plain_terminal_status_after_the_load_began_prints_no_line);
	T_RUN(server_text_cannot_drive_the_terminal);
	T_RUN(plain_prints_one_line_per_change);
	T_RUN(plain_load_phase_prints_at_most_every_ten_seconds);
	T_RUN(verbose_uses_plain_lines_every_two_seconds_in_load);
	T_RUN(quiet_prints_nothing);
	T_RUN(stream_erases_the_line_before_a_warning);
	T_RUN(stream_is_err_itself_without_a_tty);
	T_RUN(ticker_redraws_every_second_without_updates);
	T_RUN(no_ticker_without_a_tty);
	T_RUN(null_ui_is_accepted);
	T_RUN(memstream_is_not_a_tty);
	return t_done();
}
