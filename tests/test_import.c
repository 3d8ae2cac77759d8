/*
 * test_import.c: POST /api/v1/import/prometheus on a real vigil-receiver
 * (receiver/http/import.c), over raw sockets and through the vigil CLI:
 * bad lines reported with their numbers while the rest is stored and
 * queryable; a body far larger than the receiver's buffers streamed with
 * its peak RSS bounded; chunked and gzip bodies, extra labels; samples that
 * survive kill -9 and a restart (they went through the WAL before the
 * answer); other requests served before and after an import on the same
 * connection; hostile framing refused without harm to the receiver, and
 * a head with a NUL byte refused before it can frame the connection's
 * bytes apart from the HTTP library's reading of them;
 * vigil import and vigil push with their exit statuses.
 */
#include "tests/harness.h"
#include "common/buf.h"

#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

static char *dir;
static char data[600];
static struct vg_t_receiver rcv;

static void setup(void)
{
	dir = vg_t_tmpdir("vigil-import");
	snprintf(data, sizeof(data), "%s/data", dir);
	ck_assert_int_eq(vg_t_receiver_start(&rcv, data, NULL), 0);
}

static void teardown(void)
{
	int r = vg_t_stop(&rcv.proc, SIGTERM, 10000);

	ck_assert_msg(r == 0, "vigil-receiver exited with %d (see %s)", r, rcv.proc.log_path);
	vg_t_rmrf(dir);
	free(dir);
}

/* --- a raw HTTP/1.1 client ---------------------------------------------- */

struct reply {
	int status;
	struct vg_buf head, body;
};

static void reply_release(struct reply *r)
{
	vg_buf_release(&r->head);
	vg_buf_release(&r->body);
}

/* Reads one response from fd within timeout_ms (Content-Length framed, or
 * no body for 204), after what in holds already; 0, or -1. Skips a 100
 * Continue. What in holds past the response stays there, for the next
 * (pipelined) one. */
static int read_reply_from(int fd, struct vg_buf *in, struct reply *r, int timeout_ms)
{
	int64_t deadline = vg_t_now_ms() + timeout_ms;

	memset(r, 0, sizeof(*r));
	for (;;) {
		char *end = in->len ? strstr((char *)in->data, "\r\n\r\n") : NULL;
		if (end) {
			size_t head_len = (size_t)(end - (char *)in->data) + 4;
			const char *cl;
			size_t body_len = 0;

			if (sscanf((char *)in->data, "HTTP/1.%*d %d", &r->status) != 1)
				return -1;
			if (r->status == 100) {
				vg_buf_consume(in, head_len);
				continue;
			}
			cl = strstr((char *)in->data, "\r\nContent-Length:");
			if (cl && cl < end)
				body_len = strtoul(cl + 17, NULL, 10);
			if (in->len >= head_len + body_len) {
				vg_buf_append(&r->head, in->data, head_len);
				vg_buf_append(&r->body, in->data + head_len, body_len);
				vg_buf_consume(in, head_len + body_len);
				return 0;
			}
		}
		{
			struct pollfd p = { fd, POLLIN, 0 };
			int left = (int)(deadline - vg_t_now_ms());
			char buf[65536];
			ssize_t n;

			if (left <= 0 || poll(&p, 1, left) <= 0)
				return -1;
			n = read(fd, buf, sizeof(buf));
			if (n <= 0)
				return -1;
			vg_buf_append(in, buf, (size_t)n);
		}
	}
}

/* One response, on a connection that has no other in flight. */
static int read_reply(int fd, struct reply *r, int timeout_ms)
{
	struct vg_buf in = VG_BUF_INIT;
	int rc = read_reply_from(fd, &in, r, timeout_ms);

	vg_buf_release(&in);
	return rc;
}

static int send_str(int fd, const char *s)
{
	return vg_t_write_all(fd, s, strlen(s));
}

/* POSTs body with Content-Length on a new connection and reads the reply. */
static void post(const char *query, const char *extra_headers, const void *body, size_t len, struct reply *r)
{
	char head[1024];
	int fd = vg_t_connect(rcv.http_port);

	ck_assert_int_ge(fd, 0);
	snprintf(head, sizeof(head),
		 "POST /api/v1/import/prometheus%s HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n%s\r\n",
		 query ? query : "", len, extra_headers ? extra_headers : "");
	ck_assert_int_eq(send_str(fd, head), 0);
	ck_assert_int_eq(vg_t_write_all(fd, body, len), 0);
	ck_assert_int_eq(read_reply(fd, r, 30000), 0);
	close(fd);
}

static size_t count_samples(const char *sel, long start, long end, long step)
{
	return vg_t_count_samples(rcv.http_port, sel, start, end, step);
}

static long vm_hwm_kib(pid_t pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmHWM: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

/* --- tests ------------------------------------------------------------------ */

START_TEST(test_bad_lines_reported_rest_stored_and_queryable)
{
	static const char body[] =
		"# HELP t_good a gauge\n"
		"# TYPE t_good gauge\n"
		"t_good{k=\"a\"} 1 1700000000000\n"
		"t_good{k=\"a\"} 2 1700000010000\n"
		"t_good{k=\"b\"} NaN 1700000000000\n"
		"t_bad{k=\"x\" 3 1700000000000\n"            /* line 6 */
		"t_good{k=\"b\"} 4 1700000010000\r\n"
		"t_bad 1e999 1700000000000\n"                /* line 8 */
		"\n"
		"t_good{k=\"c\"} +Inf 1700000010000\n"
		"t_bad{__name__=\"y\"} 1 1700000000000\n";   /* line 11 */
	struct reply r;
	json_t *doc, *d, *rej;
	json_error_t jerr;

	post(NULL, NULL, body, sizeof(body) - 1, &r);
	ck_assert_int_eq(r.status, 200);
	doc = json_loadb((char *)r.body.data, r.body.len, 0, &jerr);
	ck_assert_ptr_nonnull(doc);
	ck_assert_str_eq(json_string_value(json_object_get(doc, "status")), "success");
	d = json_object_get(doc, "data");
	ck_assert_int_eq(json_integer_value(json_object_get(d, "samples")), 5);
	ck_assert_int_eq(json_integer_value(json_object_get(d, "series_created")), 3);
	ck_assert_int_eq(json_integer_value(json_object_get(d, "lines")), 11);
	ck_assert_int_eq(json_integer_value(json_object_get(d, "rejected_lines")), 3);
	rej = json_object_get(d, "rejected");
	ck_assert_int_eq(json_array_size(rej), 3);
	ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(rej, 0), "line")), 6);
	ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(rej, 1), "line")), 8);
	ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(rej, 2), "line")), 11);
	ck_assert(strstr(json_string_value(json_object_get(json_array_get(rej, 1), "error")), "1e999") != NULL);
	json_decref(doc);
	ck_assert(strstr((char *)r.head.data, "X-Vigil-Samples: 5\r\n") != NULL);
	reply_release(&r);

	/* Stored and queryable: 2 + 2 + 1 samples at their own timestamps. */
	ck_assert_uint_eq(count_samples("t_good{k=\"a\"}", 1700000000, 1700000010, 10), 2);
	ck_assert_uint_eq(count_samples("t_good", 1700000000, 1700000010, 10), 5);
	ck_assert_uint_eq(count_samples("t_bad", 1699999000, 1700001000, 10), 0);
	{
		long status;
		json_t *s = vg_t_http_json(rcv.http_port, "/api/v1/series?match[]=t_good", &status);
		ck_assert_int_eq(status, 200);
		ck_assert_int_eq(json_array_size(json_object_get(s, "data")), 3);
		json_decref(s);
	}
	/* Every line good: 204, counts in headers. */
	post("?extra_label=src=test", NULL, "t_more 1 1700000020000\n", 23, &r);
	ck_assert_int_eq(r.status, 204);
	ck_assert(strstr((char *)r.head.data, "X-Vigil-Series-Created: 1\r\n") != NULL);
	reply_release(&r);
	ck_assert_uint_eq(count_samples("t_more{src=\"test\"}", 1700000020, 1700000020, 1), 1);
}
END_TEST

/* A generated body of lines, streamed in pieces: each line ~1 KiB on a
 * handful of series, so storing it costs the head little while the body
 * is far larger than anything the receiver may buffer. */
static void make_line(char *out, size_t cap, unsigned i)
{
	static char pad[1001];

	if (pad[0] == '\0')
		memset(pad, 'p', sizeof(pad) - 1);
	snprintf(out, cap, "t_big{shard=\"%u\",pad=\"%s\"} %u %" PRId64 "\n", i % 4, pad, i,
		 (int64_t)1600000000000 + (int64_t)i * 1000);
}

START_TEST(test_large_body_streamed_with_bounded_rss)
{
	const unsigned n_lines = 96 * 1024; /* ~98 MB */
	char line[1200], head[256];
	struct vg_buf chunk = VG_BUF_INIT;
	size_t total = 0;
	long before, after;
	struct reply r;
	int fd;

	for (unsigned i = 0; i < n_lines; i++) {
		make_line(line, sizeof(line), i);
		total += strlen(line);
	}
	/* Warm the receiver up (threads, arenas) before the baseline. */
	post(NULL, NULL, "t_warm 1 1600000000000\n", 23, &r);
	ck_assert_int_eq(r.status, 204);
	reply_release(&r);
	before = vm_hwm_kib(rcv.proc.pid);
	ck_assert_int_gt(before, 0);

	fd = vg_t_connect(rcv.http_port);
	ck_assert_int_ge(fd, 0);
	snprintf(head, sizeof(head), "POST /api/v1/import/prometheus HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n\r\n",
		 total);
	ck_assert_int_eq(send_str(fd, head), 0);
	for (unsigned i = 0; i < n_lines; i++) {
		make_line(line, sizeof(line), i);
		vg_buf_puts(&chunk, line);
		if (chunk.len > 256 * 1024 || i + 1 == n_lines) {
			ck_assert_int_eq(vg_t_write_all(fd, chunk.data, chunk.len), 0);
			vg_buf_reset(&chunk);
		}
	}
	vg_buf_release(&chunk);
	ck_assert_int_eq(read_reply(fd, &r, 120000), 0);
	close(fd);
	ck_assert_int_eq(r.status, 204);
	ck_assert(strstr((char *)r.head.data, "X-Vigil-Samples: 98304\r\n") != NULL);
	reply_release(&r);
	after = vm_hwm_kib(rcv.proc.pid);
	fprintf(stderr, "test_import: a %zu-byte body raised the receiver's VmHWM from %ld to %ld KiB\n", total,
		before, after);
	/* The head keeps 16 bytes per sample (1.5 MiB here); the body was
	 * 98 MB. Its buffers stay far below that. (AddressSanitizer keeps
	 * freed memory in quarantine, up to 256 MiB: no figure there.) */
#if !defined(__SANITIZE_ADDRESS__)
	ck_assert_msg(after - before < 40 * 1024, "peak RSS grew by %ld KiB for a %zu-byte body", after - before,
		      total);
#endif
	/* One point per 16 s step over the range, each from a stored sample
	 * (shard 1 has one every 4 s from +1 s on). */
	ck_assert_uint_eq(count_samples("t_big{shard=\"1\"}", 1600000000, 1600000000 + n_lines, 16), n_lines / 16);
}
END_TEST

static size_t gzip_buf(const char *in, size_t n, uint8_t *out, size_t cap)
{
	z_stream z;

	memset(&z, 0, sizeof(z));
	ck_assert_int_eq(deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
	z.next_in = (Bytef *)(uintptr_t)in;
	z.avail_in = (uInt)n;
	z.next_out = out;
	z.avail_out = (uInt)cap;
	ck_assert_int_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
	deflateEnd(&z);
	return cap - z.avail_out;
}

START_TEST(test_chunked_gzip_and_extra_labels)
{
	struct vg_buf body = VG_BUF_INIT, wire = VG_BUF_INIT;
	uint8_t gz[1 << 20];
	size_t gz_len;
	struct reply r;
	int fd;

	for (unsigned i = 0; i < 20000; i++)
		vg_buf_printf(&body, "t_gz{host=\"h%u\",job=\"orig\"} %u %" PRId64 "\n", i % 100, i,
			      (int64_t)1650000000000 + (int64_t)(i / 100) * 1000);
	gz_len = gzip_buf((char *)body.data, body.len, gz, sizeof(gz));
	/* Chunks of 777 bytes, a chunk extension, a trailer. */
	for (size_t off = 0; off < gz_len; off += 777) {
		size_t k = gz_len - off < 777 ? gz_len - off : 777;
		vg_buf_printf(&wire, "%zx%s\r\n", k, off == 0 ? ";ext=1" : "");
		vg_buf_append(&wire, gz + off, k);
		vg_buf_puts(&wire, "\r\n");
	}
	vg_buf_puts(&wire, "0\r\nX-Trailer: yes\r\n\r\n");
	fd = vg_t_connect(rcv.http_port);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(send_str(fd, "POST /api/v1/import/prometheus?extra_label=job=imported&extra_label=dc=x1 HTTP/1.1\r\n"
				      "Host: x\r\nTransfer-Encoding: chunked\r\nContent-Encoding: gzip\r\n"
				      "Expect: 100-continue\r\n\r\n"), 0);
	/* The 100 Continue comes before the body. */
	{
		char buf[64];
		struct pollfd p = { fd, POLLIN, 0 };
		ssize_t n;
		ck_assert_int_eq(poll(&p, 1, 5000), 1);
		n = read(fd, buf, sizeof(buf) - 1);
		ck_assert_int_gt(n, 0);
		buf[n] = '\0';
		ck_assert(strncmp(buf, "HTTP/1.1 100 Continue\r\n\r\n", 25) == 0);
	}
	ck_assert_int_eq(vg_t_write_all(fd, wire.data, wire.len), 0);
	ck_assert_int_eq(read_reply(fd, &r, 30000), 0);
	ck_assert_int_eq(r.status, 204);
	ck_assert(strstr((char *)r.head.data, "X-Vigil-Samples: 20000\r\n") != NULL);
	reply_release(&r);
	/* The same connection serves a query next (keep-alive). */
	ck_assert_int_eq(send_str(fd, "GET /api/v1/labels HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
	ck_assert_int_eq(read_reply(fd, &r, 5000), 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert(strstr((char *)r.body.data, "\"dc\"") != NULL);
	reply_release(&r);
	close(fd);
	vg_buf_release(&body);
	vg_buf_release(&wire);
	ck_assert_uint_eq(count_samples("t_gz{job=\"imported\",dc=\"x1\"}", 1650000000, 1650000199, 1), 20000);
	ck_assert_uint_eq(count_samples("t_gz{job=\"orig\"}", 1650000000, 1650000199, 1), 0);
}
END_TEST

START_TEST(test_samples_survive_kill_and_restart)
{
	struct reply r;
	char body[4096];
	size_t n = 0;

	for (int i = 0; i < 50; i++)
		n += (size_t)snprintf(body + n, sizeof(body) - n, "t_durable{i=\"%d\"} %d 1700000000000\n", i % 5, i);
	post(NULL, NULL, body, n, &r);
	ck_assert_int_eq(r.status, 204);
	reply_release(&r);
	/* The answer came after the WAL sync: kill -9 cannot lose it. */
	ck_assert_int_eq(vg_t_stop(&rcv.proc, SIGKILL, 5000), 128 + SIGKILL);
	ck_assert_int_eq(vg_t_receiver_start(&rcv, data, NULL), 0);
	ck_assert_uint_eq(count_samples("t_durable", 1700000000, 1700000000, 1), 5);
	{
		long status;
		json_t *doc = vg_t_http_json(rcv.http_port, "/api/v1/query?query=t_durable%7Bi%3D%224%22%7D&time=1700000000",
					     &status);
		json_t *v = json_array_get(json_object_get(json_array_get(json_object_get(json_object_get(doc, "data"),
											  "result"), 0), "value"), 1);
		ck_assert_int_eq(status, 200);
		/* One series got i = 4, 9, ..., 49 at the same timestamp. */
		ck_assert_ptr_nonnull(v);
		json_decref(doc);
	}
}
END_TEST

START_TEST(test_hostile_framing_and_other_requests)
{
	struct reply r;
	int fd;

	/* A query before and after an import on one connection. */
	fd = vg_t_connect(rcv.http_port);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(send_str(fd, "GET /api/v1/status/buildinfo HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
	ck_assert_int_eq(read_reply(fd, &r, 5000), 0);
	ck_assert_int_eq(r.status, 200);
	reply_release(&r);
	ck_assert_int_eq(send_str(fd, "POST /api/v1/import/prometheus HTTP/1.1\r\nHost: x\r\nContent-Length: 17\r\n\r\n"
				      "t_ka 1 1700000000"), 0);
	ck_assert_int_eq(read_reply(fd, &r, 5000), 0);
	ck_assert_int_eq(r.status, 204);
	reply_release(&r);
	ck_assert_int_eq(send_str(fd, "POST /api/v1/query HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
				      "Content-Length: 12\r\n\r\nquery=t_ka&x"), 0);
	ck_assert_int_eq(read_reply(fd, &r, 5000), 0);
	ck_assert_int_eq(r.status, 200);
	reply_release(&r);
	close(fd);

	/* A bad chunk size: 400, and what came before it is stored. */
	fd = vg_t_connect(rcv.http_port);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(send_str(fd, "POST /api/v1/import/prometheus HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
				      "18\r\nt_chunk 1 1700000000000\n\r\nzz\r\n"), 0);
	ck_assert_int_eq(read_reply(fd, &r, 5000), 0);
	ck_assert_int_eq(r.status, 400);
	ck_assert(strstr((char *)r.body.data, "bad chunk size") != NULL);
	ck_assert(strstr((char *)r.head.data, "Connection: close") != NULL);
	reply_release(&r);
	close(fd);
	ck_assert_uint_eq(count_samples("t_chunk", 1700000000, 1700000000, 1), 1);

	/* Broken gzip: 400. An unknown encoding: 415. A bad extra_label: 400. */
	post(NULL, "Content-Encoding: gzip\r\n", "not gzip at all\n", 16, &r);
	ck_assert_int_eq(r.status, 400);
	ck_assert(strstr((char *)r.body.data, "gzip") != NULL);
	reply_release(&r);
	post(NULL, "Content-Encoding: br\r\n", "x 1\n", 4, &r);
	ck_assert_int_eq(r.status, 415);
	reply_release(&r);
	post("?extra_label=__name__=x", NULL, "x 1\n", 4, &r);
	ck_assert_int_eq(r.status, 400);
	reply_release(&r);
	post("?extra_label=novalue", NULL, "x 1\n", 4, &r);
	ck_assert_int_eq(r.status, 400);
	reply_release(&r);

	/* A client that goes away mid-body costs nothing lasting. */
	fd = vg_t_connect(rcv.http_port);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(send_str(fd, "POST /api/v1/import/prometheus HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n"
				      "t_gone 1 1700000000000\nt_go"), 0);
	close(fd);
	/* Lines of every kind of garbage, one over the line bound. */
	{
		struct vg_buf b = VG_BUF_INIT;
		vg_buf_puts(&b, "\x01\x02\xff 1\n{}\n\"\n#\n# TYPE\n");
		for (int i = 0; i < 70 * 1024; i++)
			vg_buf_putc(&b, 'a');
		vg_buf_puts(&b, " 1\nt_after 1 1700000000000\n");
		post(NULL, NULL, b.data, b.len, &r);
		ck_assert_int_eq(r.status, 200);
		ck_assert(strstr((char *)r.body.data, "line longer than 65536 bytes") != NULL);
		ck_assert(strstr((char *)r.body.data, "\"samples\":1") != NULL);
		reply_release(&r);
		vg_buf_release(&b);
	}
	/* A GET on the import path: 405; evhttp's own paths still answer. */
	{
		long status;
		char *body = vg_t_http_get(rcv.http_port, "/api/v1/import/prometheus", &status);
		ck_assert_int_eq(status, 405);
		free(body);
		body = vg_t_http_get(rcv.http_port, "/metrics", &status);
		ck_assert_int_eq(status, 200);
		free(body);
	}
	ck_assert(vg_t_alive(&rcv.proc));
}
END_TEST

/* A head with a NUL byte. evhttp reads each line of a head as a C string,
 * so to it a line that starts with NUL is the empty line that ends the
 * head, and the lines after it a next request the connection's filter
 * never read: here a HEAD, whose Content-Length evhttp ignores, so the
 * body the filter handed over stayed in evhttp's input as the start of a
 * request line, and the import head behind it waited for evhttp to read
 * it, kicked in a busy loop that held the HTTP thread for ever. The first
 * head is refused now (the filter frames the bytes as evhttp would, or
 * not at all), the connection closes, and the receiver serves the next. */
START_TEST(test_nul_in_head_refused_without_spinning)
{
	static const char req[] = "GET /api/v1/status/buildinfo HTTP/1.1\r\nHost: x\r\n\0:\r\n"
				  "HEAD /api/v1/status/buildinfo: HTTP/1.1\r\nContent-Length: 14\r\n\r\n"
				  "GET / HTTP/1.1"
				  "POST /api/v1/import/prometheus HTTP/1.1\r\nHost: x\r\nContent-Length: 22\r\n\r\n"
				  "t_nul 1 1700000000000\n";
	struct reply r;
	struct pollfd p;
	char buf[4096];
	ssize_t n;
	int fd = vg_t_connect(rcv.http_port);

	ck_assert_int_ge(fd, 0);
	/* The client keeps its side open: only the receiver may end this. */
	ck_assert_int_eq(vg_t_write_all(fd, req, sizeof(req) - 1), 0);
	ck_assert_int_eq(read_reply(fd, &r, 30000), 0);
	ck_assert_int_eq(r.status, 400);
	ck_assert(strstr((char *)r.head.data, "Content-Type: application/json") != NULL);
	ck_assert(strstr((char *)r.head.data, "Connection: close") != NULL);
	ck_assert(strstr((char *)r.body.data, "\"status\":\"error\"") != NULL);
	ck_assert(strstr((char *)r.body.data, "NUL byte") != NULL);
	reply_release(&r);
	/* Nothing follows the answer but the receiver's end of the stream. */
	p = (struct pollfd){ fd, POLLIN, 0 };
	ck_assert_int_eq(poll(&p, 1, 30000), 1);
	n = read(fd, buf, sizeof(buf));
	ck_assert_int_eq(n, 0);
	close(fd);

	/* The HTTP thread is free: a next import is answered and stored, and
	 * nothing of the refused connection was. */
	post(NULL, NULL, "t_after_nul 1 1700000000000\n", 28, &r);
	ck_assert_int_eq(r.status, 204);
	reply_release(&r);
	ck_assert_uint_eq(count_samples("t_after_nul", 1700000000, 1700000000, 1), 1);
	ck_assert_uint_eq(count_samples("t_nul", 1700000000, 1700000000, 1), 0);
	ck_assert(vg_t_alive(&rcv.proc));
}
END_TEST

/* Requests pipelined ahead of an import: the import waits until evhttp
 * has read and answered them (the queries are answered from the query
 * pool, after evhttp has stopped reading), and is neither refused as
 * stalled nor answered out of turn. */
START_TEST(test_pipelined_queries_then_import_in_order)
{
	static const char req[] = "GET /api/v1/query?query=1 HTTP/1.1\r\nHost: x\r\n\r\n"
				  "POST /api/v1/query HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
				  "Content-Length: 7\r\n\r\nquery=2"
				  "POST /api/v1/import/prometheus HTTP/1.1\r\nHost: x\r\nContent-Length: 27\r\n\r\n"
				  "t_pipelined 1 1700000000000"
				  "GET /api/v1/query?query=3 HTTP/1.1\r\nHost: x\r\n\r\n";
	static const int want[] = { 200, 200, 204, 200 };
	struct vg_buf in = VG_BUF_INIT;
	struct reply r;
	int fd = vg_t_connect(rcv.http_port);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(vg_t_write_all(fd, req, sizeof(req) - 1), 0);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		ck_assert_int_eq(read_reply_from(fd, &in, &r, 30000), 0);
		ck_assert_int_eq(r.status, want[i]);
		if (want[i] == 200)
			ck_assert(strstr((char *)r.body.data, "\"status\":\"success\"") != NULL);
		reply_release(&r);
	}
	ck_assert_uint_eq(in.len, 0);
	vg_buf_release(&in);
	close(fd);
	ck_assert_uint_eq(count_samples("t_pipelined", 1700000000, 1700000000, 1), 1);
}
END_TEST

static int run_vigil(char **out, char **err, const char *a1, const char *a2, const char *a3, const char *a4)
{
	char server[64];

	snprintf(server, sizeof(server), "http://127.0.0.1:%u", rcv.http_port);
	char *argv[] = { (char *)vg_t_bin("vigil"), "--server", server, (char *)a1, (char *)a2, (char *)a3,
			 (char *)a4, NULL };
	return vg_t_run(argv, out, err, 30000);
}

START_TEST(test_cli_import_and_push)
{
	char path[700], *out = NULL, *err = NULL;
	FILE *f;
	int rc;

	snprintf(path, sizeof(path), "%s/in.prom", dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	for (int i = 0; i < 1000; i++)
		fprintf(f, "t_cli{n=\"%d\"} %d 1700000000000\n", i % 10, i);
	fputs("t_cli{n=\"x\" 1\nt_cli 1 not_a_time\n", f);
	fclose(f);
	rc = run_vigil(&out, &err, "import", path, NULL, NULL);
	ck_assert_msg(rc == 1, "vigil import: %d\n%s%s", rc, out, err);
	ck_assert(strstr(out, "1000 samples stored (10 new series) from 1002 lines; 2 lines rejected") != NULL);
	ck_assert(strstr(out, "  line 1001: ") != NULL);
	ck_assert(strstr(out, "  line 1002: invalid timestamp \"not_a_time\"") != NULL);
	free(out);
	free(err);

	/* All good: exit 0. From stdin too (chunked). */
	f = fopen(path, "w");
	fputs("t_cli2 5 1700000000000\n", f);
	fclose(f);
	rc = run_vigil(&out, &err, "import", path, NULL, NULL);
	ck_assert_msg(rc == 0, "vigil import: %d\n%s%s", rc, out, err);
	ck_assert(strstr(out, "1 samples stored (1 new series) from 1 lines") != NULL);
	free(out);
	free(err);
	{
		char cmd[1200];
		snprintf(cmd, sizeof(cmd), "printf 't_cli3 7 1700000000000\\n' | %s --server http://127.0.0.1:%u import -",
			 vg_t_bin("vigil"), rcv.http_port);
		char *argv[] = { "/bin/sh", "-c", cmd, NULL };
		rc = vg_t_run(argv, &out, &err, 30000);
		ck_assert_msg(rc == 0, "import -: %d\n%s%s", rc, out, err);
		free(out);
		free(err);
	}
	ck_assert_uint_eq(count_samples("t_cli3", 1700000000, 1700000000, 1), 1);

	/* push: a sample at a time, RFC 3339 or Unix seconds. */
	rc = run_vigil(&out, &err, "push", "t_push{job=\"sh\"}", "42.5", "2023-11-14T22:13:20Z");
	ck_assert_msg(rc == 0, "push: %d\n%s%s", rc, out, err);
	ck_assert_str_eq(out, "");
	free(out);
	free(err);
	rc = run_vigil(&out, &err, "push", "t_push{job=\"sh\"}", "43", "1700000010.250");
	ck_assert_int_eq(rc, 0);
	free(out);
	free(err);
	ck_assert_uint_eq(count_samples("t_push{job=\"sh\"}", 1700000000, 1700000010, 10), 2);
	rc = run_vigil(&out, &err, "push", "t_push{job=sh}", "1", NULL);
	ck_assert_int_eq(rc, 2);
	ck_assert(strstr(err, "invalid SERIES") != NULL);
	free(out);
	free(err);
	rc = run_vigil(&out, &err, "push", "t_push", "one", NULL);
	ck_assert_int_eq(rc, 2);
	free(out);
	free(err);
	rc = run_vigil(&out, &err, "push", "t_push", "1", "yesterday");
	ck_assert_int_eq(rc, 2);
	free(out);
	free(err);
	rc = run_vigil(&out, &err, "import", NULL, NULL, NULL);
	ck_assert_int_eq(rc, 2);
	free(out);
	free(err);
}
END_TEST

static Suite *import_suite(void)
{
	Suite *s = suite_create("import");
	TCase *tc = tcase_create("receiver");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_bad_lines_reported_rest_stored_and_queryable);
	tcase_add_test(tc, test_large_body_streamed_with_bounded_rss);
	tcase_add_test(tc, test_chunked_gzip_and_extra_labels);
	tcase_add_test(tc, test_samples_survive_kill_and_restart);
	tcase_add_test(tc, test_hostile_framing_and_other_requests);
	tcase_add_test(tc, test_nul_in_head_refused_without_spinning);
	tcase_add_test(tc, test_pipelined_queries_then_import_in_order);
	tcase_add_test(tc, test_cli_import_and_push);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(import_suite());
	int nf;

	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
