/*
 * test_http_errors.c: every error reply of docs/http-errors.md that a
 * running receiver can be made to give, from one real vigil-receiver over
 * loopback. Requests go over raw sockets (most are malformed on purpose),
 * from a table with a request or more for each row of the document marked
 * "E" (the rest need states named there). Each reply must have the row's
 * status, be the Prometheus JSON envelope with the row's errorType (or,
 * under /api/v2/, Alertmanager's shape: a JSON string), and carry every
 * header a success reply of the API carries (Content-Type:
 * application/json, Date, Content-Length and the CORS headers, for a
 * request with an Origin): the set is read from a success reply, so a
 * header added to successes is asked of errors too.
 *
 * The receiver runs with authentication on (every request that passes the
 * connection's filter carries the admin token unless the row is about
 * credentials), small head and body limits, a rule file to break for the
 * reload, an alerting: section, and a small query.max_response_size.
 */
#include "config.h"

#include "tests/harness.h"
#include "common/buf.h"

#include <check.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/banned.h"

#define READ_TOKEN "r3ad-t0ken"
#define ADMIN_TOKEN "adm1n-t0ken"
#define O "Origin: http://o.example\r\n"
#define A "Authorization: Bearer " ADMIN_TOKEN "\r\n"
#define R "Authorization: Bearer " READ_TOKEN "\r\n"
#define GOOD_RULES "groups:\n- name: g\n  rules:\n  - record: r\n    expr: vector(1)\n"

static char *dir;
static struct vg_t_receiver rcv;
/* The names of the headers of a success reply (setup), lower case,
 * each followed by '\n'. */
static char api_headers[1024];

struct raw_reply {
	int status;
	char headers[8192]; /* the status line and header lines */
	struct vg_buf body;
};

/* Reads one reply on fd (wait_ms at most) and splits it. */
static void read_reply(int fd, int wait_ms, struct raw_reply *out)
{
	struct vg_buf in = VG_BUF_INIT;
	const char *end;

	memset(out, 0, sizeof(*out));
	vg_t_http_read_reply(fd, wait_ms, false, &in);
	ck_assert_msg(in.len > 12 && strncmp(vg_buf_cstr(&in), "HTTP/1.", 7) == 0, "no reply: \"%.300s\"",
		      vg_buf_cstr(&in));
	out->status = (int)strtol(vg_buf_cstr(&in) + 9, NULL, 10);
	end = strstr(vg_buf_cstr(&in), "\r\n\r\n");
	ck_assert_ptr_nonnull(end);
	snprintf(out->headers, sizeof(out->headers), "%.*s", (int)(end - vg_buf_cstr(&in) + 2), vg_buf_cstr(&in));
	vg_buf_append(&out->body, end + 4, in.len - (size_t)(end + 4 - vg_buf_cstr(&in)));
	vg_buf_release(&in);
}

/* Sends len bytes of req on a new connection and reads the reply. */
static void exchange(const void *req, size_t len, struct raw_reply *out)
{
	int fd = vg_t_connect(rcv.http_port);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(send(fd, req, len, MSG_NOSIGNAL), (ssize_t)len);
	read_reply(fd, 10000, out);
	close(fd);
}

/* The value of header name in r (a static buffer), or NULL. */
static const char *header(const struct raw_reply *r, const char *name)
{
	static char val[512];
	const char *p = strchr(r->headers, '\n');
	size_t n = strlen(name);

	for (; p != NULL; p = strchr(p, '\n')) {
		p++;
		if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
			const char *v = p + n + 1, *e = strpbrk(v, "\r\n");
			while (*v == ' ')
				v++;
			snprintf(val, sizeof(val), "%.*s", (int)(e ? e - v : (long)strlen(v)), v);
			return val;
		}
	}
	return NULL;
}

/* What a row expects beyond status and type. */
enum {
	NO_ORIGIN = 1, /* the Origin is not within reach of the refusal */
	NO_BODY = 2,   /* the answer to a HEAD */
	HAS_DATA = 4,  /* an import's refusal: "data" holds its counts */
};

/* One refusal: status, the envelope with errorType type (NULL:
 * Alertmanager's JSON string), every API header, and want_header (a
 * "Name: value" the reply must also carry; NULL: none). */
static void check_reply(const char *what, const struct raw_reply *r, int status, const char *type,
			const char *want_header, unsigned flags)
{
	json_error_t e;
	json_t *j;

	ck_assert_msg(r->status == status, "%s: status %d, wanted %d: %s", what, r->status, status,
		      vg_buf_cstr(&r->body));
	ck_assert_msg(header(r, "Content-Type") && strcmp(header(r, "Content-Type"), "application/json") == 0,
		      "%s: %s", what, r->headers);
	for (const char *p = api_headers; *p; p = strchr(p, '\n') + 1) {
		char name[128];
		snprintf(name, sizeof(name), "%.*s", (int)(strchr(p, '\n') - p), p);
		if ((flags & NO_ORIGIN) && (strncmp(name, "access-control-", 15) == 0 || strcmp(name, "vary") == 0))
			continue;
		ck_assert_msg(header(r, name) != NULL, "%s: no %s header: %s", what, name, r->headers);
	}
	if (!(flags & NO_ORIGIN))
		ck_assert_msg(header(r, "Access-Control-Allow-Origin") &&
				      strcmp(header(r, "Access-Control-Allow-Origin"), "*") == 0,
			      "%s: %s", what, r->headers);
	if (want_header != NULL) {
		const char *colon = strchr(want_header, ':');
		char name[64];
		const char *v;
		snprintf(name, sizeof(name), "%.*s", (int)(colon - want_header), want_header);
		v = header(r, name);
		ck_assert_msg(v != NULL && strncmp(v, colon + 2, strlen(colon + 2)) == 0, "%s: no \"%s\": %s", what,
			      want_header, r->headers);
	}
	if (flags & NO_BODY) {
		ck_assert_msg(r->body.len == 0, "%s: a body to a HEAD", what);
		return;
	}
	j = json_loadb((const char *)r->body.data, r->body.len, JSON_DECODE_ANY, &e);
	ck_assert_msg(j != NULL, "%s: not JSON (%s): %s", what, e.text, vg_buf_cstr(&r->body));
	if (type == NULL) {
		/* Alertmanager's API v2: the error is a JSON string. */
		ck_assert_msg(json_is_string(j) && json_string_length(j) > 0, "%s: %s", what, vg_buf_cstr(&r->body));
		json_decref(j);
		return;
	}
	ck_assert_msg(json_is_object(j), "%s: %s", what, vg_buf_cstr(&r->body));
	ck_assert_str_eq(json_string_value(json_object_get(j, "status")), "error");
	ck_assert_msg(json_string_value(json_object_get(j, "errorType")) &&
			      strcmp(json_string_value(json_object_get(j, "errorType")), type) == 0,
		      "%s: errorType in %s, wanted %s", what, vg_buf_cstr(&r->body), type);
	ck_assert_msg(json_string_length(json_object_get(j, "error")) > 0, "%s: %s", what, vg_buf_cstr(&r->body));
	ck_assert_uint_eq(json_object_size(j), (flags & HAS_DATA) ? 4 : 3);
	if (flags & HAS_DATA)
		ck_assert(json_is_object(json_object_get(j, "data")));
	json_decref(j);
}

/* A request: raw bytes as they are (raw_len 0: strlen), or built from
 * method, target, header lines (each ending in CRLF) and body (then a
 * Content-Length), always with Host. */
struct row {
	const char *what;
	const char *raw;
	size_t raw_len;
	const char *method, *target, *headers, *body;
	int status;
	const char *type;
	const char *want_header;
	unsigned flags;
};

static void run_row(const struct row *w)
{
	struct vg_buf req = VG_BUF_INIT;
	struct raw_reply r;

	if (w->raw != NULL) {
		vg_buf_append(&req, w->raw, w->raw_len ? w->raw_len : strlen(w->raw));
	} else {
		vg_buf_printf(&req, "%s %s HTTP/1.1\r\nHost: x\r\n%s", w->method, w->target, w->headers);
		if (w->body)
			vg_buf_printf(&req, "Content-Length: %zu\r\n\r\n%s", strlen(w->body), w->body);
		else
			vg_buf_puts(&req, "\r\n");
	}
	ck_assert(!vg_buf_failed(&req));
	exchange(req.data, req.len, &r);
	check_reply(w->what, &r, w->status, w->type, w->want_header, w->flags);
	vg_buf_release(&r.body);
	vg_buf_release(&req);
}

#define FORM "Content-Type: application/x-www-form-urlencoded\r\n"
/* A HEAD's reply is read to the close, so that a body sent would show. */
#define CLOSE "Connection: close\r\n"
#define IMPORT "/api/v1/import/prometheus"
#define NUL_IN_HEADER "GET / HTTP/1.1\r\nX\0Y: 1\r\n" O "\r\n"
#define NUL_IN_TARGET "GET /a\0b HTTP/1.1\r\n" O "\r\n"

static const struct row rows[] = {
	/* The connection's filter (import.c, check_head), before evhttp. */
	{ "no HTTP version", "GET /api/v1/query\r\n" O "\r\n", 0, .status = 400, .type = "bad_data" },
	{ "garbage request line", "\x01\x02 hello\r\n" O "\r\n", 0, .status = 400, .type = "bad_data" },
	{ "lower-case HTTP version", "GET / http/1.1\r\n" O "\r\n", 0, .status = 400, .type = "bad_data" },
	{ "empty request target", "GET  HTTP/1.1\r\n" O "\r\n", 0, .status = 400, .type = "bad_data" },
	{ "header line without a colon", "GET / HTTP/1.1\r\nnocolon\r\n" O "\r\n", 0, .status = 400, .type = "bad_data" },
	{ "empty header name", "GET / HTTP/1.1\r\n: v\r\n" O "\r\n", 0, .status = 400, .type = "bad_data" },
	{ "CR in a header name", "GET / HTTP/1.1\r\nX\rY: 1\r\n" O "\r\n", 0, .status = 400, .type = "bad_data" },
	{ "CR in a header value", "GET / HTTP/1.1\r\nX: a\rb\r\n" O "\r\n", 0, .status = 400, .type = "bad_data" },
	{ "NUL in a header", NUL_IN_HEADER, sizeof(NUL_IN_HEADER) - 1, .status = 400, .type = "bad_data" },
	{ "NUL in the target", NUL_IN_TARGET, sizeof(NUL_IN_TARGET) - 1, .status = 400, .type = "bad_data" },
	{ "target evhttp cannot parse", "GET http://[x/ HTTP/1.1\r\n" O "\r\n", 0, .status = 400, .type = "bad_data" },
	{ "folded header line", "GET / HTTP/1.1\r\n" O "X-A: 1\r\n  2\r\n\r\n", 0, .status = 400, .type = "bad_data" },
	{ "HTTP/2.0", "GET / HTTP/2.0\r\n" O "\r\n", 0, .status = 505, .type = "bad_data" },
	{ "unknown method", "BREW /pot HTTP/1.1\r\n" O "\r\n", 0, .status = 405, .type = "bad_data",
	  .want_header = "Allow: GET, HEAD, POST, OPTIONS" },
	{ "CONNECT", "CONNECT x:443 HTTP/1.1\r\n" O "\r\n", 0, .status = 405, .type = "bad_data" },
	{ "Content-Length and Transfer-Encoding",
	  "POST /api/v1/query HTTP/1.1\r\n" O "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 0,
	  .status = 400, .type = "bad_data" },
	{ "two Content-Lengths", "POST /api/v1/query HTTP/1.1\r\n" O "Content-Length: 3\r\nContent-Length: 4\r\n\r\n",
	  0, .status = 400, .type = "bad_data" },
	{ "negative Content-Length", "POST /api/v1/query HTTP/1.1\r\n" O "Content-Length: -3\r\n\r\n", 0,
	  .status = 400, .type = "bad_data" },
	{ "Transfer-Encoding gzip", "POST /api/v1/query HTTP/1.1\r\n" O "Transfer-Encoding: gzip\r\n\r\n", 0,
	  .status = 501, .type = "bad_data" },
	{ "chunked body to a query", "POST /api/v1/query HTTP/1.1\r\n" O "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	  0, .status = 411, .type = "bad_data" },
	{ "body past http_max_body_size", "POST /api/v1/query HTTP/1.1\r\n" O FORM "Content-Length: 8192\r\n\r\n", 0,
	  .status = 413, .type = "bad_data" },
	{ "Expect other than 100-continue", "POST /api/v1/query HTTP/1.1\r\n" O "Expect: tea\r\nContent-Length: 1\r\n\r\n",
	  0, .status = 417, .type = "bad_data" },
	{ "Expect after a tab", "POST /api/v1/query HTTP/1.1\r\n" O "Expect:\t100-continue\r\nContent-Length: 1\r\n\r\n",
	  0, .status = 417, .type = "bad_data" },

	/* The import, answered by import.c itself. */
	{ "import without a credential", .method = "POST", .target = IMPORT, .headers = O, .body = "a 1\n",
	  .status = 401, .type = "unauthorized", .want_header = "WWW-Authenticate: Bearer" },
	{ "import with a read credential", .method = "POST", .target = IMPORT, .headers = O R, .body = "a 1\n",
	  .status = 403, .type = "forbidden" },
	{ "import timestamp not a number", .method = "POST", .target = IMPORT "?timestamp=x", .headers = O A,
	  .body = "a 1\n", .status = 400, .type = "bad_data" },
	{ "import extra_label without =", .method = "POST", .target = IMPORT "?extra_label=x", .headers = O A,
	  .body = "a 1\n", .status = 400, .type = "bad_data" },
	{ "import bad escape in the query", .method = "POST", .target = IMPORT "?a=%zz", .headers = O A,
	  .body = "a 1\n", .status = 400, .type = "bad_data" },
	{ "import Content-Encoding br", .method = "POST", .target = IMPORT, .headers = O A "Content-Encoding: br\r\n",
	  .body = "a 1\n", .status = 415, .type = "bad_data" },
	{ "import bad chunk size", "POST " IMPORT " HTTP/1.1\r\n" O A "Transfer-Encoding: chunked\r\n\r\nzz\r\n", 0,
	  .status = 400, .type = "bad_data", .flags = HAS_DATA },
	{ "import body not gzip", .method = "POST", .target = IMPORT, .headers = O A "Content-Encoding: gzip\r\n",
	  .body = "not gzip at all", .status = 400, .type = "bad_data", .flags = HAS_DATA },

	/* evhttp's requests, answered by http_api.c. */
	{ "read without a credential", .method = "GET", .target = "/api/v1/labels", .headers = O, .status = 401,
	  .type = "unauthorized", .want_header = "WWW-Authenticate: Bearer" },
	{ "read with a wrong token", .method = "GET", .target = "/api/v1/labels",
	  .headers = O "Authorization: Bearer nope\r\n", .status = 401, .type = "unauthorized" },
	{ "admin with a read credential", .method = "POST", .target = "/api/v1/admin/seal", .headers = O R, .body = "",
	  .status = 403, .type = "forbidden" },
	{ "unknown API endpoint", .method = "GET", .target = "/api/v1/nosuch", .headers = O A, .status = 404,
	  .type = "not_found" },
	{ "unknown path", .method = "GET", .target = "/nosuch", .headers = O A, .status = 404, .type = "not_found" },
	{ "OPTIONS on an unknown path", .method = "OPTIONS", .target = "/nosuch", .headers = O, .status = 404,
	  .type = "not_found" },
	{ "web path refused", .method = "GET", .target = "/a%2fb", .headers = O A, .status = 400, .type = "bad_data" },
	{ "POST to a GET route", .method = "POST", .target = "/api/v1/status/buildinfo", .headers = O A, .body = "",
	  .status = 405, .type = "bad_data", .want_header = "Allow: GET, HEAD, OPTIONS" },
	{ "PUT to a query", .method = "PUT", .target = "/api/v1/query", .headers = O A, .status = 405,
	  .type = "bad_data", .want_header = "Allow: GET, HEAD, POST, OPTIONS" },
	{ "PATCH", .method = "PATCH", .target = "/api/v1/labels", .headers = O A, .body = "", .status = 405,
	  .type = "bad_data", .want_header = "Allow: GET, HEAD, POST, OPTIONS" },
	{ "TRACE", .method = "TRACE", .target = "/api/v1/query", .headers = O A, .status = 405, .type = "bad_data",
	  .want_header = "Allow: GET, HEAD, POST, OPTIONS" },
	{ "DELETE an admin route", .method = "DELETE", .target = "/api/v1/admin/seal", .headers = O A, .status = 405,
	  .type = "bad_data", .want_header = "Allow: POST, PUT, OPTIONS" },
	{ "HEAD of a POST route", .method = "HEAD", .target = "/-/reload", .headers = O A CLOSE, .status = 405,
	  .type = "bad_data", .want_header = "Allow: POST, PUT, OPTIONS", .flags = NO_BODY },
	{ "HEAD of an error", .method = "HEAD", .target = "/api/v1/query", .headers = O A CLOSE, .status = 400,
	  .type = "bad_data", .flags = NO_BODY },
	{ "HEAD without a credential", .method = "HEAD", .target = "/api/v1/labels", .headers = O CLOSE, .status = 401,
	  .type = "unauthorized", .want_header = "WWW-Authenticate: Bearer", .flags = NO_BODY },
	{ "POST /metrics", .method = "POST", .target = "/metrics", .headers = O A, .body = "", .status = 405,
	  .type = "bad_data", .want_header = "Allow: GET, HEAD, OPTIONS" },
	{ "POST /-/healthy", .method = "POST", .target = "/-/healthy", .headers = O, .body = "", .status = 405,
	  .type = "bad_data", .want_header = "Allow: GET, HEAD, OPTIONS" },
	{ "GET /-/reload", .method = "GET", .target = "/-/reload", .headers = O A, .status = 405, .type = "bad_data",
	  .want_header = "Allow: POST, PUT, OPTIONS" },
	{ "GET the import", .method = "GET", .target = IMPORT, .headers = O A, .status = 405, .type = "bad_data",
	  .want_header = "Allow: POST, OPTIONS" },
	{ "import evhttp got", "POST http://x" IMPORT " HTTP/1.1\r\nHost: x\r\n" O A "Content-Length: 4\r\n\r\na 1\n", 0,
	  .status = 400, .type = "bad_data" },
	{ "bad parameter", .method = "GET", .target = "/api/v1/query?query=up%7B", .headers = O A, .status = 400,
	  .type = "bad_data" },
	{ "bad form escape", .method = "POST", .target = "/api/v1/query", .headers = O A FORM, .body = "query=up%zz",
	  .status = 400, .type = "bad_data" },
	{ "bad label name", .method = "GET", .target = "/api/v1/label/%zz/values", .headers = O A, .status = 400,
	  .type = "bad_data" },
	{ "rules type", .method = "GET", .target = "/api/v1/rules?type=x", .headers = O A, .status = 400,
	  .type = "bad_data" },
	{ "metadata limit", .method = "GET", .target = "/api/v1/metadata?limit=x", .headers = O A, .status = 400,
	  .type = "bad_data" },
	{ "series without match[]", .method = "GET", .target = "/api/v1/series", .headers = O A, .status = 400,
	  .type = "bad_data" },
	{ "evaluation error", .method = "GET", .target = "/api/v1/query?query=a%20%2B%20on()%20b", .headers = O A,
	  .status = 422, .type = "execution" },
	{ "response past query.max_response_size", .method = "GET", .target = "/api/v1/query?query=big",
	  .headers = O A, .status = 422, .type = "execution" },
	{ "query timeout", .method = "GET", .target = "/api/v1/query?query=up&timeout=0s", .headers = O A,
	  .status = 503, .type = "timeout" },
	{ "negative query timeout", .method = "GET", .target = "/api/v1/query?query=up&timeout=-1", .headers = O A,
	  .status = 503, .type = "timeout" },
	{ "delete_series without match[]", .method = "POST", .target = "/api/v1/admin/tsdb/delete_series",
	  .headers = O A, .body = "", .status = 400, .type = "bad_data" },
	{ "delete_series matching everything", .method = "POST",
	  .target = "/api/v1/admin/tsdb/delete_series?match[]=%7Bx%3D%22%22%7D", .headers = O A, .body = "",
	  .status = 400, .type = "bad_data" },
	{ "delete_series end before start", .method = "POST",
	  .target = "/api/v1/admin/tsdb/delete_series?match[]=a&start=10&end=5", .headers = O A, .body = "",
	  .status = 400, .type = "bad_data" },

	/* Alertmanager's API v2 (receiver/alert/notifier_*api.c). */
	{ "v2 unknown endpoint", .method = "GET", .target = "/api/v2/nosuch", .headers = O A, .status = 404 },
	{ "v2 method", .method = "DELETE", .target = "/api/v2/status", .headers = O A, .status = 405 },
	{ "v2 silence not JSON", .method = "POST", .target = "/api/v2/silences", .headers = O A, .body = "{",
	  .status = 400 },
	{ "v2 silence not found", .method = "GET", .target = "/api/v2/silence/00000000-0000-0000-0000-000000000000",
	  .headers = O A, .status = 404 },
	{ "v2 alerts not JSON", .method = "POST", .target = "/api/v2/alerts", .headers = O A, .body = "{",
	  .status = 400 },
	{ "v2 ack not found", .method = "GET", .target = "/api/v2/ack/nosuch", .headers = O A, .status = 404 },
	{ "v2 acks method", .method = "DELETE", .target = "/api/v2/acks", .headers = O A, .status = 405 },
};

static void write_rules(const char *text)
{
	ck_assert_int_eq(vg_t_write_rules(dir, "r.yaml", text), 0);
}

static void setup(void)
{
	char config[2048];
	struct vg_buf body = VG_BUF_INIT, req = VG_BUF_INIT;
	struct raw_reply r;

	dir = vg_t_tmpdir("vigil-http-errors");
	ck_assert_ptr_nonnull(dir);
	write_rules(GOOD_RULES);
	snprintf(config, sizeof(config),
		 "http_read_token: " READ_TOKEN "\n"
		 "http_admin_token: " ADMIN_TOKEN "\n"
		 "http_max_header_size: 4KiB\n"
		 "http_max_header_fields: 20\n"
		 "http_max_body_size: 4KiB\n"
		 "http_header_timeout: 1s\n"
		 "rule_files: [\"%s/rules/*.yaml\"]\n"
		 "query:\n  max_response_size: 1KiB\n"
		 "alerting:\n"
		 "  route:\n    receiver: nowhere\n"
		 "  receivers:\n    - name: nowhere\n      webhook_configs:\n        - url: http://127.0.0.1:9/hook\n",
		 dir);
	ck_assert_msg(vg_t_receiver_start_config(&rcv, dir, config, 0) == 0, "receiver did not start (%s)", dir);

	/* The data of the evaluation rows: a{x} twice and b{x} once (a
	 * many-to-one match without group_left), big{i} 40 times. */
	vg_buf_puts(&body, "a{x=\"1\"} 1\na{x=\"2\"} 1\nb{x=\"1\"} 1\n");
	for (int i = 0; i < 40; i++)
		vg_buf_printf(&body, "big{i=\"%d\"} 1\n", i);
	vg_buf_printf(&req, "POST " IMPORT " HTTP/1.1\r\nHost: x\r\n" A "Content-Length: %zu\r\n\r\n", body.len);
	vg_buf_append(&req, body.data, body.len);
	exchange(req.data, req.len, &r);
	ck_assert_msg(r.status == 204, "import: %d %s", r.status, vg_buf_cstr(&r.body));
	vg_buf_release(&r.body);
	vg_buf_release(&req);
	vg_buf_release(&body);

	/* The headers of a success reply: what every error must carry. */
	{
		static const char ok[] = "GET /api/v1/labels HTTP/1.1\r\nHost: x\r\n" O A "\r\n";
		char *out = api_headers;
		exchange(ok, sizeof(ok) - 1, &r);
		ck_assert_int_eq(r.status, 200);
		for (const char *p = strchr(r.headers, '\n'); p && p[1]; p = strchr(p + 1, '\n')) {
			const char *colon = strchr(p + 1, ':');
			size_t n = colon ? (size_t)(colon - p - 1) : 0;
			if (n == 0 || (size_t)(out - api_headers) + n + 2 >= sizeof(api_headers))
				continue;
			for (size_t i = 0; i < n; i++)
				*out++ = (char)(p[1 + i] >= 'A' && p[1 + i] <= 'Z' ? p[1 + i] + 32 : p[1 + i]);
			*out++ = '\n';
		}
		*out = '\0';
		vg_buf_release(&r.body);
		/* What the code sets on a success reply with an Origin. */
		ck_assert_msg(strstr(api_headers, "content-type\n") && strstr(api_headers, "date\n") &&
				      strstr(api_headers, "content-length\n") &&
				      strstr(api_headers, "access-control-allow-origin\n") &&
				      strstr(api_headers, "access-control-allow-methods\n") &&
				      strstr(api_headers, "access-control-allow-headers\n") &&
				      strstr(api_headers, "access-control-expose-headers\n") &&
				      strstr(api_headers, "vary\n"),
			      "%s", api_headers);
	}
}

static void teardown(void)
{
	int r = vg_t_stop(&rcv.proc, SIGTERM, 10000);

	ck_assert_msg(r == 0, "vigil-receiver exited with %d (see %s)", r, rcv.proc.log_path);
	vg_t_rmrf(dir);
	free(dir);
}

START_TEST(test_http_error_table)
{
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		run_row(&rows[i]);
}
END_TEST

/* The limits on heads, past which the filter refuses before the head
 * has ended (the request line alone past the limit leaves no Origin in
 * reach). */
START_TEST(test_http_error_head_limits)
{
	struct row w = { "request line past http_max_header_size", .status = 414, .type = "bad_data", .flags = NO_ORIGIN };
	struct vg_buf req = VG_BUF_INIT;

	vg_buf_puts(&req, "GET /api/v1/query?query=");
	for (int i = 0; i < 5000; i++)
		vg_buf_putc(&req, 'a');
	vg_buf_puts(&req, " HTTP/1.1\r\n" O "\r\n");
	w.raw = vg_buf_cstr(&req);
	run_row(&w);

	vg_buf_reset(&req);
	vg_buf_puts(&req, "GET /api/v1/labels HTTP/1.1\r\n" O);
	for (int i = 0; i < 10; i++) {
		vg_buf_printf(&req, "X-Long-%d: ", i);
		for (int k = 0; k < 500; k++)
			vg_buf_putc(&req, 'b');
		vg_buf_puts(&req, "\r\n");
	}
	vg_buf_puts(&req, "\r\n");
	w = (struct row){ "head past http_max_header_size", vg_buf_cstr(&req), .status = 431, .type = "bad_data" };
	run_row(&w);

	vg_buf_reset(&req);
	vg_buf_puts(&req, "GET /api/v1/labels HTTP/1.1\r\n" O);
	for (int i = 0; i < 21; i++)
		vg_buf_printf(&req, "X-%d: 1\r\n", i);
	vg_buf_puts(&req, "\r\n");
	w = (struct row){ "more than http_max_header_fields", vg_buf_cstr(&req), .status = 431, .type = "bad_data" };
	run_row(&w);
	vg_buf_release(&req);
}
END_TEST

/* A head that does not end within http_header_timeout: 408, with the
 * CORS headers of the Origin it did send. */
START_TEST(test_http_error_head_timeout)
{
	static const char partial[] = "GET /api/v1/labels HTTP/1.1\r\n" O;
	struct raw_reply r;
	int fd = vg_t_connect(rcv.http_port);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(send(fd, partial, sizeof(partial) - 1, MSG_NOSIGNAL), (ssize_t)(sizeof(partial) - 1));
	read_reply(fd, 10000, &r);
	close(fd);
	check_reply("head past http_header_timeout", &r, 408, "bad_data", "Connection: close", 0);
	vg_buf_release(&r.body);
}
END_TEST

/* A reload that finds a broken rule file: 500 internal, naming it. */
START_TEST(test_http_error_reload_refused)
{
	static const char req[] = "POST /-/reload HTTP/1.1\r\nHost: x\r\n" O A "Content-Length: 0\r\n\r\n";
	struct raw_reply r;

	write_rules("groups:\n- name: g\n  rules:\n  - record: r\n    expr: vector(\n");
	exchange(req, sizeof(req) - 1, &r);
	check_reply("reload of a broken rule file", &r, 500, "internal", NULL, 0);
	ck_assert_msg(strstr(vg_buf_cstr(&r.body), "r.yaml") != NULL, "%s", vg_buf_cstr(&r.body));
	vg_buf_release(&r.body);
	write_rules(GOOD_RULES);
	exchange(req, sizeof(req) - 1, &r);
	ck_assert_int_eq(r.status, 200);
	vg_buf_release(&r.body);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("http_errors");
	TCase *tc = tcase_create("errors");
	SRunner *sr;
	int failed;

	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_http_error_table);
	tcase_add_test(tc, test_http_error_head_limits);
	tcase_add_test(tc, test_http_error_head_timeout);
	tcase_add_test(tc, test_http_error_reload_refused);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
