/* Generated result bodies: deterministic rows from the row index and seed.
 * The content of each shape is documented in docs/emulator.md; tests of
 * wf2sqlite rely on it, so change both together. */
#include "emu.h"

#include <string.h>

static const char *const bench8_ids[] = {"id", "region", "product", "customer", "status",
	"units", "price", "revenue"};
static const char *const bench8_headers[] = {"ID", "Region", "Product", "Customer", "Status",
	"Units", "Price", "Revenue"};
static const char *const bench8_types[] = {"number", "string", "string", "string", "string",
	"number", "number", "number"};

static const char *const mixed_ids[] = {"s", "i", "r", "b", "n", "big", "obj", "arr", "uni",
	"nul"};
static const char *const mixed_headers[] = {"String", "Integer", "Real", "Boolean",
	"Sometimes null", "Big integer", "Object", "Array", "Unicode", "With NUL"};
static const char *const mixed_types[] = {"string", "number", "number", "boolean", "string",
	"number", "object", "array", "string", "string"};

static const char *const regions[] = {"north-america", "south-america", "europe-west",
	"europe-east", "middle-east", "africa", "asia-pacific", "oceania"};
static const char *const statuses[] = {"shipped", "pending", "delivered", "returned"};

static unsigned long long mix64(unsigned long long x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

void emu_gen_schema(enum emu_shape shape, emu_sbuf *out)
{
	const char *const *ids = shape == EMU_SHAPE_BENCH8 ? bench8_ids : mixed_ids;
	const char *const *headers = shape == EMU_SHAPE_BENCH8 ? bench8_headers : mixed_headers;
	const char *const *types = shape == EMU_SHAPE_BENCH8 ? bench8_types : mixed_types;
	size_t i, n = shape == EMU_SHAPE_BENCH8 ? 8 : 10;

	emu_sbuf_adds(out, "[");
	for (i = 0; i < n; i++)
		emu_sbuf_addf(out, "%s{\"id\":\"%s\",\"header\":\"%s\",\"type\":\"%s\"}",
			i ? "," : "", ids[i], headers[i], types[i]);
	emu_sbuf_adds(out, "]");
}

/* Row values are printed into out in column order; with keys when objects. */
#define K(name) (arrays ? "" : "\"" name "\":")

static void bench8_row(emu_sbuf *out, long i, unsigned long long seed, int arrays)
{
	unsigned long long h = mix64((unsigned long long)i ^ (seed * 0x100000001b3ULL));
	long units = (long)(h % 1000);
	long cents = (long)((h >> 12) % 100000);
	long long rev = (long long)units * cents;

	emu_sbuf_reserve(out, 256);
	out->len += (size_t)snprintf(out->p + out->len, 256,
		"%c%s%ld,%s\"%s\",%s\"product-%05lu\",%s\"customer-%07ld\",%s\"%s\","
		"%s%ld,%s%ld.%02ld,%s%lld.%02lld%c",
		arrays ? '[' : '{',
		K("id"), i,
		K("region"), regions[(h >> 40) % 8],
		K("product"), (unsigned long)((h >> 20) % 100000),
		K("customer"), i % 10000000,
		K("status"), statuses[(h >> 50) % 4],
		K("units"), units,
		K("price"), cents / 100, cents % 100,
		K("revenue"), rev / 100, rev % 100,
		arrays ? ']' : '}');
}

static void mixed_row(emu_sbuf *out, long i, int arrays)
{
	emu_sbuf_addf(out, "%c%s\"row-%ld\",%s%ld,%s%ld.5,%s%s,",
		arrays ? '[' : '{',
		K("s"), i,
		K("i"), i * 3 - 7,
		K("r"), i,
		K("b"), i % 2 == 0 ? "true" : "false");
	if (i % 2 == 0)
		emu_sbuf_addf(out, "%snull,", K("n"));
	else
		emu_sbuf_addf(out, "%s\"x%ld\",", K("n"), i);
	emu_sbuf_addf(out, "%s1%021ld,%s{\"k\":%ld,\"tags\":[\"a\",\"b\"]},%s[%ld,\"x\",null,true],",
		K("big"), i, K("obj"), i, K("arr"), i);
	emu_sbuf_addf(out, "%s\"h\\u00e9llo \\\"w\xc3\xb6rld\\\" \\\\ \\/ \\u2603 \\ud83d\\ude00"
		" \xe2\x82\xac\\n\\t%ld\",", K("uni"), i);
	emu_sbuf_addf(out, "%s\"a\\u0000b%ld\"%c", K("nul"), i, arrays ? ']' : '}');
}

#undef K

static void render_data(const emu_workflow *wf, emu_sbuf *out)
{
	const emu_gen *g = &wf->gen;
	long i;

	emu_sbuf_adds(out, "\"data\":[");
	if (g->shape == EMU_SHAPE_BENCH8)
		emu_sbuf_reserve(out, (size_t)g->rows * 168 + 64);
	for (i = 0; i < g->rows; i++) {
		if (i)
			emu_sbuf_add(out, ",", 1);
		if (g->shape == EMU_SHAPE_BENCH8)
			bench8_row(out, i, g->seed, g->rows_as_arrays);
		else
			mixed_row(out, i, g->rows_as_arrays);
	}
	emu_sbuf_adds(out, "]");
}

void emu_gen_render(const emu_workflow *wf, long exec_ms, emu_sbuf *out)
{
	const emu_gen *g = &wf->gen;

	emu_sbuf_adds(out, "{");
	if (g->data_first) {
		render_data(wf, out);
		emu_sbuf_adds(out, ",\"schema\":");
		emu_gen_schema(g->shape, out);
	} else {
		emu_sbuf_adds(out, "\"schema\":");
		emu_gen_schema(g->shape, out);
		emu_sbuf_adds(out, ",");
		render_data(wf, out);
	}
	emu_sbuf_addf(out, ",\"start\":0,\"end\":%ld,\"result\":{\"summary\":"
		"{\"totalNumberOfRows\":%ld,\"executionDurationMillis\":%ld}}}",
		g->rows, g->report_rows >= 0 ? g->report_rows : g->rows, exec_ms);
}
