/*
 * test_tls.c: TLS between a real agent and a real receiver, on loopback.
 * A throwaway CA and certificates are made with the openssl command in
 * the test's directory: ca (signs the receiver's certificate, for
 * "localhost" and 127.0.0.1, and an agent's client certificate) and
 * other-ca (signs nothing the receiver has).
 *
 * What must hold: a plain-text client gets nothing from a TLS listener; a
 * wrong token over TLS is refused with ERROR AUTH; an agent that trusts
 * ca, names the receiver by host name (resolved without blocking) and
 * carries the right token is served end to end, up to a query; one that
 * trusts other-ca, or expects another name, or lacks the client
 * certificate a receiver asks for, is refused. And an agent without TLS
 * does not map the TLS libraries at all.
 *
 * Names: receivers are resolved with evdns, never blocking the loop. An
 * agent whose ring holds a name that does not resolve says so once and
 * keeps sampling and sending to the receiver that does.
 */
#include "tests/harness.h"

#include "common/buf.h"
#include "common/frame.h"

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#define TOKEN "s3cret-token"

static char *dir;

static void setup(void)
{
	dir = vg_t_tmpdir("vigil-tls");
	ck_assert_ptr_nonnull(dir);
	ck_assert_int_eq(vg_t_make_certs(dir), 0);
}

static void teardown(void)
{
	vg_t_rmrf(dir);
	free(dir);
}

/* Starts a TLS receiver requiring TOKEN; with is_mutual, agents need a
 * client certificate from ca. */
static void start_receiver(struct vg_t_receiver *r, const char *name, bool is_mutual)
{
	char conf[700], data[700], arg[720];
	FILE *f;

	snprintf(conf, sizeof(conf), "%s/%s.yaml", dir, name);
	snprintf(data, sizeof(data), "%s/%s", dir, name);
	f = fopen(conf, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "token: %s\ntls_cert_file: %s/server.crt\ntls_key_file: %s/server.key\n", TOKEN, dir, dir);
	if (is_mutual)
		fprintf(f, "tls_client_ca_file: %s/ca.crt\n", dir);
	fclose(f);
	snprintf(arg, sizeof(arg), "--config=%s", conf);
	ck_assert_int_eq(vg_t_receiver_start(r, data, arg), 0);
}

/* Starts an agent on a config file with these extra lines. */
static void start_agent(struct vg_t_proc *p, const char *host, const char *server, const char *extra)
{
	char conf[700], log_path[700], spool[700];
	FILE *f;

	snprintf(conf, sizeof(conf), "%s/agent-%s.yaml", dir, host);
	snprintf(log_path, sizeof(log_path), "%s/agent-%s.log", dir, host);
	snprintf(spool, sizeof(spool), "%s/spool-%s", dir, host);
	f = fopen(conf, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "server: \"%s\"\ninterval: 200ms\nhostname: %s\nspool_dir: %s\nbackoff_max: 500ms\n%s", server,
		host, spool, extra);
	fclose(f);
	char *argv[] = { (char *)vg_t_bin("vigil-agent"), "--config", conf, NULL };
	ck_assert_int_eq(vg_t_spawn(p, log_path, argv), 0);
}

/* Whether the selector has a series stored on r, within timeout_ms. */
static bool has_series(const struct vg_t_receiver *r, const char *sel, int timeout_ms)
{
	char path[400], *q;
	int64_t deadline = vg_t_now_ms() + timeout_ms;
	bool ok = false;

	q = vg_t_urlencode(sel);
	snprintf(path, sizeof(path), "/api/v1/query?query=%s", q);
	free(q);
	do {
		long status;
		json_t *doc = vg_t_http_json(r->http_port, path, &status);
		ok = doc && json_array_size(json_object_get(json_object_get(doc, "data"), "result")) > 0;
		json_decref(doc);
		if (!ok)
			vg_t_sleep_ms(100);
	} while (!ok && vg_t_now_ms() < deadline);
	return ok;
}

/* Whether node_load1 of host is stored on r, within timeout_ms. */
static bool has_data(const struct vg_t_receiver *r, const char *host, int timeout_ms)
{
	char sel[200];

	snprintf(sel, sizeof(sel), "node_load1{instance=\"%s\"}", host);
	return has_series(r, sel, timeout_ms);
}

/* --- a raw TLS client, to see exactly what the receiver answers ----------- */

struct tls_conn {
	SSL_CTX *ctx;
	SSL *ssl;
	int fd;
};

/* 0 when the handshake with 127.0.0.1:port succeeded, verifying ca. */
static int tls_connect(struct tls_conn *c, uint16_t port)
{
	struct timeval tv = { 5, 0 };
	char ca[700];

	snprintf(ca, sizeof(ca), "%s/ca.crt", dir);
	memset(c, 0, sizeof(*c));
	c->ctx = SSL_CTX_new(TLS_client_method());
	ck_assert_ptr_nonnull(c->ctx);
	ck_assert_int_eq(SSL_CTX_load_verify_locations(c->ctx, ca, NULL), 1);
	SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
	c->fd = vg_t_connect(port);
	ck_assert_int_ge(c->fd, 0);
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	c->ssl = SSL_new(c->ctx);
	SSL_set_fd(c->ssl, c->fd);
	SSL_set1_host(c->ssl, "localhost");
	return SSL_connect(c->ssl) == 1 ? 0 : -1;
}

static void tls_close(struct tls_conn *c)
{
	SSL_free(c->ssl);
	SSL_CTX_free(c->ctx);
	close(c->fd);
}

static int tls_read_all(struct tls_conn *c, void *p, size_t n)
{
	size_t got = 0;

	while (got < n) {
		int r = SSL_read(c->ssl, (char *)p + got, (int)(n - got));
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

/* Sends HELLO with token; reads the answer: its type, and for ERROR its
 * code and message. */
static int tls_hello(struct tls_conn *c, const char *token, enum vg_frame_type *type, uint32_t *code,
		     char *msg, size_t cap)
{
	struct vg_hello hello = { VG_PROTO_VERSION, vg_str_c("raw-tls"), 1, vg_str_c(token), vg_str_c("test") };
	struct vg_buf raw = VG_BUF_INIT, wire = VG_BUF_INIT;
	struct vg_frame_codec *codec = vg_frame_codec_new(1);
	uint8_t hdr[VG_FRAME_HEADER_SIZE], *payload = NULL;
	struct vg_frame_header h;
	const uint8_t *body;
	size_t body_len;
	int rc = -1;

	vg_hello_pack(&hello, &raw);
	ck_assert_int_eq(vg_frame_encode(codec, VG_FRAME_HELLO, 0, raw.data, raw.len, &wire, NULL), 0);
	ck_assert_int_eq(SSL_write(c->ssl, wire.data, (int)wire.len), (int)wire.len);
	if (tls_read_all(c, hdr, sizeof(hdr)) != 0 || vg_frame_header_decode(hdr, &h, NULL) != 0)
		goto out;
	payload = malloc(h.payload_len + 1);
	if (tls_read_all(c, payload, h.payload_len) != 0 ||
	    vg_frame_open(codec, &h, payload, &body, &body_len, NULL) != 0)
		goto out;
	*type = (enum vg_frame_type)h.type;
	if (h.type == VG_FRAME_ERROR) {
		struct vg_error_msg em;
		ck_assert_int_eq(vg_error_decode(body, body_len, &em, NULL), 0);
		*code = em.code;
		snprintf(msg, cap, "%.*s", (int)em.message.len, em.message.p);
	}
	rc = 0;
out:
	free(payload);
	vg_frame_codec_free(codec);
	vg_buf_release(&raw);
	vg_buf_release(&wire);
	return rc;
}

START_TEST(test_plain_text_client_refused_by_tls_listener)
{
	struct vg_t_receiver r;
	int fd;

	start_receiver(&r, "plain", false);
	fd = vg_t_connect(r.port);
	ck_assert_int_ge(fd, 0);
	/* A HELLO in the clear gets no ACK: the listener wants a handshake. */
	ck_assert_int_ne(vg_t_hello(fd, "plain-agent", 1, NULL), 0);
	close(fd);
	ck_assert(vg_t_wait_log(&r.proc, "closed before HELLO: TLS", 5000));
	ck_assert(vg_t_alive(&r.proc));
	ck_assert_int_eq(vg_t_stop(&r.proc, SIGTERM, 10000), 0);
}
END_TEST

START_TEST(test_wrong_token_refused_with_auth_error)
{
	struct vg_t_receiver r;
	struct tls_conn c;
	enum vg_frame_type type = 0;
	uint32_t code = 0;
	char msg[300] = "";

	start_receiver(&r, "token", false);
	ck_assert_int_eq(tls_connect(&c, r.port), 0);
	ck_assert_int_eq(tls_hello(&c, "wrong-token", &type, &code, msg, sizeof(msg)), 0);
	ck_assert_int_eq(type, VG_FRAME_ERROR);
	ck_assert_uint_eq(code, VG_WIRE_AUTH);
	ck_assert_msg(strstr(msg, "wrong token") != NULL, "message: %s", msg);
	tls_close(&c);

	/* The right one, on the same listener, is acknowledged. */
	ck_assert_int_eq(tls_connect(&c, r.port), 0);
	ck_assert_int_eq(tls_hello(&c, TOKEN, &type, &code, msg, sizeof(msg)), 0);
	ck_assert_int_eq(type, VG_FRAME_ACK);
	tls_close(&c);
	ck_assert_int_eq(vg_t_stop(&r.proc, SIGTERM, 10000), 0);
}
END_TEST

START_TEST(test_agent_served_end_to_end_over_tls)
{
	struct vg_t_receiver r;
	struct vg_t_proc good, bad_token;
	char server[64], extra[2048], extra_bad[2048];

	start_receiver(&r, "e2e", false);
	/* By name: resolved through evdns (/etc/hosts), verified as a name. */
	snprintf(server, sizeof(server), "localhost:%u", r.port);
	snprintf(extra, sizeof(extra), "tls: true\ntls_ca_file: %s/ca.crt\ntoken: %s\n", dir, TOKEN);
	snprintf(extra_bad, sizeof(extra_bad), "tls_ca_file: %s/ca.crt\ntoken: not-the-token\n", dir);
	start_agent(&good, "tls-agent", server, extra);
	start_agent(&bad_token, "tls-bad-token", server, extra_bad);
	ck_assert_msg(has_data(&r, "tls-agent", 15000), "no data from the agent over TLS");
	ck_assert_int_eq(vg_t_maps_contain(good.pid, "libssl"), 1);
	fprintf(stderr, "test_tls: agent with TLS: VmRSS %ld KiB\n", vg_t_rss_kb(good.pid));
	/* The wrong token: refused with a clear line, nothing stored. */
	ck_assert(vg_t_wait_log(&bad_token, "wrong token", 10000));
	ck_assert(!has_data(&r, "tls-bad-token", 0));
	ck_assert(vg_t_alive(&bad_token));
	ck_assert_int_eq(vg_t_stop(&good, SIGTERM, 10000), 0);
	ck_assert_int_eq(vg_t_stop(&bad_token, SIGTERM, 10000), 0);
	ck_assert_int_eq(vg_t_stop(&r.proc, SIGTERM, 10000), 0);
}
END_TEST

START_TEST(test_wrong_ca_or_name_refused)
{
	struct vg_t_receiver r;
	struct vg_t_proc wrong_ca, wrong_name;
	char server[64], extra[2048];

	start_receiver(&r, "ca", false);
	snprintf(server, sizeof(server), "127.0.0.1:%u", r.port);
	snprintf(extra, sizeof(extra), "tls_ca_file: %s/other-ca.crt\ntoken: %s\n", dir, TOKEN);
	start_agent(&wrong_ca, "tls-wrong-ca", server, extra);
	snprintf(extra, sizeof(extra), "tls_ca_file: %s/ca.crt\ntls_server_name: receiver.example\ntoken: %s\n", dir,
		 TOKEN);
	start_agent(&wrong_name, "tls-wrong-name", server, extra);
	ck_assert(vg_t_wait_log(&wrong_ca, "certificate did not verify", 10000));
	ck_assert(vg_t_wait_log(&wrong_name, "certificate did not verify", 10000));
	ck_assert(!has_data(&r, "tls-wrong-ca", 0));
	ck_assert(!has_data(&r, "tls-wrong-name", 0));
	ck_assert_int_eq(vg_t_stop(&wrong_ca, SIGTERM, 10000), 0);
	ck_assert_int_eq(vg_t_stop(&wrong_name, SIGTERM, 10000), 0);
	ck_assert_int_eq(vg_t_stop(&r.proc, SIGTERM, 10000), 0);
}
END_TEST

START_TEST(test_client_certificate_required)
{
	struct vg_t_receiver r;
	struct vg_t_proc with, without;
	char server[64], extra[2048];

	start_receiver(&r, "mutual", true);
	snprintf(server, sizeof(server), "127.0.0.1:%u", r.port);
	snprintf(extra, sizeof(extra), "tls_ca_file: %s/ca.crt\ntls_cert_file: %s/client.crt\ntls_key_file: %s/client.key\ntoken: %s\n",
		 dir, dir, dir, TOKEN);
	start_agent(&with, "tls-client-cert", server, extra);
	snprintf(extra, sizeof(extra), "tls_ca_file: %s/ca.crt\ntoken: %s\n", dir, TOKEN);
	start_agent(&without, "tls-no-client-cert", server, extra);
	ck_assert(has_data(&r, "tls-client-cert", 15000));
	/* TLS 1.3 checks the client's certificate after the client finished
	 * its handshake: the agent may see the alert or only the close. */
	ck_assert(vg_t_wait_log(&without, "cannot reach receiver", 10000));
	ck_assert(vg_t_wait_log(&r.proc, "did not return a certificate", 10000));
	ck_assert(!has_data(&r, "tls-no-client-cert", 0));
	ck_assert_int_eq(vg_t_stop(&with, SIGTERM, 10000), 0);
	ck_assert_int_eq(vg_t_stop(&without, SIGTERM, 10000), 0);
	ck_assert_int_eq(vg_t_stop(&r.proc, SIGTERM, 10000), 0);
}
END_TEST

/* A default agent maps no library it does not use: not OpenSSL or libcurl
 * (loaded for TLS and scrapes), not PCRE2 (for configured filter regexes),
 * not libyaml once its configuration is read (common/config.c), not libm
 * or libxxhash (common/round.h, common/hash.h). One with a filter regex
 * loads PCRE2 and applies it. */
START_TEST(test_plain_agent_does_not_map_tls)
{
	struct vg_t_receiver r;
	struct vg_t_proc a, f;
	char data[700], server[64];

	snprintf(data, sizeof(data), "%s/plain-rcv", dir);
	ck_assert_int_eq(vg_t_receiver_start(&r, data, NULL), 0);
	snprintf(server, sizeof(server), "127.0.0.1:%u", r.port);
	start_agent(&a, "plain-agent", server, "");
	start_agent(&f, "filter-agent", server, "collectors:\n  netdev_device_include: \"^lo$\"\n");
	ck_assert(has_data(&r, "plain-agent", 15000));
	ck_assert(has_data(&r, "filter-agent", 15000));
	ck_assert_int_eq(vg_t_maps_contain(a.pid, "libssl"), 0);
	ck_assert_int_eq(vg_t_maps_contain(a.pid, "libcrypto"), 0);
	ck_assert_int_eq(vg_t_maps_contain(a.pid, "libevent_openssl"), 0);
	ck_assert_int_eq(vg_t_maps_contain(a.pid, "libcurl"), 0);
	ck_assert_int_eq(vg_t_maps_contain(a.pid, "libpcre2"), 0);
	ck_assert_int_eq(vg_t_maps_contain(a.pid, "libyaml"), 0);
	ck_assert_int_eq(vg_t_maps_contain(f.pid, "libyaml"), 0);
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
	/* (A sanitizer's runtime needs libm, and its link keeps every
	 * library named: only the shipped build is checked.) */
	ck_assert_int_eq(vg_t_maps_contain(a.pid, "/libm.so"), 0);
	ck_assert_int_eq(vg_t_maps_contain(a.pid, "libxxhash"), 0);
#endif
	ck_assert_int_eq(vg_t_maps_contain(f.pid, "libpcre2"), 1);
	/* The regex applied: lo kept (which the default filter drops), and
	 * nothing else. */
	ck_assert(has_series(&r, "node_network_receive_bytes_total{instance=\"filter-agent\",device=\"lo\"}", 15000));
	ck_assert(!has_series(&r, "node_network_receive_bytes_total{instance=\"filter-agent\",device!=\"lo\"}", 0));
	ck_assert(!has_series(&r, "node_network_receive_bytes_total{instance=\"plain-agent\",device=\"lo\"}", 0));
	fprintf(stderr, "test_tls: agent without TLS: VmRSS %ld KiB\n", vg_t_rss_kb(a.pid));
	ck_assert_int_eq(vg_t_stop(&f, SIGTERM, 10000), 0);
	ck_assert_int_eq(vg_t_stop(&a, SIGTERM, 10000), 0);
	ck_assert_int_eq(vg_t_stop(&r.proc, SIGTERM, 10000), 0);
}
END_TEST

/* Lines of p's log containing s. */
static int log_count(const struct vg_t_proc *p, const char *s)
{
	char line[2048];
	int n = 0;
	FILE *f = fopen(p->log_path, "r");

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f))
		n += strstr(line, s) != NULL;
	fclose(f);
	return n;
}

/* The latest value of the agent's count of batches sent to r (-1: none
 * yet): it grows only while rounds keep coming. */
static double batches_sent(const struct vg_t_receiver *r, const char *host)
{
	char sel[300], path[600], *q;
	double v = -1;
	long status;
	json_t *doc, *res;

	snprintf(sel, sizeof(sel), "vigil_agent_batches_sent_total{instance=\"%s\",receiver=\"localhost:%u\"}", host,
		 r->port);
	q = vg_t_urlencode(sel);
	snprintf(path, sizeof(path), "/api/v1/query?query=%s", q);
	free(q);
	doc = vg_t_http_json(r->http_port, path, &status);
	res = json_object_get(json_object_get(doc, "data"), "result");
	if (json_array_size(res) == 1)
		v = atof(json_string_value(json_array_get(json_object_get(json_array_get(res, 0), "value"), 1)));
	json_decref(doc);
	return v;
}

START_TEST(test_unresolvable_receiver_logged_once_loop_keeps_serving)
{
	struct vg_t_receiver r;
	struct vg_t_proc a;
	char data[700], server[64], extra[1200];
	double before;
	int64_t deadline;

	snprintf(data, sizeof(data), "%s/dns-rcv", dir);
	ck_assert_int_eq(vg_t_receiver_start(&r, data, NULL), 0);
	snprintf(server, sizeof(server), "127.0.0.1:%u", r.port);
	/* The agent's name server: a UDP socket of the test that never
	 * answers, so each lookup takes its whole timeout (1 s) while the
	 * loop must go on; nothing depends on the host's resolver. */
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	int ns = socket(AF_INET, SOCK_DGRAM, 0);
	ck_assert_int_ge(ns, 0);
	ck_assert_int_eq(bind(ns, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(getsockname(ns, (struct sockaddr *)&sa, &sl), 0);
	char resolv[700];
	snprintf(resolv, sizeof(resolv), "%s/resolv.conf", dir);
	FILE *f = fopen(resolv, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "nameserver 127.0.0.1:%u\noptions timeout:1 attempts:1\n", ntohs(sa.sin_port));
	fclose(f);
	/* Both receivers of the ring get every sample (factor 2); one of
	 * them has a name no resolver knows (.invalid, RFC 2606). */
	snprintf(extra, sizeof(extra),
		 "receivers: [\"localhost:%u\", \"vigil-nowhere.invalid:9710\"]\nreplication_factor: 2\nresolv_conf: %s\n",
		 r.port, resolv);
	start_agent(&a, "dns-agent", server, extra);
	ck_assert(vg_t_wait_log(&a, "cannot resolve receiver vigil-nowhere.invalid", 20000));
	ck_assert(has_data(&r, "dns-agent", 10000));
	/* Rounds keep coming while the other name keeps failing. */
	before = batches_sent(&r, "dns-agent");
	deadline = vg_t_now_ms() + 10000;
	while (batches_sent(&r, "dns-agent") < before + 5 && vg_t_now_ms() < deadline)
		vg_t_sleep_ms(100);
	ck_assert_msg(batches_sent(&r, "dns-agent") >= before + 5, "rounds stopped: %g then %g", before,
		      batches_sent(&r, "dns-agent"));
	ck_assert(vg_t_alive(&a));
	ck_assert_int_eq(log_count(&a, "cannot resolve receiver vigil-nowhere.invalid"), 1);
	/* Stopped with a lookup in flight, most likely: cleanly still. */
	ck_assert_int_eq(vg_t_stop(&a, SIGTERM, 10000), 0);
	close(ns);
	ck_assert_int_eq(vg_t_stop(&r.proc, SIGTERM, 10000), 0);
}
END_TEST

START_TEST(test_check_config_reads_tls_files)
{
	char conf[700], *out = NULL, *errs = NULL;
	FILE *f;

	snprintf(conf, sizeof(conf), "%s/check.yaml", dir);
	f = fopen(conf, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "tls_cert_file: %s/server.crt\ntls_key_file: %s/client.key\n", dir, dir);
	fclose(f);
	char *argv[] = { (char *)vg_t_bin("vigil-receiver"), "--config", conf, "--check-config", NULL };
	/* A key that is not the certificate's. */
	ck_assert_int_eq(vg_t_run(argv, &out, &errs, 10000), 1);
	ck_assert_msg(strstr(errs, "tls_key_file") != NULL, "stderr: %s", errs);
	free(out);
	free(errs);
	f = fopen(conf, "w");
	fprintf(f, "tls_cert_file: %s/server.crt\ntls_key_file: %s/server.key\n", dir, dir);
	fclose(f);
	ck_assert_int_eq(vg_t_run(argv, &out, &errs, 10000), 0);
	free(out);
	free(errs);
	/* The agent's --check-config reads its CA file. */
	snprintf(conf, sizeof(conf), "%s/check-agent.yaml", dir);
	f = fopen(conf, "w");
	fprintf(f, "tls_ca_file: %s/no-such-ca.crt\nspool_dir: \"\"\n", dir);
	fclose(f);
	char *aargv[] = { (char *)vg_t_bin("vigil-agent"), "--config", conf, "--check-config", NULL };
	ck_assert_int_eq(vg_t_run(aargv, &out, &errs, 10000), 1);
	ck_assert_msg(strstr(errs, "no-such-ca.crt") != NULL, "stderr: %s", errs);
	free(out);
	free(errs);
}
END_TEST

static Suite *tls_suite(void)
{
	Suite *s = suite_create("tls");
	TCase *tc = tcase_create("tls");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_plain_text_client_refused_by_tls_listener);
	tcase_add_test(tc, test_wrong_token_refused_with_auth_error);
	tcase_add_test(tc, test_agent_served_end_to_end_over_tls);
	tcase_add_test(tc, test_wrong_ca_or_name_refused);
	tcase_add_test(tc, test_client_certificate_required);
	tcase_add_test(tc, test_plain_agent_does_not_map_tls);
	tcase_add_test(tc, test_unresolvable_receiver_logged_once_loop_keeps_serving);
	tcase_add_test(tc, test_check_config_reads_tls_files);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(tls_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
