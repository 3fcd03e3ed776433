#include "t.h"
#include "wf2sqlite/text.h"

static void utf8_len_checks_well_formed_sequences(void)
{
	const unsigned char e_acute[] = {0xC3, 0xA9}, euro[] = {0xE2, 0x82, 0xAC};
	const unsigned char clef[] = {0xF0, 0x9D, 0x84, 0x9E}, overlong[] = {0xC0, 0xAF};
	const unsigned char surrogate[] = {0xED, 0xA0, 0x80}, big[] = {0xF4, 0x90, 0x80, 0x80};
	const unsigned char overlong3[] = {0xE0, 0x80, 0xAF};

	T_CHECK(wf_utf8_len(e_acute, e_acute + 2) == 2);
	T_CHECK(wf_utf8_len(euro, euro + 3) == 3);
	T_CHECK(wf_utf8_len(clef, clef + 4) == 4);
	T_CHECK(wf_utf8_len(clef, clef + 2) == -1);
	T_CHECK(wf_utf8_len(overlong, overlong + 2) == 0);
	T_CHECK(wf_utf8_len(overlong3, overlong3 + 3) == 0);
	T_CHECK(wf_utf8_len(surrogate, surrogate + 3) == 0);
	T_CHECK(wf_utf8_len(big, big + 4) == 0);
	T_CHECK(wf_utf8_valid("caf\xC3\xA9 \xE2\x82\xAC", 9));
	T_CHECK(wf_utf8_valid("", 0));
	T_CHECK(!wf_utf8_valid("caf\xC3", 4));
	T_CHECK(!wf_utf8_valid("\xFF", 1));
}

static void text_safe_replaces_what_a_terminal_obeys(void)
{
	char out[64];
	const char *s = "a\x1b[2J\nb\xC2\x9B" "c\xFF\xC3\xA9";
	size_t n = strlen(s);

	T_CHECK(wf_text_safe(out, sizeof(out), s, n, WF_TEXT_QMARK) == n);
	T_CHECK_STR(out, "a?[2J?b??c?\xC3\xA9");
	T_CHECK(wf_text_safe(out, sizeof(out), s, n, WF_TEXT_QMARK | WF_TEXT_WS_SPACE) == n);
	T_CHECK_STR(out, "a?[2J b??c?\xC3\xA9");
	T_CHECK(wf_text_safe(out, sizeof(out), s, n, WF_TEXT_SPACE) == n);
	T_CHECK_STR(out, "a [2J b  c \xC3\xA9");
	T_CHECK(wf_text_safe(out, sizeof(out), s, n, WF_TEXT_HEX) == n);
	T_CHECK_STR(out, "a\\x1b[2J\\x0ab\\xc2\\x9bc\\xff\xC3\xA9");
}

static void text_safe_stops_before_what_does_not_fit(void)
{
	char out[4];

	/* "\xC3\xA9" would need 2 more bytes than "ab" leaves */
	T_CHECK(wf_text_safe(out, sizeof(out), "ab\xC3\xA9", 4, WF_TEXT_QMARK) == 2);
	T_CHECK_STR(out, "ab");
	T_CHECK(wf_text_safe(out, sizeof(out), "\x01xyz", 4, WF_TEXT_HEX) == 0);
	T_CHECK_STR(out, "");
	T_CHECK(wf_text_safe(out, 1, "abc", 3, WF_TEXT_QMARK) == 0);
	T_CHECK_STR(out, "");
}

static void clock_is_monotonic(void)
{
	int64_t a = wf_clock_ms(), b = wf_clock_ms();
	T_CHECK(a > 0 && b >= a);
}

int main(void)
{
	T_RUN(utf8_len_checks_well_formed_sequences);
	T_RUN(text_safe_replaces_what_a_terminal_obeys);
	T_RUN(text_safe_stops_before_what_does_not_fit);
	T_RUN(clock_is_monotonic);
	return t_done();
}
