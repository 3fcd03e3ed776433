/* gzip bodies for compass-emu (zlib): a body encoded as a gzip-ing server or
 * gateway sends it, a bomb (a small body that inflates to gigabytes) and a
 * broken stream (valid for a while, then not deflate data). */
#include "emu.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

#include <zlib.h>

/* The 10-byte gzip header: no name, no time, OS unknown (RFC 1952). */
static const unsigned char gz_head[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255};

static void put_le32(emu_sbuf *out, uint32_t v)
{
	unsigned char b[4];

	b[0] = (unsigned char)v;
	b[1] = (unsigned char)(v >> 8);
	b[2] = (unsigned char)(v >> 16);
	b[3] = (unsigned char)(v >> 24);
	emu_sbuf_add(out, b, 4);
}

/* Raw deflate of data[0..len) appended to out, ending with `flush`
 * (Z_FULL_FLUSH: byte-aligned, nothing refers back; Z_FINISH: the last
 * block). z was made by deflateInit2 with raw deflate. */
static void deflate_into(z_stream *z, const char *data, size_t len, int flush, emu_sbuf *out)
{
	int rc;

	do {
		size_t in = len > (size_t)1 << 30 ? (size_t)1 << 30 : len;
		int f = in == len ? flush : Z_NO_FLUSH;

		z->next_in = (Bytef *)(uintptr_t)data;
		z->avail_in = (uInt)in;
		do {
			emu_sbuf_reserve(out, 65536);
			z->next_out = (Bytef *)out->p + out->len;
			z->avail_out = 65536;
			rc = deflate(z, f);
			if (rc == Z_STREAM_ERROR)
				emu_die("deflate failed");
			out->len += 65536 - z->avail_out;
		} while (z->avail_out == 0 || (f == Z_FINISH && rc != Z_STREAM_END));
		data += in;
		len -= in;
	} while (len > 0);
}

static void deflate_start(z_stream *z, int level)
{
	memset(z, 0, sizeof(*z));
	if (deflateInit2(z, level, Z_DEFLATED, -15, 9, Z_DEFAULT_STRATEGY) != Z_OK)
		emu_die("deflateInit2 failed");
}

static uint32_t crc_of(uint32_t crc, const char *data, size_t len)
{
	uLong c = crc;

	while (len > 0) {
		uInt n = len > (1u << 30) ? (1u << 30) : (uInt)len;

		c = crc32(c, (const Bytef *)data, n);
		data += n;
		len -= n;
	}
	return (uint32_t)c;
}

void emu_gzip(const char *data, size_t len, emu_sbuf *out)
{
	z_stream z;

	emu_sbuf_add(out, gz_head, sizeof(gz_head));
	deflate_start(&z, Z_BEST_SPEED);
	deflate_into(&z, data, len, Z_FINISH, out);
	deflateEnd(&z);
	put_le32(out, crc_of((uint32_t)crc32(0, NULL, 0), data, len));
	put_le32(out, (uint32_t)len);
}

void emu_gzip_bomb(const char *prefix, size_t plen, uint64_t total, emu_sbuf *out)
{
	enum { SEG = 1 << 20 };
	char *fill = emu_xmalloc(SEG);
	emu_sbuf seg = {0};
	uint64_t left, n;
	uint32_t crc, seg_crc;
	z_stream z;

	memset(fill, 'a', SEG);
	if (plen > total)
		plen = (size_t)total;
	emu_sbuf_add(out, gz_head, sizeof(gz_head));
	deflate_start(&z, Z_BEST_COMPRESSION);
	deflate_into(&z, prefix, plen, Z_FULL_FLUSH, out);
	crc = crc_of((uint32_t)crc32(0, NULL, 0), prefix, plen);
	left = total - plen;
	/* One segment of 1 MiB of 'a' after a full flush refers to nothing before
	 * it, so the same bytes can be repeated: about 1 KiB per MiB inflated. */
	if (left >= SEG) {
		deflate_into(&z, fill, SEG, Z_FULL_FLUSH, &seg);
		seg_crc = crc_of((uint32_t)crc32(0, NULL, 0), fill, SEG);
		for (; left >= SEG; left -= SEG) {
			emu_sbuf_add(out, seg.p, seg.len);
			crc = (uint32_t)crc32_combine(crc, seg_crc, SEG);
		}
	}
	n = left;
	deflate_into(&z, fill, (size_t)n, Z_FINISH, out);
	crc = crc_of(crc, fill, (size_t)n);
	deflateEnd(&z);
	put_le32(out, crc);
	put_le32(out, (uint32_t)total);
	emu_sbuf_free(&seg);
	free(fill);
}

void emu_gzip_broken(const char *data, size_t len, size_t good, emu_sbuf *out)
{
	/* After a full flush the stream is byte-aligned: 0x07 is a last block of
	 * the reserved type 3, which every inflater refuses. */
	static const unsigned char bad[] = {0x07, 0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 0, 0, 0, 0};
	z_stream z;

	if (good > len)
		good = len;
	emu_sbuf_add(out, gz_head, sizeof(gz_head));
	deflate_start(&z, Z_BEST_SPEED);
	deflate_into(&z, data, good, Z_FULL_FLUSH, out);
	deflateEnd(&z);
	emu_sbuf_add(out, bad, sizeof(bad));
}

int emu_accepts_gzip(const char *accept_encoding)
{
	const char *p = accept_encoding;

	while (p && *p) {
		const char *tok, *end, *semi;
		size_t n;

		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		tok = p;
		end = strchr(p, ',');
		if (!end)
			end = p + strlen(p);
		semi = memchr(tok, ';', (size_t)(end - tok));
		n = (size_t)((semi ? semi : end) - tok);
		while (n > 0 && (tok[n - 1] == ' ' || tok[n - 1] == '\t'))
			n--;
		if ((n == 4 && strncasecmp(tok, "gzip", 4) == 0) ||
			(n == 6 && strncasecmp(tok, "x-gzip", 6) == 0) || (n == 1 && tok[0] == '*')) {
			/* q=0 (q=0.0, q=0.00...) refuses it. */
			const char *q = semi;
			int refused = 0;

			while (q && q < end) {
				while (q < end && (*q == ';' || *q == ' ' || *q == '\t'))
					q++;
				if (end - q >= 2 && (q[0] == 'q' || q[0] == 'Q') && q[1] == '=') {
					const char *v = q + 2;

					refused = v < end && *v == '0';
					for (v++; refused && v < end && *v != ';' && *v != ' '; v++)
						if (*v != '.' && *v != '0')
							refused = 0;
				}
				q = memchr(q, ';', (size_t)(end - q));
			}
			if (!refused)
				return 1;
		}
		p = end;
	}
	return 0;
}
