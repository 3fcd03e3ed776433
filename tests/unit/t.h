/* A minimal unit-test harness: T_CHECK records a failure and goes on;
 * T_RUN runs one named test function; t_done() prints the closing line. */
#ifndef WF_T_H
#define WF_T_H

#include <stdio.h>
#include <string.h>

static int t_failed_checks;
static int t_passed, t_failed;

#define T_CHECK(cond)                                                           \
	do {                                                                    \
		if (!(cond)) {                                                  \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__,  \
				__LINE__, #cond);                               \
			t_failed_checks++;                                      \
		}                                                               \
	} while (0)

#define T_CHECK_STR(a, b)                                                       \
	do {                                                                    \
		const char *t_a_ = (a), *t_b_ = (b);                            \
		if (!t_a_ || !t_b_ || strcmp(t_a_, t_b_) != 0) {                \
			fprintf(stderr, "%s:%d: \"%s\" != \"%s\"\n", __FILE__,  \
				__LINE__, t_a_ ? t_a_ : "(null)",               \
				t_b_ ? t_b_ : "(null)");                        \
			t_failed_checks++;                                      \
		}                                                               \
	} while (0)

#define T_RUN(fn)                                                               \
	do {                                                                    \
		int t_before_ = t_failed_checks;                                \
		fn();                                                           \
		if (t_failed_checks == t_before_) {                             \
			t_passed++;                                             \
			printf("ok   %s\n", #fn);                               \
		} else {                                                        \
			t_failed++;                                             \
			printf("FAIL %s\n", #fn);                               \
		}                                                               \
	} while (0)

static inline int t_done(void)
{
	printf("%d passed, %d failed\n", t_passed, t_failed);
	return t_failed ? 1 : 0;
}

#endif
