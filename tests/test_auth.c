/*
 * test_auth.c: who may use a real receiver's HTTP API (receiver/http/
 * auth.h): a vigil-receiver started with read and admin tokens (one from a
 * token file) and basic credentials, asked over loopback with libcurl.
 * Reads without a credential are refused with 401 and a challenge, a
 * read credential is refused with 403 on admin endpoints (seal, import:
 * the import is checked in import.c's filter), /-/healthy, /-/ready and
 * CORS preflights need none, and every refusal is the JSON envelope.
 * And TLS: the CLI's --cacert against openssl s_server, and a receiver
 * whose HTTP API speaks HTTPS only (http_tls_cert_file).
 */
#include "config.h"

#include "tests/harness.h"
#include "common/buf.h"

#include <check.h>
#include <curl/curl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "common/banned.h"

static char *dir;
static struct vg_t_receiver rcv;

#define READ_TOKEN "r3ad-t0ken"
#define ADMIN_TOKEN "adm1n-t0ken"

struct reply {
	long status;
	struct vg_buf body, headers;
};

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
	vg_buf_append(arg, p, size * n);
	return size * n;
}

static void reply_release(struct reply *r)
{
	vg_buf_release(&r->body);
	vg_buf_release(&r->headers);
}

/* TLS files of a request: the CAs trusted (NULL: the system's), a client
 * certificate and its key (NULL: none). */
struct tls_files {
	const char *ca, *cert, *key;
};

/* method on base (a scheme, host and port) and path, with TLS files tls
 * (NULL: none), the header line header (NULL: none), or basic auth
 * user_pw ("user:password"; NULL: none); body for POST. The curl result
 * is returned (the test fails on any but CURLE_OK unless may_fail). */
static CURLcode request_at(const char *base, const struct tls_files *tls, const char *method, const char *path,
			   const char *header, const char *user_pw, const char *body, bool may_fail,
			   struct reply *r)
{
	CURL *c = curl_easy_init();
	struct curl_slist *hdrs = NULL;
	struct vg_buf url = VG_BUF_INIT;
	CURLcode rc;

	memset(r, 0, sizeof(*r));
	vg_buf_printf(&url, "%s%s", base, path);
	curl_easy_setopt(c, CURLOPT_URL, vg_buf_cstr(&url));
	if (tls && tls->ca)
		curl_easy_setopt(c, CURLOPT_CAINFO, tls->ca);
	if (tls && tls->cert) {
		curl_easy_setopt(c, CURLOPT_SSLCERT, tls->cert);
		curl_easy_setopt(c, CURLOPT_SSLKEY, tls->key);
	}
	if (header)
		hdrs = curl_slist_append(hdrs, header);
	if (user_pw) {
		curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(c, CURLOPT_USERPWD, user_pw);
	}
	hdrs = curl_slist_append(hdrs, "Expect:");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r->body);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &r->headers);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (strcmp(method, "POST") == 0) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
	} else if (strcmp(method, "GET") != 0) {
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	}
	rc = curl_easy_perform(c);
	ck_assert_msg(rc == CURLE_OK || may_fail, "%s %s: %s", method, path, curl_easy_strerror(rc));
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
	vg_buf_release(&url);
	return rc;
}

/* method on path with the Authorization header auth (NULL: none), or
 * basic auth user_pw ("user:password"; NULL: none); body for POST. */
static void request(const char *method, const char *path, const char *auth, const char *user_pw,
		    const char *body, struct reply *r)
{
	char base[64], header[512];

	snprintf(base, sizeof(base), "http://127.0.0.1:%u", (unsigned)rcv.http_port);
	if (auth)
		snprintf(header, sizeof(header), "Authorization: %s", auth);
	request_at(base, NULL, method, path, auth ? header : NULL, user_pw, body, false, r);
}

/* A refusal: the status and the JSON envelope's errorType. */
static void check_refused(const struct reply *r, long status, const char *type)
{
	json_error_t e;
	json_t *j;

	ck_assert_msg(r->status == status, "status %ld, wanted %ld: %s", r->status, status, vg_buf_cstr(&r->body));
	ck_assert_ptr_nonnull(strcasestr(vg_buf_cstr(&r->headers), "\r\nContent-Type: application/json\r\n"));
	if (status == 401) {
		ck_assert_ptr_nonnull(strcasestr(vg_buf_cstr(&r->headers), "\r\nWWW-Authenticate: Bearer realm=\"vigil\""));
		ck_assert_ptr_nonnull(strcasestr(vg_buf_cstr(&r->headers), "\r\nWWW-Authenticate: Basic realm=\"vigil\""));
	}
	j = json_loadb((const char *)r->body.data, r->body.len, 0, &e);
	ck_assert_msg(j != NULL, "not JSON: %s", vg_buf_cstr(&r->body));
	ck_assert_str_eq(json_string_value(json_object_get(j, "status")), "error");
	ck_assert_str_eq(json_string_value(json_object_get(j, "errorType")), type);
	json_decref(j);
}

static void setup(void)
{
	char path[700], config[2048];
	FILE *f;

	dir = vg_t_tmpdir("vigil-auth");
	ck_assert_ptr_nonnull(dir);
	snprintf(path, sizeof(path), "%s/read.token", dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(READ_TOKEN "\n", f);
	fclose(f);
	snprintf(config, sizeof(config),
		 "http_read_token_file: %s\n"
		 "http_admin_token: " ADMIN_TOKEN "\n"
		 "http_read_basic: \"grafana:pw-1\"\n"
		 "http_admin_basic: \"ops:pw-2\"\n",
		 path);
	ck_assert_msg(vg_t_receiver_start_config(&rcv, dir, config, 0) == 0, "receiver did not start (%s)", dir);
}

static void teardown(void)
{
	int r = vg_t_stop(&rcv.proc, SIGTERM, 10000);

	ck_assert_msg(r == 0, "vigil-receiver exited with %d (see %s)", r, rcv.proc.log_path);
	vg_t_rmrf(dir);
	free(dir);
}

START_TEST(test_auth_reads_need_a_credential)
{
	struct reply r;

	request("GET", "/api/v1/labels", NULL, NULL, NULL, &r);
	check_refused(&r, 401, "unauthorized");
	reply_release(&r);
	request("GET", "/metrics", NULL, NULL, NULL, &r);
	check_refused(&r, 401, "unauthorized");
	reply_release(&r);
	request("GET", "/api/v1/query?query=up", "Bearer wrong", NULL, NULL, &r);
	check_refused(&r, 401, "unauthorized");
	reply_release(&r);
	request("GET", "/api/v1/query?query=up", "Bearer " READ_TOKEN "x", NULL, NULL, &r);
	check_refused(&r, 401, "unauthorized");
	reply_release(&r);
	request("GET", "/api/v1/query?query=up", "Token " READ_TOKEN, NULL, NULL, &r);
	check_refused(&r, 401, "unauthorized");
	reply_release(&r);
	/* An unknown path does not tell a stranger it is unknown. */
	request("GET", "/nosuch", NULL, NULL, NULL, &r);
	check_refused(&r, 401, "unauthorized");
	reply_release(&r);

	request("GET", "/api/v1/query?query=up", "Bearer " READ_TOKEN, NULL, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	reply_release(&r);
	request("GET", "/api/v1/labels", "bearer " ADMIN_TOKEN, NULL, NULL, &r);
	ck_assert_int_eq(r.status, 200); /* admin may read too */
	reply_release(&r);
	request("GET", "/nosuch", "Bearer " READ_TOKEN, NULL, NULL, &r);
	check_refused(&r, 404, "not_found");
	reply_release(&r);
}
END_TEST

START_TEST(test_auth_basic)
{
	struct reply r;

	request("GET", "/api/v1/labels", NULL, "grafana:pw-1", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	reply_release(&r);
	request("GET", "/api/v1/labels", NULL, "grafana:pw-2", NULL, &r);
	check_refused(&r, 401, "unauthorized");
	reply_release(&r);
	request("GET", "/api/v1/labels", "Basic !!!!", NULL, NULL, &r);
	check_refused(&r, 401, "unauthorized");
	reply_release(&r);
	request("POST", "/api/v1/admin/seal", NULL, "grafana:pw-1", "", &r);
	check_refused(&r, 403, "forbidden");
	reply_release(&r);
	request("POST", "/api/v1/admin/seal", NULL, "ops:pw-2", "", &r);
	ck_assert_msg(r.status == 200, "%ld %s", r.status, vg_buf_cstr(&r.body));
	reply_release(&r);
}
END_TEST

START_TEST(test_auth_admin_endpoints_refuse_a_read_token)
{
	static const char line[] = "auth_test_metric{job=\"t\"} 42\n";
	struct reply r;
	json_t *j;
	json_error_t e;

	request("POST", "/api/v1/admin/seal", "Bearer " READ_TOKEN, NULL, "", &r);
	check_refused(&r, 403, "forbidden");
	reply_release(&r);
	request("POST", "/api/v1/admin/tsdb/delete_series?match[]=x", "Bearer " READ_TOKEN, NULL, "", &r);
	check_refused(&r, 403, "forbidden");
	reply_release(&r);
	request("POST", "/-/reload", "Bearer " READ_TOKEN, NULL, "", &r);
	check_refused(&r, 403, "forbidden");
	reply_release(&r);
	/* The import is refused in the filter, before its body is read. */
	request("POST", "/api/v1/import/prometheus", NULL, NULL, line, &r);
	check_refused(&r, 401, "unauthorized");
	reply_release(&r);
	request("POST", "/api/v1/import/prometheus", "Bearer " READ_TOKEN, NULL, line, &r);
	check_refused(&r, 403, "forbidden");
	reply_release(&r);
	request("POST", "/api/v1/import/prometheus", "Bearer " ADMIN_TOKEN, NULL, line, &r);
	ck_assert_msg(r.status == 204, "%ld %s", r.status, vg_buf_cstr(&r.body));
	reply_release(&r);
	request("GET", "/api/v1/query?query=auth_test_metric", "Bearer " READ_TOKEN, NULL, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	j = json_loadb((const char *)r.body.data, r.body.len, 0, &e);
	ck_assert_ptr_nonnull(j);
	ck_assert_uint_eq(json_array_size(json_object_get(json_object_get(j, "data"), "result")), 1);
	json_decref(j);
	reply_release(&r);
	request("POST", "/api/v1/admin/seal", "Bearer " ADMIN_TOKEN, NULL, "", &r);
	ck_assert_msg(r.status == 200, "%ld %s", r.status, vg_buf_cstr(&r.body));
	reply_release(&r);
	/* The refusals are counted. */
	request("GET", "/metrics", "Bearer " READ_TOKEN, NULL, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_null(strstr(vg_buf_cstr(&r.body), "vigil_receiver_http_auth_refused_total 0\n"));
	reply_release(&r);
}
END_TEST

START_TEST(test_auth_health_ready_preflight_need_none)
{
	struct reply r;

	request("GET", "/-/healthy", NULL, NULL, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	reply_release(&r);
	request("GET", "/-/ready", NULL, NULL, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	reply_release(&r);
	request("OPTIONS", "/api/v1/query", NULL, NULL, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	reply_release(&r);
}
END_TEST

/* vigil query up against the receiver with token (NULL: none); the exit
 * status, and stderr in *err_out (caller frees). */
static int cli_query(const char *token, char **err_out)
{
	char server[64];
	char *out = NULL;
	int rc;

	snprintf(server, sizeof(server), "http://127.0.0.1:%u", (unsigned)rcv.http_port);
	char *with[] = { (char *)vg_t_bin("vigil"), "--server", server, "--token", (char *)token, "query", "up", NULL };
	char *without[] = { (char *)vg_t_bin("vigil"), "--server", server, "query", "up", NULL };
	rc = vg_t_run(token ? with : without, &out, err_out, 20000);
	free(out);
	return rc;
}

START_TEST(test_auth_cli_sends_token)
{
	char *err = NULL;

	unsetenv("VIGIL_TOKEN");
	ck_assert_int_eq(cli_query(NULL, &err), 1);
	ck_assert_msg(strstr(err, "authentication required") != NULL, "%s", err);
	free(err);
	ck_assert_int_eq(cli_query(READ_TOKEN, &err), 0);
	free(err);
	setenv("VIGIL_TOKEN", READ_TOKEN, 1);
	ck_assert_int_eq(cli_query(NULL, &err), 0);
	free(err);
	/* --token wins over the environment. */
	ck_assert_int_eq(cli_query("nope", &err), 1);
	free(err);
	unsetenv("VIGIL_TOKEN");
}
END_TEST

/* Runs argv (an openssl command) to success. */
static void run_ok(char *const argv[])
{
	char *out = NULL, *err = NULL;
	int rc = vg_t_run(argv, &out, &err, 20000);

	ck_assert_msg(rc == 0, "%s %s: exit %d: %s", argv[0], argv[1], rc, err ? err : "");
	free(out);
	free(err);
}

/* A throwaway CA in dir (ca.pem), a server certificate it signed for
 * 127.0.0.1 (srv.pem, srv.key), and another CA that signed nothing
 * (other.pem). */
static void make_certs(const char *d)
{
	char ca_key[700], ca[700], key[700], csr[700], crt[700], ext[700], other[700], other_key[700];
	FILE *f;

	snprintf(ca_key, sizeof(ca_key), "%s/ca.key", d);
	snprintf(ca, sizeof(ca), "%s/ca.pem", d);
	snprintf(key, sizeof(key), "%s/srv.key", d);
	snprintf(csr, sizeof(csr), "%s/srv.csr", d);
	snprintf(crt, sizeof(crt), "%s/srv.pem", d);
	snprintf(ext, sizeof(ext), "%s/ext.cnf", d);
	snprintf(other, sizeof(other), "%s/other.pem", d);
	snprintf(other_key, sizeof(other_key), "%s/other.key", d);
	f = fopen(ext, "w");
	ck_assert_ptr_nonnull(f);
	fputs("subjectAltName=IP:127.0.0.1\n", f);
	fclose(f);
	char *mk_ca[] = { "/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
			  "-nodes", "-keyout", ca_key, "-out", ca, "-days", "1", "-subj", "/CN=vigil test CA", NULL };
	char *mk_other[] = { "/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
			     "-nodes", "-keyout", other_key, "-out", other, "-days", "1", "-subj", "/CN=other CA", NULL };
	char *mk_csr[] = { "/usr/bin/openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
			   "-keyout", key, "-out", csr, "-subj", "/CN=127.0.0.1", NULL };
	char *sign[] = { "/usr/bin/openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
			 "-out", crt, "-days", "1", "-extfile", ext, NULL };
	run_ok(mk_ca);
	run_ok(mk_other);
	run_ok(mk_csr);
	run_ok(sign);
}

/* A free port on 127.0.0.1 (bound, read, released). */
static uint16_t free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sa.sin_addr.s_addr = htonl(0x7f000001);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	close(fd);
	return ntohs(sa.sin_port);
}

/*
 * vigil --cacert against an https:// server (openssl s_server with a
 * certificate from a throwaway CA): the wrong CA is refused in the
 * handshake; the right one gets through it (the server is no Vigil, so
 * the answer is then "not the API", exit 3 with that message).
 */
START_TEST(test_auth_cli_cacert)
{
	char *d = vg_t_tmpdir("vigil-tls");
	char accept[64], url[64], crt[700], key[700], ca[700], other[700], log_path[700];
	char *out = NULL, *err = NULL;
	struct vg_t_proc srv;
	uint16_t port;
	int64_t deadline;
	int rc;

	make_certs(d);
	snprintf(crt, sizeof(crt), "%s/srv.pem", d);
	snprintf(key, sizeof(key), "%s/srv.key", d);
	snprintf(ca, sizeof(ca), "%s/ca.pem", d);
	snprintf(other, sizeof(other), "%s/other.pem", d);
	snprintf(log_path, sizeof(log_path), "%s/s_server.log", d);
	port = free_port();
	snprintf(accept, sizeof(accept), "127.0.0.1:%u", (unsigned)port);
	snprintf(url, sizeof(url), "https://127.0.0.1:%u", (unsigned)port);
	char *server[] = { "/usr/bin/openssl", "s_server", "-accept", accept, "-cert", crt, "-key", key, "-www", "-quiet",
			   NULL };
	ck_assert_int_eq(vg_t_spawn(&srv, log_path, server), 0);
	deadline = vg_t_now_ms() + 10000;
	for (;;) {
		int fd = vg_t_connect(port);
		if (fd >= 0) {
			close(fd);
			break;
		}
		ck_assert_msg(vg_t_now_ms() < deadline && vg_t_alive(&srv), "openssl s_server did not listen");
		vg_t_sleep_ms(50);
	}
	char *wrong[] = { (char *)vg_t_bin("vigil"), "--server", url, "--cacert", other, "query", "up", NULL };
	rc = vg_t_run(wrong, &out, &err, 20000);
	ck_assert_int_eq(rc, 3);
	ck_assert_msg(strstr(err, "cannot reach") != NULL && strcasestr(err, "certificate") != NULL, "%s", err);
	free(out);
	free(err);
	char *right[] = { (char *)vg_t_bin("vigil"), "--server", url, "--cacert", ca, "query", "up", NULL };
	rc = vg_t_run(right, &out, &err, 20000);
	ck_assert_int_eq(rc, 3);
	ck_assert_msg(strstr(err, "cannot reach") == NULL && strstr(err, "unexpected response") != NULL, "%s", err);
	free(out);
	free(err);
	vg_t_stop(&srv, SIGTERM, 5000);
	vg_t_rmrf(d);
	free(d);
}
END_TEST

/* ------------------------------------------------------------------------
 * HTTPS: a real receiver with http_tls_cert_file and http_tls_key_file
 * (certificates as make_certs), asked by vigil --cacert and libcurl. */

static char *tls_dir;
static struct vg_t_receiver tls_rcv;

static void tls_path(char *out, size_t cap, const char *name)
{
	snprintf(out, cap, "%s/%s", tls_dir, name);
}

static void tls_setup(void)
{
	char crt[700], key[700], config[2048];

	tls_dir = vg_t_tmpdir("vigil-https");
	ck_assert_ptr_nonnull(tls_dir);
	make_certs(tls_dir);
	tls_path(crt, sizeof(crt), "srv.pem");
	tls_path(key, sizeof(key), "srv.key");
	snprintf(config, sizeof(config), "http_tls_cert_file: %s\nhttp_tls_key_file: %s\nhttp_header_timeout: 2s\n",
		 crt, key);
	ck_assert_msg(vg_t_receiver_start_config(&tls_rcv, tls_dir, config, 0) == 0, "receiver did not start (%s)",
		      tls_dir);
}

static void tls_teardown(void)
{
	int r = vg_t_stop(&tls_rcv.proc, SIGTERM, 10000);

	ck_assert_msg(r == 0, "vigil-receiver exited with %d (see %s)", r, tls_rcv.proc.log_path);
	vg_t_rmrf(tls_dir);
	free(tls_dir);
}

/* method on https://127.0.0.1:<port>path trusting the test CA, with the
 * extra header (NULL: none); the reply in r. */
static void tls_request(const char *method, const char *path, const char *header, struct reply *r)
{
	char base[64], ca[700];
	struct tls_files files = { ca, NULL, NULL };

	tls_path(ca, sizeof(ca), "ca.pem");
	snprintf(base, sizeof(base), "https://127.0.0.1:%u", (unsigned)tls_rcv.http_port);
	request_at(base, &files, method, path, header, NULL, NULL, false, r);
}

/* vigil --server https://... --cacert <ca file name> args...; the exit
 * status, stdout and stderr (caller frees). */
static int tls_cli(const char *ca_name, char **args, size_t n_args, char **out, char **err)
{
	char url[64], ca[700];
	char *argv[16];
	size_t n = 0;

	ck_assert_uint_le(n_args, 10);
	tls_path(ca, sizeof(ca), ca_name);
	snprintf(url, sizeof(url), "https://127.0.0.1:%u", (unsigned)tls_rcv.http_port);
	argv[n++] = (char *)vg_t_bin("vigil");
	argv[n++] = "--server";
	argv[n++] = url;
	argv[n++] = "--cacert";
	argv[n++] = ca;
	for (size_t i = 0; i < n_args; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	return vg_t_run(argv, out, err, 30000);
}

/*
 * vigil import over HTTPS (the import is streamed by the connection
 * filter, under which OpenSSL now sits), then vigil query over HTTPS gets
 * the imported value back; with the wrong CA the CLI is refused in the
 * handshake (exit 3, "cannot reach", the certificate named).
 */
START_TEST(test_https_cli_import_and_query)
{
	char file[700];
	char *out = NULL, *err = NULL;
	FILE *f;
	long now_ms = (long)(time(NULL) * 1000);
	int rc;

	tls_path(file, sizeof(file), "lines.prom");
	f = fopen(file, "w");
	ck_assert_ptr_nonnull(f);
	for (int i = 0; i < 2000; i++)
		fprintf(f, "https_import{n=\"%d\"} %d %ld\n", i, i, now_ms - 1000);
	fclose(f);
	char *import[] = { "import", file };
	rc = tls_cli("ca.pem", import, 2, &out, &err);
	ck_assert_msg(rc == 0, "import: exit %d: %s", rc, err);
	ck_assert_msg(strstr(out, "2000 samples stored") != NULL || strstr(err, "2000 samples stored") != NULL,
		      "%s / %s", out, err);
	free(out);
	free(err);
	char *query[] = { "query", "https_import{n=\"1234\"}", "-o", "json" };
	rc = tls_cli("ca.pem", query, 4, &out, &err);
	ck_assert_msg(rc == 0, "query: exit %d: %s", rc, err);
	ck_assert_msg(strstr(out, "1234") != NULL && strstr(out, "https_import") != NULL, "%s", out);
	free(out);
	free(err);
	char *up[] = { "query", "https_import{n=\"1\"}" };
	rc = tls_cli("other.pem", up, 2, &out, &err);
	ck_assert_int_eq(rc, 3);
	ck_assert_msg(strstr(err, "cannot reach") != NULL && strcasestr(err, "certificate") != NULL, "%s", err);
	free(out);
	free(err);
}
END_TEST

/*
 * JSON errors arrive whole over TLS: evhttp's own reply (a 404 from the
 * router) and the filter's (a 405 it answers itself, then closes with a
 * close_notify); and a reply larger than one round of the filter's copy
 * into OpenSSL (256 KiB) with Connection: close, which evhttp closes as
 * soon as the filter says it has left.
 */
START_TEST(test_https_json_errors_and_large_replies)
{
	struct reply r;
	json_error_t e;
	json_t *j;
	char *out = NULL, *err = NULL, file[700];
	FILE *f;
	long now_ms = (long)(time(NULL) * 1000);
	int rc;

	tls_request("GET", "/api/v1/no_such_thing", NULL, &r);
	check_refused(&r, 404, "not_found");
	reply_release(&r);
	tls_request("BREW", "/api/v1/query", NULL, &r);
	check_refused(&r, 405, "bad_data");
	ck_assert_ptr_nonnull(strcasestr(vg_buf_cstr(&r.headers), "\r\nConnection: close\r\n"));
	reply_release(&r);

	/* 4000 series of about 100 bytes each in /api/v1/series. */
	tls_path(file, sizeof(file), "many.prom");
	f = fopen(file, "w");
	ck_assert_ptr_nonnull(f);
	for (int i = 0; i < 4000; i++)
		fprintf(f, "https_many{n=\"%d\",pad=\"%s\"} 1 %ld\n", i,
			"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", now_ms - 1000);
	fclose(f);
	char *import[] = { "import", file };
	rc = tls_cli("ca.pem", import, 2, &out, &err);
	ck_assert_msg(rc == 0, "import: exit %d: %s", rc, err);
	free(out);
	free(err);
	tls_request("GET", "/api/v1/series?match[]=https_many", "Connection: close", &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_uint_gt(r.body.len, 256 * 1024);
	j = json_loadb((const char *)r.body.data, r.body.len, 0, &e);
	ck_assert_msg(j != NULL, "not JSON (%zu bytes): %s", r.body.len, e.text);
	ck_assert_uint_eq(json_array_size(json_object_get(j, "data")), 4000);
	json_decref(j);
	reply_release(&r);
}
END_TEST

/*
 * One kept-alive HTTPS connection carries evhttp's answers and the
 * filter's in turn: a 404 (evhttp's), an import (the filter's 204), a
 * query that reads it (evhttp's), a 405 (the filter's, which closes).
 */
START_TEST(test_https_keep_alive_mixes_both_writers)
{
	struct {
		const char *method, *path, *body;
		long status;
		const char *has;
	} steps[] = {
		{ "GET", "/api/v1/nope", NULL, 404, "not_found" },
		{ "POST", "/api/v1/import/prometheus", "https_kept 7\n", 204, NULL },
		{ "GET", "/api/v1/query?query=https_kept", NULL, 200, "\"7\"" },
		{ "BREW", "/api/v1/query", NULL, 405, "method not allowed" },
	};
	CURL *c = curl_easy_init();
	struct curl_slist *hdrs = curl_slist_append(NULL, "Expect:");
	char url[512], ca[700];

	tls_path(ca, sizeof(ca), "ca.pem");
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		struct vg_buf body = VG_BUF_INIT;
		long status = 0, connects = -1;
		CURLcode rc;

		snprintf(url, sizeof(url), "https://127.0.0.1:%u%s", (unsigned)tls_rcv.http_port, steps[i].path);
		curl_easy_setopt(c, CURLOPT_URL, url);
		curl_easy_setopt(c, CURLOPT_CAINFO, ca);
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
		curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
		curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, NULL);
		if (steps[i].body)
			curl_easy_setopt(c, CURLOPT_POSTFIELDS, steps[i].body);
		else if (strcmp(steps[i].method, "GET") != 0)
			curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, steps[i].method);
		rc = curl_easy_perform(c);
		ck_assert_msg(rc == CURLE_OK, "%s %s: %s", steps[i].method, steps[i].path, curl_easy_strerror(rc));
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
		curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &connects);
		ck_assert_msg(status == steps[i].status, "%s %s: %ld: %s", steps[i].method, steps[i].path, status,
			      vg_buf_cstr(&body));
		ck_assert_msg(i == 0 || connects == 0, "step %zu made a new connection", i);
		if (steps[i].has)
			ck_assert_msg(strstr(vg_buf_cstr(&body), steps[i].has) != NULL, "%s", vg_buf_cstr(&body));
		vg_buf_release(&body);
	}
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
}
END_TEST

/*
 * HTTPS replies with Connection: close, one connection each: evhttp frees
 * each connection from inside the filter's write callback over OpenSSL
 * (see test_hostile_http's close mix for plain HTTP); the receiver keeps
 * answering, and tls_teardown wants status 0 at SIGTERM.
 */
START_TEST(test_https_connection_close_replies)
{
	for (int i = 0; i < 40; i++) {
		struct reply r = { 0 };

		tls_request("GET", "/api/v1/alerts", "Connection: close", &r);
		ck_assert_msg(r.status == 200, "request %d: %ld", i, r.status);
		reply_release(&r);
	}
	ck_assert(vg_t_alive(&tls_rcv.proc));
}
END_TEST

/* The value of the sample name in /metrics over HTTPS, or -1. */
static double tls_metric(const char *name)
{
	struct reply r;
	const char *p;
	double v = -1;
	size_t n = strlen(name);

	tls_request("GET", "/metrics", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	for (p = vg_buf_cstr(&r.body); p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, name, n) == 0 && p[n] == ' ')
			v = strtod(p + n + 1, NULL);
	reply_release(&r);
	return v;
}

/*
 * A plain-HTTP request to the HTTPS port gets no HTTP answer (a TLS alert
 * or the close); the refusal is counted and logged once, and the
 * receiver goes on serving HTTPS.
 */
START_TEST(test_https_plain_http_gets_no_answer)
{
	const char req[] = "GET /api/v1/query?query=1 HTTP/1.1\r\nHost: x\r\n\r\n";
	double before = tls_metric("vigil_receiver_http_refused_total");
	char buf[512];
	size_t got = 0;
	struct reply r;
	struct timeval tv = { 10, 0 };
	int fd;

	ck_assert(before >= 0);
	for (int round = 0; round < 3; round++) {
		fd = vg_t_connect(tls_rcv.http_port);
		ck_assert_int_ge(fd, 0);
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		ck_assert_int_eq(vg_t_write_all(fd, req, sizeof(req) - 1), 0);
		got = 0;
		for (;;) {
			ssize_t k = read(fd, buf + got, sizeof(buf) - 1 - got);
			if (k <= 0)
				break;
			got += (size_t)k;
			if (got == sizeof(buf) - 1)
				break;
		}
		close(fd);
		buf[got] = '\0';
		ck_assert_msg(got < sizeof(buf) - 1, "the receiver kept the connection open");
		ck_assert_msg(got == 0 || (unsigned char)buf[0] == 0x15, "an answer that is not a TLS alert: %s", buf);
		ck_assert_ptr_null(strstr(buf, "HTTP/"));
	}
	tls_request("GET", "/api/v1/query?query=1", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_nonnull(strstr(vg_buf_cstr(&r.body), "\"status\":\"success\""));
	reply_release(&r);
	ck_assert_msg(tls_metric("vigil_receiver_http_refused_total") >= before + 3, "refusals not counted");
	ck_assert(vg_t_log_contains(&tls_rcv.proc, "HTTPS connection refused"));
}
END_TEST

/*
 * http_tls_client_ca_file: a client without a certificate fails the
 * handshake (counted as a refusal); one with a certificate the CA signed
 * (the server's own, which has no usage restriction) is served.
 */
START_TEST(test_https_client_certificate_required)
{
	char *d = vg_t_tmpdir("vigil-https-mtls");
	char crt[700], key[700], ca[700], config[2600], base[64];
	struct vg_t_receiver r;
	struct reply rep;
	struct tls_files without = { ca, NULL, NULL }, with = { ca, crt, key };
	int stopped;

	make_certs(d);
	snprintf(crt, sizeof(crt), "%s/srv.pem", d);
	snprintf(key, sizeof(key), "%s/srv.key", d);
	snprintf(ca, sizeof(ca), "%s/ca.pem", d);
	snprintf(config, sizeof(config), "http_tls_cert_file: %s\nhttp_tls_key_file: %s\nhttp_tls_client_ca_file: %s\n",
		 crt, key, ca);
	ck_assert_msg(vg_t_receiver_start_config(&r, d, config, 0) == 0, "receiver did not start (%s)", d);
	snprintf(base, sizeof(base), "https://127.0.0.1:%u", (unsigned)r.http_port);
	ck_assert_int_ne(request_at(base, &without, "GET", "/-/healthy", NULL, NULL, NULL, true, &rep), CURLE_OK);
	reply_release(&rep);
	ck_assert_int_eq(request_at(base, &with, "GET", "/-/healthy", NULL, NULL, NULL, false, &rep), CURLE_OK);
	ck_assert_int_eq(rep.status, 200);
	reply_release(&rep);
	ck_assert(vg_t_log_contains(&r.proc, "HTTPS connection refused"));
	stopped = vg_t_stop(&r.proc, SIGTERM, 10000);
	ck_assert_msg(stopped == 0, "vigil-receiver exited with %d", stopped);
	vg_t_rmrf(d);
	free(d);
}
END_TEST

/* --check-config reads the HTTPS files as the listener will: a key
 * without its certificate, or a certificate file that holds none, is
 * exit 1 naming the key. */
START_TEST(test_https_check_config)
{
	char *d = vg_t_tmpdir("vigil-https-conf");
	char conf[700], text[2048], data[700], cfg_arg[720];
	char *out = NULL, *err = NULL;
	FILE *f;
	int rc;

	make_certs(d);
	snprintf(conf, sizeof(conf), "%s/r.yaml", d);
	snprintf(data, sizeof(data), "%s/data", d);
	snprintf(cfg_arg, sizeof(cfg_arg), "--config=%s", conf);
	char *argv[] = { (char *)vg_t_bin("vigil-receiver"), "--check-config", cfg_arg, "--data-dir", data, NULL };
	/* http_tls_cert_file's file, http_tls_key_file's (NULL: not set),
	 * and the error (NULL: valid). */
	const char *cases[][3] = {
		{ "srv.pem", "srv.key", NULL },
		{ NULL, "srv.key", "http_tls_key_file is set without http_tls_cert_file" },
		{ "srv.key", NULL, "HTTPS: tls_cert_file" },
		{ "srv.pem", "other.key", "HTTPS: tls_key_file" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int n = 0;
		if (cases[i][0])
			n += snprintf(text + n, sizeof(text) - (size_t)n, "http_tls_cert_file: %s/%s\n", d, cases[i][0]);
		if (cases[i][1])
			snprintf(text + n, sizeof(text) - (size_t)n, "http_tls_key_file: %s/%s\n", d, cases[i][1]);
		f = fopen(conf, "w");
		ck_assert_ptr_nonnull(f);
		fputs(text, f);
		fclose(f);
		rc = vg_t_run(argv, &out, &err, 20000);
		if (cases[i][2] == NULL) {
			ck_assert_msg(rc == 0, "%s: exit %d: %s", text, rc, err);
		} else {
			ck_assert_msg(rc == 1, "%s: exit %d", text, rc);
			ck_assert_msg(strstr(err, cases[i][2]) != NULL, "%s: %s", text, err);
		}
		free(out);
		free(err);
	}
	vg_t_rmrf(d);
	free(d);
}
END_TEST

/*
 * A handshake that never comes (a silent connection, half a ClientHello)
 * is closed at http_header_timeout (2 s here), counted with the head
 * timeouts; the socket's own 10 s bound only keeps the test finite.
 */
START_TEST(test_https_stalled_handshake_is_closed)
{
	const char *starts[] = { "", "\x16\x03\x01\x02\x00\x01" };
	double before = tls_metric("vigil_receiver_http_head_timeouts_total");
	struct timeval tv = { 10, 0 };
	char buf[64];

	for (size_t i = 0; i < 2; i++) {
		int fd = vg_t_connect(tls_rcv.http_port);
		ssize_t k;
		ck_assert_int_ge(fd, 0);
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		if (starts[i][0])
			ck_assert_int_eq(vg_t_write_all(fd, starts[i], 6), 0);
		k = read(fd, buf, sizeof(buf));
		close(fd);
		ck_assert_msg(k == 0, "start %zu: read %zd, wanted the close", i, k);
	}
	ck_assert(tls_metric("vigil_receiver_http_head_timeouts_total") >= before + 2);
}
END_TEST

static Suite *auth_suite(void)
{
	Suite *s = suite_create("auth");
	TCase *tc = tcase_create("auth");

	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_auth_reads_need_a_credential);
	tcase_add_test(tc, test_auth_basic);
	tcase_add_test(tc, test_auth_admin_endpoints_refuse_a_read_token);
	tcase_add_test(tc, test_auth_health_ready_preflight_need_none);
	tcase_add_test(tc, test_auth_cli_sends_token);
	suite_add_tcase(s, tc);
	{
		TCase *tls = tcase_create("tls");
		tcase_set_timeout(tls, 60);
		tcase_add_test(tls, test_auth_cli_cacert);
		tcase_add_test(tls, test_https_check_config);
		tcase_add_test(tls, test_https_client_certificate_required);
		suite_add_tcase(s, tls);
	}
	{
		TCase *https = tcase_create("https");
		tcase_set_timeout(https, 60);
		tcase_add_checked_fixture(https, tls_setup, tls_teardown);
		tcase_add_test(https, test_https_cli_import_and_query);
		tcase_add_test(https, test_https_json_errors_and_large_replies);
		tcase_add_test(https, test_https_plain_http_gets_no_answer);
		tcase_add_test(https, test_https_stalled_handshake_is_closed);
		tcase_add_test(https, test_https_keep_alive_mixes_both_writers);
		tcase_add_test(https, test_https_connection_close_replies);
		suite_add_tcase(s, https);
	}
	return s;
}

int main(void)
{
	SRunner *sr;
	int nf;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	sr = srunner_create(auth_suite());
	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	curl_global_cleanup();
	return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
