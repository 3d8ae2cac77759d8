/*
 * test_web.c: the web page's serving (receiver/http/web.c) on a real
 * receiver over loopback, with raw requests so that the request line is
 * exactly what a hostile client sends: every row of the asset table
 * answered with its type, ETag, Cache-Control and CSP and the bytes of
 * its file; 304 on a matching If-None-Match; odd paths (traversal,
 * percent-encoding, backslashes, NUL, overlong UTF-8) refused with 400
 * and paths off the table with 404, in the API's JSON error shape;
 * web_assets_dir serving only the table's files; and the path checker
 * itself.
 */
#include "receiver/http/web.h"
#include "common/buf.h"
#include "harness.h"

#include <check.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "common/banned.h"

struct reply {
	int status;
	struct vg_buf head; /* status line and headers, NUL-ended */
	const char *body;   /* into head's data, after the blank line */
	size_t body_len;
};

/* Sends req (len bytes, exactly) and reads one reply: the head, then
 * Content-Length bytes of body. The client closes: a burst of replies the
 * server closes (Connection: close) can stall one (import.c's filter),
 * which is not what this suite tests. */
static void raw(uint16_t port, const char *req, size_t len, struct reply *r)
{
	int fd = vg_t_connect(port);
	char buf[65536];
	const char *end = NULL, *cl;
	size_t want = 0;

	memset(r, 0, sizeof(*r));
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(vg_t_write_all(fd, req, len), 0);
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;
		if (end != NULL && r->head.len - (size_t)(end + 4 - (const char *)r->head.data) >= want)
			break;
		ck_assert_msg(poll(&p, 1, 5000) == 1, "no reply to %.60s", req);
		if ((n = read(fd, buf, sizeof(buf))) <= 0)
			break;
		vg_buf_append(&r->head, buf, (size_t)n);
		if (end == NULL && (end = strstr(vg_buf_cstr(&r->head), "\r\n\r\n")) != NULL) {
			cl = strstr(vg_buf_cstr(&r->head), "\r\nContent-Length: ");
			want = cl != NULL && cl < end ? strtoul(cl + 18, NULL, 10) : 0;
		}
	}
	close(fd);
	ck_assert_msg(sscanf(vg_buf_cstr(&r->head), "HTTP/1.1 %d", &r->status) == 1, "no status: %s",
		      vg_buf_cstr(&r->head));
	end = strstr(vg_buf_cstr(&r->head), "\r\n\r\n");
	ck_assert_ptr_nonnull(end);
	r->body = end + 4;
	r->body_len = r->head.len - (size_t)(r->body - (const char *)r->head.data);
}

static void get(uint16_t port, const char *target, const char *extra, struct reply *r)
{
	struct vg_buf req = VG_BUF_INIT;

	vg_buf_printf(&req, "GET %s HTTP/1.1\r\nHost: x\r\n%s\r\n", target, extra ? extra : "");
	raw(port, (const char *)req.data, req.len, r);
	vg_buf_release(&req);
}

/* The value of header name (case as sent), in a static buffer, or NULL. */
static const char *header(const struct reply *r, const char *name)
{
	static char v[512];
	char key[128];
	const char *p, *e;

	snprintf(key, sizeof(key), "\r\n%s: ", name);
	if ((p = strstr(vg_buf_cstr(&r->head), key)) == NULL || p > r->body)
		return NULL;
	p += strlen(key);
	e = strstr(p, "\r\n");
	snprintf(v, sizeof(v), "%.*s", (int)(e - p), p);
	return v;
}

/* The reply is the API's error envelope with this errorType. */
static void assert_json_error(const struct reply *r, const char *type, const char *what)
{
	json_error_t e;
	json_t *j = json_loadb(r->body, r->body_len, 0, &e);

	ck_assert_msg(j != NULL, "%s: not JSON: %s", what, r->body);
	ck_assert_str_eq(json_string_value(json_object_get(j, "status")), "error");
	ck_assert_msg(strcmp(json_string_value(json_object_get(j, "errorType")), type) == 0, "%s: %s", what, r->body);
	json_decref(j);
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	struct vg_buf b = VG_BUF_INIT;
	char buf[8192];
	size_t n;

	if (f == NULL)
		return NULL;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		vg_buf_append(&b, buf, n);
	fclose(f);
	return vg_buf_detach(&b, len);
}

static struct vg_t_receiver rcv;
static char *dir;

static void start(void)
{
	dir = vg_t_tmpdir("vg-web");
	ck_assert_int_eq(vg_t_receiver_start_config(&rcv, dir, NULL, 0), 0);
}

static void stop(void)
{
	ck_assert_int_eq(vg_t_stop(&rcv.proc, SIGTERM, 10000), 0);
	vg_t_rmrf(dir);
	free(dir);
}

START_TEST(test_web_every_asset_with_its_headers)
{
	const char *builddir = getenv("VG_BUILDDIR") ? getenv("VG_BUILDDIR") : VG_BUILDDIR;

	for (size_t i = 0; vg_web_assets[i].url_path != NULL; i++) {
		const struct vg_web_asset *a = &vg_web_assets[i];
		struct reply r;
		char path[1024];
		char *want;
		size_t want_len = 0;
		bool is_vendor = strncmp(a->file, "vendor/", 7) == 0;

		snprintf(path, sizeof(path), "%s/receiver/http/web/%s", is_vendor ? builddir : VG_SRCDIR, a->file);
		want = slurp(path, &want_len);
		ck_assert_msg(want != NULL, "%s: no file %s (is uPlot fetched?)", a->url_path, path);
		get(rcv.http_port, a->url_path, NULL, &r);
		ck_assert_msg(r.status == 200, "%s: %d", a->url_path, r.status);
		ck_assert_str_eq(header(&r, "Content-Type"), a->content_type);
		ck_assert_str_eq(header(&r, "Cache-Control"),
				 is_vendor ? "public, max-age=31536000, immutable" : "no-cache");
		ck_assert_str_eq(header(&r, "Content-Security-Policy"), vg_web_csp);
		ck_assert_str_eq(header(&r, "X-Content-Type-Options"), "nosniff");
		ck_assert_msg(header(&r, "ETag") && header(&r, "ETag")[0] == '"', "%s: no ETag", a->url_path);
		ck_assert_msg(r.body_len == want_len && memcmp(r.body, want, want_len) == 0, "%s: not the file's bytes",
			      a->url_path);
		free(want);
		vg_buf_release(&r.head);
	}
}
END_TEST

/* Every "/..." that index.html loads is a row of the table (so the
 * vendor version in the page is the one the table serves). */
START_TEST(test_web_page_loads_only_table_rows)
{
	struct reply r;
	const char *p;
	int n = 0;

	get(rcv.http_port, "/", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	for (p = r.body; (p = strpbrk(p, "\"")) != NULL; p++) {
		char url[256];
		if (p[1] != '/' || sscanf(p + 1, "%255[^\"]", url) != 1)
			continue;
		bool found = false;
		for (size_t i = 0; vg_web_assets[i].url_path != NULL; i++)
			found = found || strcmp(vg_web_assets[i].url_path, url) == 0;
		ck_assert_msg(found, "index.html loads %s, which the table does not serve", url);
		n++;
		p += strlen(url);
	}
	ck_assert_int_ge(n, 5);
	ck_assert_ptr_null(strstr(r.body, "<script>")); /* no inline script */
	ck_assert_ptr_null(strstr(r.body, "style=\""));
	vg_buf_release(&r.head);
}
END_TEST

START_TEST(test_web_etag_revalidates)
{
	struct reply r, r2;
	char etag[64], inm[128];

	get(rcv.http_port, "/vigil.js", NULL, &r);
	snprintf(etag, sizeof(etag), "%s", header(&r, "ETag"));
	snprintf(inm, sizeof(inm), "If-None-Match: %s\r\n", etag);
	get(rcv.http_port, "/vigil.js", inm, &r2);
	ck_assert_int_eq(r2.status, 304);
	ck_assert_uint_eq(r2.body_len, 0);
	ck_assert_str_eq(header(&r2, "ETag"), etag);
	vg_buf_release(&r2.head);
	snprintf(inm, sizeof(inm), "If-None-Match: \"other\", W/%s\r\n", etag);
	get(rcv.http_port, "/vigil.js", inm, &r2);
	ck_assert_int_eq(r2.status, 304);
	vg_buf_release(&r2.head);
	get(rcv.http_port, "/vigil.js", "If-None-Match: \"0000000000000000\"\r\n", &r2);
	ck_assert_int_eq(r2.status, 200);
	ck_assert_uint_eq(r2.body_len, r.body_len);
	vg_buf_release(&r2.head);
	get(rcv.http_port, "/vigil.js", "If-None-Match: *\r\n", &r2);
	ck_assert_int_eq(r2.status, 304);
	vg_buf_release(&r2.head);
	vg_buf_release(&r.head);
}
END_TEST

START_TEST(test_web_refuses_odd_paths)
{
	static const struct {
		const char *target;
		int status;
	} cases[] = {
		{ "/..", 400 }, { "/../etc/passwd", 400 }, { "/vendor/../vigil.js", 400 },
		{ "/%2e%2e/etc/passwd", 400 }, { "/%2E%2E%2Fvigil.js", 400 }, { "/vigil%2ejs", 400 },
		{ "/%2fetc%2fpasswd", 400 }, { "/vigil.js%00", 400 }, { "/vigil.js%00.html", 400 },
		{ "/%c0%ae%c0%ae/", 400 }, { "/\xc0\xae\xc0\xae/vigil.js", 400 }, { "/%u002e", 400 },
		{ "/a\\b", 400 }, { "/..\\..\\etc\\passwd", 400 }, { "//vigil.js", 400 }, { "/./vigil.js", 400 },
		{ "/vendor//uplot", 400 }, { "/\xe2\x80\xa8", 400 }, { "/vigil.js;x", 400 },
		{ "/vigil.js/", 404 }, { "/VIGIL.JS", 404 }, { "/index.html", 404 }, { "/receiver.yaml", 404 },
		{ "/vendor/uplot/uPlot.iife.min.js", 404 }, { "/.git/config", 404 }, { "/vendor", 404 },
		{ "/web.c", 404 }, { "/.", 400 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct reply r;
		get(rcv.http_port, cases[i].target, NULL, &r);
		ck_assert_msg(r.status == cases[i].status, "%s: %d, not %d", cases[i].target, r.status, cases[i].status);
		assert_json_error(&r, cases[i].status == 400 ? "bad_data" : "not_found", cases[i].target);
		ck_assert_ptr_null(header(&r, "ETag"));
		vg_buf_release(&r.head);
	}
	{
		/* A NUL on the request line is refused before routing. */
		static const char nul[] = "GET /vigil.js\0/../x HTTP/1.1\r\nHost: x\r\n\r\n";
		struct reply r;
		raw(rcv.http_port, nul, sizeof(nul) - 1, &r);
		ck_assert_int_eq(r.status, 400);
		vg_buf_release(&r.head);
	}
	{
		/* An asset is GET only; the query string is the page's. */
		static const char post[] = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n";
		struct reply r;
		raw(rcv.http_port, post, sizeof(post) - 1, &r);
		ck_assert_int_eq(r.status, 405);
		vg_buf_release(&r.head);
		get(rcv.http_port, "/?expr=up&range=1h", NULL, &r);
		ck_assert_int_eq(r.status, 200);
		vg_buf_release(&r.head);
	}
}
END_TEST

/* A root of one's own: only the table's files in it are served, the
 * missing ones are named in one warning and answered 404. */
START_TEST(test_web_assets_dir_serves_only_the_table)
{
	struct vg_t_receiver r;
	char *d = vg_t_tmpdir("vg-web-dir");
	char path[700], conf[800];
	struct reply rep;
	FILE *f;

	snprintf(path, sizeof(path), "%s/assets", d);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/assets/index.html", d);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	fputs("<p>mine</p>\n", f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/assets/secret.txt", d);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	fputs("secret\n", f);
	fclose(f);
	snprintf(conf, sizeof(conf), "web_assets_dir: %s/assets\n", d);
	ck_assert_int_eq(vg_t_receiver_start_config(&r, d, conf, 0), 0);
	get(r.http_port, "/", NULL, &rep);
	ck_assert_int_eq(rep.status, 200);
	ck_assert_str_eq(rep.body, "<p>mine</p>\n");
	vg_buf_release(&rep.head);
	get(r.http_port, "/vigil.js", NULL, &rep);
	ck_assert_int_eq(rep.status, 404);
	ck_assert_ptr_nonnull(strstr(rep.body, "not installed"));
	vg_buf_release(&rep.head);
	get(r.http_port, "/secret.txt", NULL, &rep);
	ck_assert_int_eq(rep.status, 404);
	vg_buf_release(&rep.head);
	ck_assert_int_eq(vg_t_stop(&r.proc, SIGTERM, 10000), 0);
	ck_assert(vg_t_log_contains(&r.proc, "assets missing under"));
	ck_assert(vg_t_log_contains(&r.proc, "vigil.js"));
	vg_t_rmrf(d);
	free(d);
}
END_TEST

START_TEST(test_web_assets_dir_missing_stops_start)
{
	char *d = vg_t_tmpdir("vg-web-missing");
	char data[600], *out = NULL, *err = NULL;
	int rc;

	snprintf(data, sizeof(data), "%s/data", d);
	char *argv[] = { (char *)vg_t_bin("vigil-receiver"), "--data-dir", data, "--listen", "127.0.0.1:0",
			 "--http-listen", "127.0.0.1:0", "--web.assets-dir", "/nonexistent/vigil-web", NULL };
	rc = vg_t_run(argv, &out, &err, 10000);
	ck_assert_int_ne(rc, 0);
	ck_assert_msg(strstr(err, "/nonexistent/vigil-web: not a directory") != NULL, "%s", err);
	free(out);
	free(err);
	vg_t_rmrf(d);
	free(d);
}
END_TEST

START_TEST(test_web_check_path)
{
	static const struct {
		const char *path;
		int status;
	} cases[] = {
		{ "/", 0 }, { "/vigil.js", 0 }, { "/vendor/uplot-1.6.32/uPlot.min.css", 0 }, { "/a_b~c-d", 0 },
		{ "/.hidden", 0 }, { "/a..b", 0 }, { "", 400 }, { "vigil.js", 400 }, { "/..", 400 }, { "/a/../b", 400 },
		{ "/a/./b", 400 }, { "/a//b", 400 }, { "//", 400 }, { "/a/", 0 }, { "/%41", 400 }, { "/a\\b", 400 },
		{ "/a b", 400 }, { "/a\tb", 400 }, { "/\x7f", 400 }, { "/\x80", 400 }, { "/a?b", 400 }, { "/a#b", 400 },
		{ "/a:b", 400 }, { "/a+b", 400 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *why = NULL;
		int got = vg_web_check_path(cases[i].path, &why);
		ck_assert_msg(got == cases[i].status, "\"%s\": %d, not %d", cases[i].path, got, cases[i].status);
		ck_assert(got == 0 ? why == NULL : why != NULL);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("web");
	TCase *tc = tcase_create("serving");
	SRunner *sr;
	int failed;

	tcase_add_unchecked_fixture(tc, start, stop);
	tcase_add_test(tc, test_web_every_asset_with_its_headers);
	tcase_add_test(tc, test_web_page_loads_only_table_rows);
	tcase_add_test(tc, test_web_etag_revalidates);
	tcase_add_test(tc, test_web_refuses_odd_paths);
	suite_add_tcase(s, tc);
	tc = tcase_create("config");
	tcase_add_test(tc, test_web_assets_dir_serves_only_the_table);
	tcase_add_test(tc, test_web_assets_dir_missing_stops_start);
	tcase_add_test(tc, test_web_check_path);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
