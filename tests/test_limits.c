/*
 * test_limits.c: a receiver under resource exhaustion. Each test starts a
 * real vigil-receiver (under prlimit when it needs a low descriptor
 * limit), drives one resource past its limit from raw clients, and checks
 * that the receiver stays up, says so in few lines and counters, and still
 * serves a well-behaved client.
 */
#include "tests/harness.h"
#include "receiver/fd_budget.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/frame.h"
#include "common/mpack.h"
#include "common/samples2.h"
#include "common/series.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

static char *dir;
static struct vg_t_receiver rcv;

/* Starts the receiver with config text (may be NULL) and, when nofile is
 * not 0, that descriptor limit (soft and hard), and waits for its ports. */
static void start_receiver(const char *config, unsigned nofile)
{
	dir = vg_t_tmpdir("vigil-limits");
	ck_assert_ptr_nonnull(dir);
	ck_assert_msg(vg_t_receiver_start_config(&rcv, dir, config, nofile) == 0,
		      "the receiver did not start (see %s/receiver.log)", dir);
}

static void stop_receiver(void)
{
	int r = vg_t_stop(&rcv.proc, SIGTERM, 10000);

	ck_assert_msg(r == 0, "vigil-receiver exited with %d (see %s)", r, rcv.proc.log_path);
	vg_t_rmrf(dir);
	free(dir);
	dir = NULL;
}

/* Lines of the receiver's log that contain s. */
static int log_lines(const char *s)
{
	FILE *f = fopen(rcv.proc.log_path, "r");
	char line[4096];
	int n = 0;

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, s))
			n++;
	fclose(f);
	return n;
}

static int log_total_lines(void)
{
	return log_lines("");
}

static long rss_kb(void)
{
	return vg_t_rss_kb(rcv.proc.pid);
}

/* The value of one sample line of /metrics ("name" or "name{...}"), or -1. */
static double metric(const char *sample)
{
	long status;
	char *body = vg_t_http_get(rcv.http_port, "/metrics", &status);
	double v = -1;
	size_t n = strlen(sample);

	for (char *p = body; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		if (strncmp(p, sample, n) == 0 && p[n] == ' ') {
			v = strtod(p + n + 1, NULL);
			break;
		}
	}
	free(body);
	return v;
}

/* A non-blocking TCP connection from 127.0.0.<src> to 127.0.0.1:port,
 * perhaps still being made (a full backlog drops SYNs, and a blocking
 * connect would wait for the retries); -1 when the kernel refuses. */
static int connect_from(int src, uint16_t port)
{
	struct sockaddr_in sa, from;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	memset(&from, 0, sizeof(from));
	from.sin_family = AF_INET;
	from.sin_addr.s_addr = htonl(0x7f000000u | (unsigned)src);
	if (bind(fd, (struct sockaddr *)&from, sizeof(from)) != 0)
		goto fail;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons(port);
	sa.sin_addr.s_addr = htonl(0x7f000001);
	fcntl(fd, F_SETFL, O_NONBLOCK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 && errno != EINPROGRESS)
		goto fail;
	return fd;
fail:
	close(fd);
	return -1;
}

/* Whether a raw client that says HELLO as agent gets its ACK. */
static bool agent_is_served(const char *agent)
{
	int fd = vg_t_connect(rcv.port);
	bool ok;

	if (fd < 0)
		return false;
	ok = vg_t_hello(fd, agent, 1, NULL) == 0;
	close(fd);
	return ok;
}

/* --- descriptors ----------------------------------------------------------- */

#define FD_LIMIT 512

/* Opens n connections to port from 8 source addresses, lets the receiver
 * meet its descriptor limit for a while, and checks it paused, said so in
 * a few lines and nothing else. Returns how many were made. */
static int flood_past_fd_limit(uint16_t port, int *fds, int n)
{
	int made = 0, lines;
	int64_t deadline;

	for (int i = 0; i < n; i++) {
		fds[made] = connect_from(2 + i % 8, port);
		if (fds[made] >= 0)
			made++;
	}
	ck_assert_msg(made > FD_LIMIT, "only %d connections made", made);
	/* SYNs past the listen backlog are dropped and retried after 1, 3,
	 * 7 s...: on a slow machine the receiver meets its limit only after
	 * a few retries, so wait for the first line, then let it sit at the
	 * limit a while to show it does not spin. */
	deadline = vg_t_now_ms() + 30000;
	while (log_lines("pausing the listener") == 0 && vg_t_now_ms() < deadline)
		vg_t_sleep_ms(100);
	vg_t_sleep_ms(1000);
	ck_assert(vg_t_alive(&rcv.proc));
	lines = log_lines("pausing the listener");
	ck_assert_msg(lines >= 1 && lines <= 5, "%d lines about the paused listener", lines);
	ck_assert_int_eq(log_lines("Too many open files") - lines, 0);
	ck_assert_msg(log_total_lines() < 50, "%d log lines", log_total_lines());
	return made;
}

/*
 * More connections than the receiver has descriptors: the agent listener
 * hits EMFILE. It must pause rather than spin (a handful of log lines, not
 * millions), count the pauses, and once some connections close serve an
 * agent that connects then.
 */
START_TEST(test_agent_port_past_fd_limit)
{
	enum { N = 2 * FD_LIMIT };
	static int fds[N];
	int n;
	int64_t deadline;

	/* Connection limits past the descriptor limit: the listener itself
	 * meets it. */
	start_receiver("max_connections: 100000\nhttp_max_connections: 16\n", FD_LIMIT);
	n = flood_past_fd_limit(rcv.port, fds, N);
	/* Free descriptors: close the first three quarters (those accepted
	 * and some of the backlog), so the rest of the backlog fits. */
	for (int i = 0; i < n * 3 / 4; i++)
		close(fds[i]);
	deadline = vg_t_now_ms() + 10000;
	while (!agent_is_served("late-agent") && vg_t_now_ms() < deadline)
		vg_t_sleep_ms(100);
	ck_assert_msg(vg_t_now_ms() < deadline, "no agent was served after connections closed");
	ck_assert(metric("vigil_receiver_accept_pauses_total{listener=\"agent\"}") >= 1);
	for (int i = n * 3 / 4; i < n; i++)
		close(fds[i]);
	stop_receiver();
}
END_TEST

/* The same on the HTTP port: a query answers once connections close. */
START_TEST(test_http_port_past_fd_limit)
{
	enum { N = 2 * FD_LIMIT };
	static int fds[N];
	int n;
	int64_t deadline;
	long status = 0;
	char *body = NULL;

	/* Silent connections are kept past the test's waits, so descriptors
	 * only add up, however slowly a loaded machine accepts. */
	start_receiver("max_connections: 100000\nhttp_max_connections: 100000\nhttp_header_timeout: 1h\n",
		       FD_LIMIT);
	n = flood_past_fd_limit(rcv.http_port, fds, N);
	for (int i = 0; i < n; i++)
		close(fds[i]);
	deadline = vg_t_now_ms() + 15000;
	do {
		free(body);
		body = vg_t_http_get(rcv.http_port, "/api/v1/labels", &status);
	} while (status != 200 && vg_t_now_ms() < deadline && (vg_t_sleep_ms(100), 1));
	ck_assert_int_eq(status, 200);
	free(body);
	ck_assert(metric("vigil_receiver_accept_pauses_total{listener=\"http\"}") >= 1);
	stop_receiver();
}
END_TEST

/*
 * Memory per idle connection, the figure the 50,000-agent sizing is
 * extrapolated from: RSS before and after 400 connections that sent
 * nothing. Printed, and bounded loosely.
 */
START_TEST(test_memory_per_idle_connection)
{
	enum { N = 400 };
	static int fds[N];
	long before, after;
	double per;

	start_receiver(NULL, 0);
	before = rss_kb();
	for (int i = 0; i < N; i++) {
		fds[i] = connect_from(2 + i % 4, rcv.port);
		ck_assert_int_ge(fds[i], 0);
	}
	{
		int64_t deadline = vg_t_now_ms() + 5000;
		while (metric("vigil_receiver_connections_open") < N && vg_t_now_ms() < deadline)
			vg_t_sleep_ms(50);
	}
	ck_assert(metric("vigil_receiver_connections_open") >= N);
	after = rss_kb();
	per = (double)(after - before) * 1024.0 / N;
	printf("memory per idle agent connection: %.0f bytes (RSS %ld kB -> %ld kB, %d connections)\n", per,
	       before, after, N);
	ck_assert_msg(per < 16384, "%.0f bytes per idle connection", per);
	for (int i = 0; i < N; i++)
		close(fds[i]);
	stop_receiver();
}
END_TEST


/* --- buffered input, cardinality, the tally ---------------------------------- */

/* A calm agent's connection: HELLO as agent, one series name{job=agent}. */
static int calm_open(const char *agent, const char *name)
{
	int fd = vg_t_connect(rcv.port);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(vg_t_hello(fd, agent, 1, NULL), 0);
	vg_t_define_series(fd, name, agent);
	return fd;
}

/* One sample at seq, acknowledged. */
static void calm_send(int fd, uint64_t seq)
{
	vg_t_send_sample(fd, seq, vg_clock_now_ms(), (double)seq);
	ck_assert_uint_ge(vg_t_wait_ack(fd, seq), seq);
}

/* How many series an instant query of sel at t_ms (0: now) returns. */
static size_t query_series_at(const char *sel, int64_t t_ms)
{
	char path[512];
	long status = 0;
	char *q = vg_t_urlencode(sel);
	json_t *j;
	size_t n;

	if (t_ms != 0)
		snprintf(path, sizeof(path), "/api/v1/query?query=%s&time=%.3f", q, (double)t_ms / 1000.0);
	else
		snprintf(path, sizeof(path), "/api/v1/query?query=%s", q);
	free(q);
	j = vg_t_http_json(rcv.http_port, path, &status);
	ck_assert_msg(j != NULL && status == 200, "query %s: status %ld", sel, status);
	n = json_array_size(json_object_get(json_object_get(j, "data"), "result"));
	json_decref(j);
	return n;
}

static size_t query_series(const char *sel)
{
	return query_series_at(sel, 0);
}

/*
 * Connections that say HELLO and then send most of a large frame each:
 * together they may hold no more than agent_buffer_budget (1 MiB here),
 * the rest waits in the kernel (backpressure), so the receiver's RSS grows
 * by about that, not by their sum (40 x 2 MiB); a calm agent is served
 * throughout.
 */
START_TEST(test_partial_frames_stay_within_budget)
{
	enum { N = 40, CLAIM = 4 << 20, SEND = 2 << 20 };
	static char junk[65536];
	int fds[N], calm;
	long before, after;
	uint64_t seq = 1;
	size_t total = 0;

	start_receiver("agent_buffer_budget: 1MiB\nagent_connection_buffer: 16KiB\nagent_frame_timeout: 30s\n", 0);
	calm = calm_open("calm", "calm_metric");
	calm_send(calm, seq++);
	before = rss_kb();
	memset(junk, 0x5a, sizeof(junk));
	for (int i = 0; i < N; i++) {
		uint8_t hdr[VG_FRAME_HEADER_SIZE] = { 'V', 'G', 'I', 'L', 1, VG_FRAME_SAMPLES, 0, 0 };
		char agent[32];
		size_t sent = 0;

		snprintf(agent, sizeof(agent), "big-%d", i);
		fds[i] = vg_t_connect(rcv.port);
		ck_assert_int_ge(fds[i], 0);
		ck_assert_int_eq(vg_t_hello(fds[i], agent, 1, NULL), 0);
		vg_put_be64(hdr + 8, 1);
		vg_put_be32(hdr + 16, CLAIM);
		ck_assert_int_eq(vg_t_write_all(fds[i], hdr, sizeof(hdr)), 0);
		/* What the kernel takes now; a receiver that stopped reading
		 * leaves the rest to TCP. */
		while (sent < SEND) {
			ssize_t n = send(fds[i], junk, sizeof(junk), MSG_DONTWAIT | MSG_NOSIGNAL);
			if (n <= 0)
				break;
			sent += (size_t)n;
		}
		total += sent;
		if (i % 10 == 9)
			calm_send(calm, seq++);
	}
	vg_t_sleep_ms(500);
	calm_send(calm, seq++);
	after = rss_kb();
	printf("%d partial frames (%zu bytes sent in all): RSS %ld kB -> %ld kB, budget 1024 kB\n", N, total, before,
	       after);
	ck_assert_msg(after - before < 6 * 1024, "RSS grew by %ld kB", after - before);
	ck_assert(metric("vigil_receiver_budget_pauses_total") >= 1);
	for (int i = 0; i < N; i++)
		close(fds[i]);
	calm_send(calm, seq++);
	ck_assert_uint_eq(query_series("calm_metric"), 1);
	close(calm);
	stop_receiver();
}
END_TEST

/* A SERIES frame defining the n series name{job=<agent>,i="<k>"} for
 * k = ref0 .. ref0+n-1, of refs k, or with ref_mod the refs
 * 0..ref_mod-1 over and over (redefined). */
static void series_refs(struct vg_buf *raw, const char *name, const char *agent, int ref0, int n, int ref_mod)
{
	msgpack_packer pk;

	vg_mp_packer_init(&pk, raw);
	vg_series_pack_begin(&pk, (uint32_t)n);
	for (int k = ref0; k < ref0 + n; k++) {
		struct vg_series s;
		char v[16];
		snprintf(v, sizeof(v), "%d", k);
		vg_series_init(&s, name);
		vg_series_add(&s, "job", agent);
		vg_series_add(&s, "i", v);
		ck_assert_int_eq(vg_series_canonicalize(&s, NULL), 0);
		vg_series_pack_entry(&pk, (uint64_t)(ref_mod ? k % ref_mod : k), &s);
	}
}

/* The same, of refs k. */
static void series_range(struct vg_buf *raw, const char *name, const char *agent, int ref0, int n)
{
	series_refs(raw, name, agent, ref0, n, 0);
}

/* Reads the next frame from fd: an ERROR of code. */
static void expect_error(int fd, uint32_t code)
{
	struct vg_buf payload = VG_BUF_INIT;
	struct vg_frame_header h;
	struct vg_error_msg em;

	ck_assert_int_eq(vg_t_read_frame(fd, 5000, &h, &payload), 0);
	ck_assert_int_eq(h.type, VG_FRAME_ERROR);
	ck_assert_int_eq(vg_error_decode(payload.data, payload.len, &em, NULL), 0);
	ck_assert_int_eq(em.code, code);
	vg_buf_release(&payload);
}

/* The same for refs 0..n-1. */
static void series_frame(struct vg_buf *raw, const char *name, const char *agent, int n)
{
	series_range(raw, name, agent, 0, n);
}

/* A protocol 1 agent defines n series name{job=<agent>,i} on a new
 * connection (refs as series_refs's ref_mod): a limit refuses some, with
 * an ERROR TOO_LARGE. */
static void v1_refused(const char *agent, const char *name, int n, int ref_mod)
{
	struct vg_buf raw = VG_BUF_INIT;
	int fd = vg_t_connect(rcv.port);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(vg_t_hello(fd, agent, 1, NULL), 0);
	series_refs(&raw, name, agent, 0, n, ref_mod);
	vg_t_send_frame(fd, VG_FRAME_SERIES, 0, &raw);
	expect_error(fd, VG_WIRE_TOO_LARGE);
	close(fd);
	vg_buf_release(&raw);
}

/*
 * Protocol 1: an agent that defines more series than max_series_per_agent
 * (10 here) gets today's ERROR (TOO_LARGE) and the connection closes,
 * while another agent's series keep arriving; the refusal is counted per
 * agent in /metrics, and the head keeps at most the limit of its series.
 * With ref_mod the 25 series reuse refs 0..ref_mod-1: a redefinition
 * creates a series as a new ref does, and must pass the same guard.
 */
static void cardinality_flood_v1(int ref_mod)
{
	uint64_t seq = 1;
	int calm;

	start_receiver("max_series_per_agent: 10\n", 0);
	calm = calm_open("calm", "calm_metric");
	calm_send(calm, seq++);
	v1_refused("flood", "flood_metric", 25, ref_mod);
	calm_send(calm, seq++);
	calm_send(calm, seq++);
	ck_assert_uint_eq(query_series("calm_metric"), 1);
	ck_assert(metric("vigil_receiver_series_refused_total{agent=\"flood\",limit=\"max_series_per_agent\"}") >= 15);
	ck_assert(metric("vigil_receiver_head_series") <= 11);
	close(calm);
	stop_receiver();
}

START_TEST(test_cardinality_flood_v1_refused_others_flow)
{
	cardinality_flood_v1(0);
}
END_TEST

START_TEST(test_cardinality_redefined_refs_refused)
{
	cardinality_flood_v1(5);
}
END_TEST

/*
 * Protocol 2: past max_series_per_agent the connection stays; the rest of
 * the batch is stored and its ACK says how many samples and series which
 * limit kept out; the next batch of only admitted series is acknowledged
 * with zeros.
 */
START_TEST(test_cardinality_flood_v2_ack_carries_refusal)
{
	enum { N = 25, LIMIT = 10 };
	struct vg_hello hello = { VG_PROTO_V2, vg_str_c("flood2"), 1, vg_str_c(""), vg_str_c("test") };
	struct vg_buf raw = VG_BUF_INIT, payload = VG_BUF_INIT;
	struct vg_samples2_state st;
	struct vg_frame_header h;
	struct vg_ack ack;
	uint64_t refs[N];
	double values[N];
	int fd, calm;

	start_receiver("max_series_per_agent: 10\n", 0);
	calm = calm_open("calm", "calm_metric");
	calm_send(calm, 1);
	fd = vg_t_connect(rcv.port);
	ck_assert_int_ge(fd, 0);
	vg_hello_pack(&hello, &raw);
	vg_t_send_frame_v2(fd, VG_FRAME_HELLO, 0, &raw);
	ck_assert_int_eq(vg_t_read_frame(fd, 5000, &h, &payload), 0);
	ck_assert_int_eq(h.type, VG_FRAME_ACK);
	ck_assert_int_eq(h.version, VG_PROTO_V2);
	vg_buf_reset(&raw);
	series_frame(&raw, "flood2_metric", "flood2", N);
	vg_t_send_frame_v2(fd, VG_FRAME_SERIES, 0, &raw);
	vg_samples2_state_init(&st);
	for (int k = 0; k < N; k++) {
		refs[k] = (uint64_t)k;
		values[k] = k;
	}
	vg_buf_reset(&raw);
	vg_samples2_encode_begin(&raw, 1);
	ck_assert_int_eq(vg_samples2_encode_group(&st, vg_clock_now_ms(), N, refs, values, &raw), 0);
	vg_t_send_frame_v2(fd, VG_FRAME_SAMPLES, 1, &raw);
	ck_assert_int_eq(vg_t_read_frame(fd, 5000, &h, &payload), 0);
	ck_assert_msg(h.type == VG_FRAME_ACK, "frame type %d", h.type);
	ck_assert_uint_eq(h.seq, 1);
	ck_assert_int_eq(vg_ack_decode(payload.data, payload.len, &ack, NULL), 0);
	ck_assert_uint_eq(ack.refused_samples, N - LIMIT);
	ck_assert_uint_eq(ack.refused_series, N - LIMIT);
	ck_assert_int_eq(vg_str_cmp(ack.limit, vg_str_c("max_series_per_agent")), 0);
	/* The admitted ten are stored; the other agent goes on. */
	ck_assert_uint_eq(query_series("flood2_metric"), LIMIT);
	calm_send(calm, 2);
	/* A batch of admitted series only: an ACK of zeros. */
	vg_buf_reset(&raw);
	vg_samples2_encode_begin(&raw, 1);
	ck_assert_int_eq(vg_samples2_encode_group(&st, vg_clock_now_ms() + 1, LIMIT, refs, values, &raw), 0);
	vg_t_send_frame_v2(fd, VG_FRAME_SAMPLES, 2, &raw);
	ck_assert_int_eq(vg_t_read_frame(fd, 5000, &h, &payload), 0);
	ck_assert_int_eq(h.type, VG_FRAME_ACK);
	ck_assert_uint_eq(h.seq, 2);
	ck_assert_int_eq(vg_ack_decode(payload.data, payload.len, &ack, NULL), 0);
	ck_assert_uint_eq(ack.refused_samples, 0);
	ck_assert_uint_eq(ack.limit.len, 0);
	vg_samples2_state_release(&st);
	close(fd);
	close(calm);
	vg_buf_release(&raw);
	vg_buf_release(&payload);
	stop_receiver();
}
END_TEST

/* Connections that never say HELLO: counted, and summarised in a line or
 * two, not a line each. */
START_TEST(test_no_hello_connections_are_tallied)
{
	enum { N = 60 };
	int fds[N];
	int64_t deadline;

	start_receiver("agent_hello_timeout: 200ms\n", 0);
	for (int i = 0; i < N; i++)
		ck_assert_int_ge(fds[i] = vg_t_connect(rcv.port), 0);
	deadline = vg_t_now_ms() + 10000;
	while (metric("vigil_receiver_connections_closed_total{reason=\"no_hello\"}") < N && vg_t_now_ms() < deadline)
		vg_t_sleep_ms(100);
	ck_assert_int_eq((int)metric("vigil_receiver_connections_closed_total{reason=\"no_hello\"}"), N);
	ck_assert_msg(log_lines("HELLO") <= 2, "%d lines about HELLO", log_lines("HELLO"));
	ck_assert(agent_is_served("calm"));
	for (int i = 0; i < N; i++)
		close(fds[i]);
	stop_receiver();
}
END_TEST

/* --- the cardinality guard in protocol 2 ------------------------------------ */

/* The driven clock of start_receiver_driven (harness.h). */
static char clock_path[700];

/* Starts the receiver on a driven clock at t0 with config text extra. */
static void start_receiver_driven(const char *extra, int64_t t0)
{
	char config[2048];

	dir = vg_t_tmpdir("vigil-limits");
	ck_assert_ptr_nonnull(dir);
	snprintf(clock_path, sizeof(clock_path), "%s/clock", dir);
	ck_assert_int_eq(vg_t_write_clock(clock_path, t0), 0);
	snprintf(config, sizeof(config), "testing_clock_file: %s\n%s", clock_path, extra);
	ck_assert_msg(vg_t_receiver_start_config(&rcv, dir, config, 0) == 0,
		      "the receiver did not start (see %s/receiver.log)", dir);
}

/* A protocol 2 connection of agent, past its HELLO. */
struct v2 {
	int fd;
	struct vg_samples2_state st;
};

static void v2_open(struct v2 *a, const char *agent)
{
	struct vg_hello hello = { VG_PROTO_V2, vg_str_c(agent), 1, vg_str_c(""), vg_str_c("test") };
	struct vg_buf raw = VG_BUF_INIT, payload = VG_BUF_INIT;
	struct vg_frame_header h;

	a->fd = vg_t_connect(rcv.port);
	ck_assert_int_ge(a->fd, 0);
	vg_samples2_state_init(&a->st);
	vg_hello_pack(&hello, &raw);
	vg_t_send_frame_v2(a->fd, VG_FRAME_HELLO, 0, &raw);
	ck_assert_int_eq(vg_t_read_frame(a->fd, 5000, &h, &payload), 0);
	ck_assert_int_eq(h.type, VG_FRAME_ACK);
	ck_assert_int_eq(h.version, VG_PROTO_V2);
	vg_buf_release(&raw);
	vg_buf_release(&payload);
}

static void v2_close(struct v2 *a)
{
	vg_samples2_state_release(&a->st);
	close(a->fd);
}

/* Defines the series name{job=<agent>,i="<k>"} of refs ref0..ref0+n-1. */
static void v2_series(struct v2 *a, const char *name, const char *agent, int ref0, int n)
{
	struct vg_buf raw = VG_BUF_INIT;

	series_range(&raw, name, agent, ref0, n);
	vg_t_send_frame_v2(a->fd, VG_FRAME_SERIES, 0, &raw);
	vg_buf_release(&raw);
}

/* What an ACK said. */
struct refusal {
	uint64_t samples, series;
	char limit[64];
};

/* Sends batch seq of one sample at ts for each of refs ref0..ref0+n-1 and
 * reads its ACK into out. */
static void v2_batch(struct v2 *a, uint64_t seq, int64_t ts, int ref0, int n, struct refusal *out)
{
	struct vg_buf raw = VG_BUF_INIT, payload = VG_BUF_INIT;
	struct vg_frame_header h;
	struct vg_ack ack;
	uint64_t refs[64];
	double values[64];

	ck_assert_int_le(n, 64);
	for (int k = 0; k < n; k++) {
		refs[k] = (uint64_t)(ref0 + k);
		values[k] = (double)seq;
	}
	vg_samples2_encode_begin(&raw, 1);
	ck_assert_int_eq(vg_samples2_encode_group(&a->st, ts, (size_t)n, refs, values, &raw), 0);
	vg_t_send_frame_v2(a->fd, VG_FRAME_SAMPLES, seq, &raw);
	ck_assert_int_eq(vg_t_read_frame(a->fd, 5000, &h, &payload), 0);
	ck_assert_msg(h.type == VG_FRAME_ACK, "frame type %d", h.type);
	ck_assert_uint_eq(h.seq, seq);
	ck_assert_int_eq(vg_ack_decode(payload.data, payload.len, &ack, NULL), 0);
	out->samples = ack.refused_samples;
	out->series = ack.refused_series;
	snprintf(out->limit, sizeof(out->limit), "%.*s", (int)ack.limit.len, ack.limit.p);
	vg_buf_release(&raw);
	vg_buf_release(&payload);
}

/* Asserts what an ACK said: samples and series refused by limit (""). */
static void assert_refusal(const struct refusal *r, uint64_t samples, uint64_t series, const char *limit)
{
	ck_assert_uint_eq(r->samples, samples);
	ck_assert_uint_eq(r->series, series);
	ck_assert_str_eq(r->limit, limit);
}

/*
 * The receiver-wide limit (max_series: 20): an agent holds 15 series;
 * another defines 10 new ones, and the five past the limit are refused
 * without closing its connection, the other five stored with the rest of
 * the batch, the ACK saying how many and which limit. Existing series keep
 * flowing, from both connections and from a reconnecting agent (its series
 * are in the head already, so they are not new); a protocol 1 agent's new
 * series gets today's ERROR; a ref defined again as a series the head
 * does not have is refused as new; /metrics counts it all per agent.
 */
START_TEST(test_total_series_limit)
{
	struct refusal r;
	struct v2 a, b, a2;
	int64_t now = vg_clock_now_ms();

	start_receiver("max_series: 20\n", 0);
	v2_open(&a, "total-a");
	v2_series(&a, "total_a", "total-a", 0, 15);
	v2_batch(&a, 1, now, 0, 15, &r);
	assert_refusal(&r, 0, 0, "");
	v2_open(&b, "total-b");
	v2_series(&b, "total_b", "total-b", 0, 10);
	v2_batch(&b, 1, now, 0, 10, &r);
	assert_refusal(&r, 5, 5, "max_series");
	ck_assert_uint_eq(query_series("total_b"), 5);
	ck_assert_uint_eq(query_series("total_a"), 15);
	/* Past the limit, what exists flows; a refused ref stays refused. */
	v2_batch(&a, 2, now + 1000, 0, 15, &r);
	assert_refusal(&r, 0, 0, "");
	v2_batch(&b, 2, now + 1000, 0, 5, &r);
	assert_refusal(&r, 0, 0, "");
	v2_batch(&b, 3, now + 2000, 0, 10, &r);
	assert_refusal(&r, 5, 0, "max_series");
	/* The first agent again, on a new connection: its series are known. */
	v2_close(&a);
	v2_open(&a2, "total-a");
	v2_series(&a2, "total_a", "total-a", 0, 15);
	v2_batch(&a2, 3, now + 3000, 0, 15, &r);
	assert_refusal(&r, 0, 0, "");
	/* Protocol 1: a new series is told with an ERROR. */
	v1_refused("total-c", "total_c", 1, 0);
	/* An admitted ref defined again as a new series is new: refused. */
	v2_series(&b, "total_b_again", "total-b", 0, 1);
	v2_batch(&b, 4, now + 4000, 0, 1, &r);
	assert_refusal(&r, 1, 1, "max_series");
	ck_assert_uint_eq(query_series("total_a"), 15);
	ck_assert_uint_eq(query_series("total_b"), 5);
	ck_assert_uint_eq(query_series("total_b_again"), 0);
	ck_assert_uint_eq(query_series("total_c"), 0);
	ck_assert_int_eq((int)metric("vigil_receiver_series_refused_total{agent=\"total-b\",limit=\"max_series\"}"), 6);
	ck_assert_int_eq((int)metric("vigil_receiver_series_refused_total{agent=\"total-c\",limit=\"max_series\"}"), 1);
	ck_assert_int_eq((int)metric("vigil_receiver_series_refused_total{agent=\"total-a\",limit=\"max_series\"}"), -1);
	ck_assert_int_eq((int)metric("vigil_receiver_series_refused_all_total"), 7);
	ck_assert_int_eq((int)metric("vigil_receiver_samples_refused_total"), 11);
	v2_close(&a2);
	v2_close(&b);
	stop_receiver();
}
END_TEST

/*
 * max_new_series_per_minute (10) on the driven clock: 25 new series at
 * once are 10 stored and 15 refused; 59 s later the minute is not over
 * and 5 more are refused; at 61 s a new minute takes 5 more. The admitted
 * series flow throughout.
 */
START_TEST(test_new_series_per_minute)
{
	int64_t t0 = vg_clock_now_ms();
	struct refusal r;
	struct v2 a;

	start_receiver_driven("max_new_series_per_minute: 10\n", t0);
	v2_open(&a, "rate");
	v2_series(&a, "rate_metric", "rate", 0, 25);
	v2_batch(&a, 1, t0, 0, 25, &r);
	assert_refusal(&r, 15, 15, "max_new_series_per_minute");
	ck_assert_uint_eq(query_series("rate_metric"), 10);
	/* Inside the minute. */
	ck_assert_int_eq(vg_t_write_clock(clock_path, t0 + 59000), 0);
	v2_series(&a, "rate_metric", "rate", 25, 5);
	v2_batch(&a, 2, t0 + 59000, 25, 5, &r);
	assert_refusal(&r, 5, 5, "max_new_series_per_minute");
	v2_batch(&a, 3, t0 + 59000, 0, 10, &r);
	assert_refusal(&r, 0, 0, "");
	/* The next minute. */
	ck_assert_int_eq(vg_t_write_clock(clock_path, t0 + 61000), 0);
	v2_series(&a, "rate_metric", "rate", 30, 5);
	v2_batch(&a, 4, t0 + 61000, 30, 5, &r);
	assert_refusal(&r, 0, 0, "");
	v2_batch(&a, 5, t0 + 61000, 0, 10, &r);
	assert_refusal(&r, 0, 0, "");
	ck_assert_uint_eq(query_series_at("rate_metric", t0 + 61000), 15);
	ck_assert_int_eq(
		(int)metric("vigil_receiver_series_refused_total{agent=\"rate\",limit=\"max_new_series_per_minute\"}"), 20);
	v2_close(&a);
	stop_receiver();
}
END_TEST

/* Lines of the receiver's log about agent's refused series. */
static int refusal_lines(const char *agent)
{
	char s[128];

	snprintf(s, sizeof(s), "agent %s: series refused", agent);
	return log_lines(s);
}

/*
 * Refusals are logged once per agent per interval (a minute): two agents
 * each have 30 SERIES frames refused within one minute, one line each;
 * past the minute, the next refusal of each makes one more line, with the
 * count since the line before, and further refusals in that minute none.
 */
START_TEST(test_refusals_logged_once_per_agent_per_interval)
{
	enum { N = 30 };
	const char *agents[2] = { "log-a", "log-b" };
	int64_t t0 = vg_clock_now_ms();
	struct refusal r;
	struct v2 a[2];
	uint64_t seq = 1;

	start_receiver_driven("max_series_per_agent: 2\n", t0);
	for (int i = 0; i < 2; i++) {
		v2_open(&a[i], agents[i]);
		v2_series(&a[i], "log_metric", agents[i], 0, 2);
		for (int k = 2; k < 2 + N; k++)
			v2_series(&a[i], "log_metric", agents[i], k, 1);
		/* The ACK follows every frame before it. */
		v2_batch(&a[i], seq, t0, 0, 2, &r);
		assert_refusal(&r, 0, N, "max_series_per_agent");
	}
	seq++;
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(refusal_lines(agents[i]), 1);
	ck_assert_int_eq(log_lines("series refused"), 2);
	/* Within the minute: still one line each. */
	ck_assert_int_eq(vg_t_write_clock(clock_path, t0 + 59000), 0);
	for (int i = 0; i < 2; i++) {
		v2_series(&a[i], "log_metric", agents[i], 2 + N, 1);
		v2_batch(&a[i], seq, t0 + 59000, 0, 2, &r);
		assert_refusal(&r, 0, 1, "max_series_per_agent");
		ck_assert_int_eq(refusal_lines(agents[i]), 1);
	}
	seq++;
	/* Past it: one more line each, counting what the first left out. */
	ck_assert_int_eq(vg_t_write_clock(clock_path, t0 + 61000), 0);
	for (int i = 0; i < 2; i++) {
		for (int k = 3 + N; k < 6 + N; k++)
			v2_series(&a[i], "log_metric", agents[i], k, 1);
		v2_batch(&a[i], seq, t0 + 61000, 0, 2, &r);
		assert_refusal(&r, 0, 3, "max_series_per_agent");
		ck_assert_int_eq(refusal_lines(agents[i]), 2);
	}
	ck_assert_int_eq(log_lines("series refused"), 4);
	ck_assert_int_eq(log_lines("0 by max_series, 31 by max_series_per_agent"), 2);
	for (int i = 0; i < 2; i++)
		v2_close(&a[i]);
	ck_assert_int_eq(
		(int)metric("vigil_receiver_series_refused_total{agent=\"log-a\",limit=\"max_series_per_agent\"}"), N + 4);
	stop_receiver();
}
END_TEST

/* --- the descriptor split between agents and HTTP ------------------------- */

/*
 * The split of fd_budget.h, as planned in-process (a forked test: the
 * descriptor limit lowered here does not outlive it). With both limits
 * automatic, HTTP gets a tenth of what the reserve leaves and agents the
 * rest; an explicit agent limit leaves HTTP the rest (at most 1024); an
 * explicit pair past the descriptors is kept and said to be overcommitted.
 */
START_TEST(test_fd_budget_plan)
{
	struct rlimit rl = { 1024, 1024 };
	struct vg_fd_plan plan;

	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	vg_fd_budget_plan(0, 0, &plan);
	ck_assert_uint_eq(plan.limit, 1024);
	ck_assert_uint_eq(plan.http_conns, (1024 - VG_FD_RESERVE) / 10);
	ck_assert_uint_eq(plan.agent_conns, 1024 - VG_FD_RESERVE - plan.http_conns);
	ck_assert(!plan.is_overcommitted);
	vg_fd_budget_plan(500, 0, &plan);
	ck_assert_uint_eq(plan.agent_conns, 500);
	ck_assert_uint_eq(plan.http_conns, 1024 - VG_FD_RESERVE - 500);
	vg_fd_budget_plan(0, 100, &plan);
	ck_assert_uint_eq(plan.http_conns, 100);
	ck_assert_uint_eq(plan.agent_conns, 1024 - VG_FD_RESERVE - 100);
	vg_fd_budget_plan(2000, 100, &plan);
	ck_assert_uint_eq(plan.agent_conns, 2000);
	ck_assert(plan.is_overcommitted);
}
END_TEST

/* The descriptors process pid has open, from /proc. */
static int open_fds(pid_t pid)
{
	char path[64];
	DIR *d;
	struct dirent *e;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	if ((d = opendir(path)) == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* The automatic split at 256 descriptors: (256 - 64) / 10 for HTTP, the
 * rest for agents (test_fd_budget_plan). */
#define SPLIT_NOFILE 256
#define SPLIT_HTTP ((SPLIT_NOFILE - VG_FD_RESERVE) / 10)
#define SPLIT_AGENTS (SPLIT_NOFILE - VG_FD_RESERVE - SPLIT_HTTP)

/*
 * HTTP at its share cannot take the agents': silent HTTP connections,
 * more than the receiver has descriptors, fill HTTP's share (the listener
 * stops accepting, the rest wait in the backlog), and an agent that
 * connects then is served. No listener met the descriptor limit.
 */
START_TEST(test_fd_split_http_flood_leaves_agents_room)
{
	enum { N = SPLIT_NOFILE + 40 }; /* uncapped, they would take every descriptor */
	static int fds[N];
	int base;
	int64_t deadline;

	start_receiver("http_header_timeout: 1h\n", SPLIT_NOFILE);
	base = open_fds(rcv.proc.pid);
	for (int i = 0; i < N; i++)
		ck_assert_int_ge(fds[i] = connect_from(2 + i % 4, rcv.http_port), 0);
	deadline = vg_t_now_ms() + 10000;
	while (open_fds(rcv.proc.pid) < base + SPLIT_HTTP && vg_t_now_ms() < deadline)
		vg_t_sleep_ms(50);
	ck_assert_msg(open_fds(rcv.proc.pid) >= base + SPLIT_HTTP, "HTTP took %d descriptors, not its %d",
		      open_fds(rcv.proc.pid) - base, SPLIT_HTTP);
	/* The share is held: an agent is served meanwhile. */
	ck_assert(agent_is_served("during-http-flood"));
	ck_assert_int_le(open_fds(rcv.proc.pid), base + SPLIT_HTTP + 4);
	for (int i = 0; i < N; i++)
		close(fds[i]);
	deadline = vg_t_now_ms() + 10000;
	while (metric("vigil_receiver_http_connection_pauses_total") < 1 && vg_t_now_ms() < deadline)
		vg_t_sleep_ms(50);
	ck_assert(metric("vigil_receiver_http_connection_pauses_total") >= 1);
	ck_assert(metric("vigil_receiver_accept_pauses_total{listener=\"http\"}") == 0);
	ck_assert(metric("vigil_receiver_accept_pauses_total{listener=\"agent\"}") == 0);
	stop_receiver();
}
END_TEST

/*
 * And the other way: agent connections that never say HELLO, more than
 * the receiver has descriptors, fill the agents' share (those past it are
 * closed at once), and HTTP still answers, from its own share.
 */
START_TEST(test_fd_split_agent_flood_leaves_http_room)
{
	enum { N = SPLIT_NOFILE + 40 };
	static int fds[N];
	int64_t deadline;
	long status = 0;
	char *body;

	start_receiver("agent_hello_timeout: 10m\n", SPLIT_NOFILE);
	for (int i = 0; i < N; i++)
		ck_assert_int_ge(fds[i] = connect_from(2 + i % 4, rcv.port), 0);
	deadline = vg_t_now_ms() + 15000;
	while ((metric("vigil_receiver_connections_open") < SPLIT_AGENTS ||
		metric("vigil_receiver_connections_refused_total") < 1) && vg_t_now_ms() < deadline)
		vg_t_sleep_ms(50);
	ck_assert_msg(metric("vigil_receiver_connections_open") == SPLIT_AGENTS, "%.0f agent connections open",
		      metric("vigil_receiver_connections_open"));
	ck_assert(metric("vigil_receiver_connections_refused_total") >= 1);
	/* The agents' share is full and held: HTTP answers meanwhile. */
	body = vg_t_http_get(rcv.http_port, "/api/v1/labels", &status);
	ck_assert_int_eq(status, 200);
	free(body);
	ck_assert(metric("vigil_receiver_accept_pauses_total{listener=\"http\"}") == 0);
	ck_assert(metric("vigil_receiver_accept_pauses_total{listener=\"agent\"}") == 0);
	for (int i = 0; i < N; i++)
		close(fds[i]);
	stop_receiver();
}
END_TEST

static Suite *limits_suite(void)
{
	Suite *s = suite_create("limits");
	TCase *fd = tcase_create("descriptors");

	tcase_set_timeout(fd, 60);
	tcase_add_test(fd, test_agent_port_past_fd_limit);
	tcase_add_test(fd, test_http_port_past_fd_limit);
	tcase_add_test(fd, test_memory_per_idle_connection);
	tcase_add_test(fd, test_fd_budget_plan);
	tcase_add_test(fd, test_fd_split_http_flood_leaves_agents_room);
	tcase_add_test(fd, test_fd_split_agent_flood_leaves_http_room);
	suite_add_tcase(s, fd);
	{
		TCase *in = tcase_create("input");
		tcase_set_timeout(in, 60);
		tcase_add_test(in, test_partial_frames_stay_within_budget);
		tcase_add_test(in, test_cardinality_flood_v1_refused_others_flow);
		tcase_add_test(in, test_cardinality_redefined_refs_refused);
		tcase_add_test(in, test_cardinality_flood_v2_ack_carries_refusal);
		tcase_add_test(in, test_no_hello_connections_are_tallied);
		suite_add_tcase(s, in);
	}
	{
		TCase *card = tcase_create("cardinality");
		tcase_set_timeout(card, 30);
		tcase_add_test(card, test_total_series_limit);
		tcase_add_test(card, test_new_series_per_minute);
		tcase_add_test(card, test_refusals_logged_once_per_agent_per_interval);
		suite_add_tcase(s, card);
	}
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(limits_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
