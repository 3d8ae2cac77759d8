/*
 * bench_hostile.c: a receiver under hostile clients, at full scale.
 *
 * Starts a real vigil-receiver on 127.0.0.1 (its own temporary directory
 * and ephemeral ports, its soft descriptor limit raised to the hard one)
 * for each scenario in turn, floods it from client processes, and reads
 * what it costs the receiver from /proc: CPU seconds (utime + stime of
 * /proc/PID/stat), RSS, descriptors held (entries of /proc/PID/fd), and
 * lines written to its log. The scenarios:
 *
 *   agent_idle             more connections than descriptors to the agent
 *                          port, each with a HELLO and then silent
 *                          (default limits: max_connections is sized
 *                          from the descriptor limit);
 *   agent_idle_overcommit  the same with max_connections past the
 *                          descriptors, so accept() meets EMFILE;
 *   http_idle              silent connections to the HTTP port, past the
 *                          descriptor limit (defaults);
 *   http_idle_prometheus   the same against the peer, Prometheus with its
 *                          defaults (not with --no-peer);
 *   http_idle_overcommit   the same with http_max_connections past the
 *                          descriptors and long timeouts (EMFILE again);
 *   http_heads             connections each holding an unfinished 60 KiB
 *                          request head (defaults);
 *   partial_frames         agents that say HELLO and send most of an
 *                          8 MiB frame, while a calm agent keeps sending;
 *   series_flood           one agent defining 2,000,000 new series with
 *                          long label values, reconnecting when refused,
 *                          while a calm agent keeps sending;
 *   series_redefine        the same, redefining the same refs in every
 *                          frame;
 *   no_hello               agent connections that never say HELLO, until
 *                          the receiver closed them all and summarised.
 *
 * Each flood ramps up until the receiver holds a steady number of
 * descriptors, then a fixed window is measured. Memory per connection is
 * the RSS grown over the descriptors gained. Afterwards the other port is
 * tried (an HTTP query during an agent flood, an agent during an HTTP
 * flood), some flood connections are closed, and the bench times how
 * long until a client of the flooded port is served: an agent speaking
 * the wire protocol (HELLO, SERIES, SAMPLES) gets the ACK of its batch,
 * or a query gets its 200.
 *
 * The clients run in child processes of at most PER_WORKER connections,
 * each raising its own soft descriptor limit, bound to the source
 * addresses 127.0.0.2..127.0.0.9 so that no one address runs short of
 * ephemeral ports.
 *
 *   bench_hostile [--receiver PATH] [--conns N] [--window S] [--only NAME,...] [--keep] [--no-peer]
 */
#include "config.h"

#include "bench/bench_util.h"
#include "common/buf.h"
#include "common/frame.h"
#include "common/mpack.h"
#include "common/series.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PER_WORKER 10000
#define MAX_WORKERS 16
#define SOURCES 8            /* 127.0.0.2 .. 127.0.0.9 */
#define HEAD_BYTES (60 << 10)  /* below http_max_header_size's default, 64 KiB */
#define PARTIAL_CLAIM VG_FRAME_MAX_PAYLOAD
#define PARTIAL_SEND (VG_FRAME_MAX_PAYLOAD - (64u << 10))
#define DEFAULT_BUDGET_MIB 256 /* agent_buffer_budget's default */

enum mode {
	MODE_SILENT,    /* connect, send nothing */
	MODE_HELLO,     /* connect, HELLO, then nothing */
	MODE_HTTP_HEAD, /* connect, HEAD_BYTES of a request head never finished */
	MODE_PARTIAL,   /* connect, HELLO, PARTIAL_SEND bytes of a PARTIAL_CLAIM frame */
};

/* One worker's counters and orders, in memory shared with the parent. */
struct worker_state {
	_Atomic uint64_t opened;         /* connect() issued */
	_Atomic uint64_t failed;         /* socket, bind or connect refused locally */
	_Atomic uint64_t connected;      /* the handshake completed */
	_Atomic uint64_t acked;          /* a HELLO answered with an ACK */
	_Atomic uint64_t closed_by_peer; /* EOF or reset from the receiver */
	_Atomic uint64_t bytes_sent;
	_Atomic uint64_t close_upto;     /* parent: close connections [0, close_upto) */
	_Atomic int is_done_opening;
	_Atomic int quit;
};

struct flood {
	enum mode mode;
	uint16_t port;
	unsigned conns;
	unsigned n_workers;
	pid_t pids[MAX_WORKERS];
	struct worker_state *ws; /* n_workers of them, MAP_SHARED */
};

struct receiver {
	pid_t pid;
	uint16_t port, http_port;
	char dir[256];
	char log_path[300];
	long log_offset;     /* bytes of the log counted so far */
	uint64_t log_lines;  /* lines in those bytes */
};

struct usage {
	double cpu_s;
	double rss_bytes;
	long fds;
	uint64_t log_lines;
};

static uint64_t nofile_hard(void)
{
	struct rlimit rl;

	return getrlimit(RLIMIT_NOFILE, &rl) == 0 ? (uint64_t)rl.rlim_max : 0;
}

/* --- the receiver, seen from /proc ----------------------------------------- */

/* Lines appended to the receiver's log since the last call, added up. */
static uint64_t log_lines(struct receiver *r)
{
	char buf[65536];
	FILE *f = fopen(r->log_path, "r");
	size_t n;

	if (f == NULL)
		return r->log_lines;
	if (fseek(f, r->log_offset, SEEK_SET) == 0) {
		while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
			for (size_t i = 0; i < n; i++)
				r->log_lines += buf[i] == '\n';
			r->log_offset += (long)n;
		}
	}
	fclose(f);
	return r->log_lines;
}

/* Lines of the whole log that contain s. */
static uint64_t log_count(const struct receiver *r, const char *s)
{
	FILE *f = fopen(r->log_path, "r");
	char line[8192];
	uint64_t n = 0;

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f))
		n += strstr(line, s) != NULL;
	fclose(f);
	return n;
}

static void usage_of(struct receiver *r, struct usage *u)
{
	if (vg_bench_proc_usage(r->pid, &u->cpu_s, &u->rss_bytes) != 0)
		u->cpu_s = u->rss_bytes = 0;
	u->fds = vg_bench_proc_fds(r->pid);
	u->log_lines = log_lines(r);
}

static bool receiver_alive(const struct receiver *r)
{
	return vg_bench_is_alive(r->pid);
}

/* A new directory for r, and in it the paths of the log and of the
 * file named (the configuration); 0, or -1. */
static int receiver_dir(struct receiver *r, const char *log_name, const char *name, char *path, size_t cap)
{
	memset(r, 0, sizeof(*r));
	if (vg_bench_tmpdir("hostile", r->dir, sizeof(r->dir)) != 0)
		return -1;
	snprintf(r->log_path, sizeof(r->log_path), "%s/%s", r->dir, log_name);
	snprintf(path, cap, "%s/%s", r->dir, name);
	return 0;
}

static int write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f == NULL)
		return -1;
	fputs(text, f);
	return fclose(f) == 0 ? 0 : -1;
}

static int start_receiver(const char *bin, const char *config, struct receiver *r)
{
	char conf[320], data[320], ports[320], cfg_arg[340];

	if (receiver_dir(r, "receiver.log", "receiver.yaml", conf, sizeof(conf)) != 0 || write_text(conf, config) != 0)
		return -1;
	snprintf(data, sizeof(data), "%s/data", r->dir);
	snprintf(ports, sizeof(ports), "%s/ports", r->dir);
	snprintf(cfg_arg, sizeof(cfg_arg), "--config=%s", conf);
	/* The default rules and self metrics off, as the suites run it: the
	 * figures are the clients' cost alone. The soft descriptor limit is
	 * main()'s, raised to the hard one. */
	char *argv[] = { (char *)bin, cfg_arg, "--data-dir", data, "--listen", "127.0.0.1:0", "--http-listen",
			 "127.0.0.1:0", "--port-file", ports, "--no-default-rules", "--self-metrics-interval=0", NULL };
	if ((r->pid = vg_bench_spawn(argv, r->log_path)) < 0)
		return -1;
	if (vg_bench_wait_ports(ports, r->pid, 30, &r->port, &r->http_port) == 0)
		return 0;
	fprintf(stderr, "bench: the receiver did not start (see %s)\n", r->log_path);
	kill(r->pid, SIGKILL);
	return -1;
}

static int http_status(uint16_t port, const char *path, double timeout_s);

/* The peer: Prometheus with its defaults (--web.max-connections 512,
 * --web.read-timeout 5m) and nothing to scrape, in r; r->port stays 0
 * (no agent port). */
static int start_prometheus(struct receiver *r)
{
	char conf[320], data_arg[340], cfg_arg[340], listen[64];

	if (receiver_dir(r, "prometheus.log", "prometheus.yml", conf, sizeof(conf)) != 0 ||
	    (r->http_port = vg_bench_free_port()) == 0 || write_text(conf, "global: {}\n") != 0)
		return -1;
	snprintf(cfg_arg, sizeof(cfg_arg), "--config.file=%s", conf);
	snprintf(data_arg, sizeof(data_arg), "--storage.tsdb.path=%s/data", r->dir);
	snprintf(listen, sizeof(listen), "--web.listen-address=127.0.0.1:%u", r->http_port);
	char *argv[] = { "prometheus", cfg_arg, data_arg, listen, NULL };
	if ((r->pid = vg_bench_spawn(argv, r->log_path)) < 0)
		return -1;
	for (int i = 0; i < 300; i++) {
		if (http_status(r->http_port, "/-/ready", 1) == 200)
			return 0;
		if (!receiver_alive(r))
			break;
		vg_bench_sleep_s(0.1);
	}
	fprintf(stderr, "bench: prometheus did not start (see %s)\n", r->log_path);
	kill(r->pid, SIGKILL);
	return -1;
}

static void stop_receiver(struct receiver *r, bool is_keep)
{
	vg_bench_stop(r->pid);
	if (is_keep)
		printf("  (kept %s)\n", r->dir);
	else
		vg_bench_rmdir(r->dir);
}

/* --- clients ------------------------------------------------------------------ */

static void frame(struct vg_frame_codec *codec, enum vg_frame_type type, uint64_t seq, const struct vg_buf *raw,
		  struct vg_buf *out)
{
	if (vg_frame_encode(codec, type, seq, raw->data, raw->len, out, NULL) != 0) {
		fprintf(stderr, "bench: cannot encode a frame\n");
		exit(1);
	}
}

static void hello_frame(struct vg_frame_codec *codec, const char *agent, uint64_t epoch, struct vg_buf *out)
{
	struct vg_hello hello = { VG_PROTO_VERSION, vg_str_c(agent), epoch, vg_str_c(""), vg_str_c("bench_hostile") };
	struct vg_buf raw = VG_BUF_INIT;

	vg_hello_pack(&hello, &raw);
	frame(codec, VG_FRAME_HELLO, 0, &raw, out);
	vg_buf_release(&raw);
}

/* One sample of series ref 0 at seq, now. */
static void samples_frame(struct vg_frame_codec *codec, uint64_t seq, struct vg_buf *out)
{
	struct vg_buf raw = VG_BUF_INIT;
	struct timespec ts;
	msgpack_packer pk;

	clock_gettime(CLOCK_REALTIME, &ts);
	vg_mp_packer_init(&pk, &raw);
	vg_samples_pack_begin(&pk, 1);
	vg_samples_pack_group(&pk, (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, 1);
	vg_samples_pack_sample(&pk, 0, (double)seq);
	frame(codec, VG_FRAME_SAMPLES, seq, &raw, out);
	vg_buf_release(&raw);
}

/* Reads frames until an ACK of at least seq; 0, or -1 at the deadline, an
 * ERROR or a closed connection. */
static int wait_ack(int fd, uint64_t seq, double deadline)
{
	struct vg_buf in = VG_BUF_INIT;
	int rc = -1;

	for (;;) {
		struct vg_frame_header h;
		uint8_t buf[4096];
		ssize_t r;

		while (in.len >= VG_FRAME_HEADER_SIZE) {
			if (vg_frame_header_decode(in.data, &h, NULL) != 0)
				goto out;
			if (in.len < VG_FRAME_HEADER_SIZE + h.payload_len)
				break;
			if (h.type == VG_FRAME_ERROR)
				goto out;
			if (h.type == VG_FRAME_ACK && h.seq >= seq) {
				rc = 0;
				goto out;
			}
			vg_buf_consume(&in, VG_FRAME_HEADER_SIZE + h.payload_len);
		}
		if (!vg_bench_wait_fd(fd, POLLIN, deadline))
			goto out;
		r = recv(fd, buf, sizeof(buf), 0);
		if (r > 0)
			vg_buf_append(&in, buf, (size_t)r);
		else if (r == 0 || errno != EAGAIN)
			goto out;
	}
out:
	vg_buf_release(&in);
	return rc;
}

/* A calm agent: a connection that said HELLO and defined calm_metric. */
struct calm {
	int fd;
	uint64_t seq;
	struct vg_frame_codec *codec;
	unsigned sent, acked;  /* batches of calm_probe */
	double worst;          /* the slowest ACK of those, seconds */
};

static int calm_open(struct calm *a, uint16_t port, const char *agent, double deadline)
{
	struct vg_buf wire = VG_BUF_INIT, raw = VG_BUF_INIT;
	struct vg_series s;
	msgpack_packer pk;
	int one = 1;

	a->seq = 0;
	if ((a->fd = vg_bench_connect(0, port)) < 0)
		return -1;
	setsockopt(a->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (!vg_bench_wait_fd(a->fd, POLLOUT, deadline))
		goto fail;
	hello_frame(a->codec, agent, 1, &wire);
	vg_series_init(&s, "calm_metric");
	vg_series_add(&s, "job", agent);
	vg_series_canonicalize(&s, NULL);
	vg_mp_packer_init(&pk, &raw);
	vg_series_pack_begin(&pk, 1);
	vg_series_pack_entry(&pk, 0, &s);
	frame(a->codec, VG_FRAME_SERIES, 0, &raw, &wire);
	if (vg_bench_write_all(a->fd, wire.data, wire.len, deadline) != 0 || wait_ack(a->fd, 0, deadline) != 0)
		goto fail;
	vg_buf_release(&wire);
	vg_buf_release(&raw);
	return 0;
fail:
	vg_buf_release(&wire);
	vg_buf_release(&raw);
	close(a->fd);
	a->fd = -1;
	return -1;
}

/* One batch, and the time until its ACK (seconds), or -1. */
static double calm_send(struct calm *a, double deadline)
{
	struct vg_buf wire = VG_BUF_INIT;
	double t0 = vg_bench_now_s();
	int rc;

	samples_frame(a->codec, ++a->seq, &wire);
	rc = vg_bench_write_all(a->fd, wire.data, wire.len, deadline) == 0 ? wait_ack(a->fd, a->seq, deadline) : -1;
	vg_buf_release(&wire);
	return rc == 0 ? vg_bench_now_s() - t0 : -1;
}

/* One batch during a flood, counted in a. */
static void calm_probe(struct calm *a)
{
	double lat = calm_send(a, vg_bench_now_s() + 10);

	a->sent++;
	if (lat >= 0) {
		a->acked++;
		if (lat > a->worst)
			a->worst = lat;
	}
}

/* Whether a new agent, connecting now, gets the ACK of a batch within
 * timeout_s; the seconds it took, or -1. */
static double agent_served(uint16_t port, const char *agent, double timeout_s, struct vg_frame_codec *codec)
{
	struct calm a = { .fd = -1, .codec = codec };
	double t0 = vg_bench_now_s(), deadline = t0 + timeout_s, lat;

	if (calm_open(&a, port, agent, deadline) != 0)
		return -1;
	lat = calm_send(&a, deadline);
	close(a.fd);
	return lat < 0 ? -1 : vg_bench_now_s() - t0;
}

static int http_status(uint16_t port, const char *path, double timeout_s)
{
	return vg_bench_http(port, "GET", path, -1, 0, timeout_s, NULL);
}

/* The value of one sample line of /metrics ("name" or "name{...}"), or -1. */
static double metric(uint16_t http_port, const char *sample)
{
	struct vg_buf body = VG_BUF_INIT;
	double v = -1;

	if (vg_bench_http(http_port, "GET", "/metrics", -1, 0, 10, &body) == 200)
		v = vg_bench_metric_value(vg_buf_cstr(&body), sample);
	vg_buf_release(&body);
	return v;
}

/* Retries a client of the flooded port until served or timeout_s: the
 * seconds until served, or -1. */
static double served_within(bool is_http, uint16_t port, double timeout_s, struct vg_frame_codec *codec)
{
	double t0 = vg_bench_now_s();
	int k = 0;

	while (vg_bench_now_s() - t0 < timeout_s) {
		char agent[32];
		snprintf(agent, sizeof(agent), "late-agent-%d", k++);
		if (is_http ? http_status(port, "/api/v1/labels", 5) == 200
			    : agent_served(port, agent, 5, codec) >= 0)
			return vg_bench_now_s() - t0;
		vg_bench_sleep_s(0.2);
	}
	return -1;
}

/* --- the flood's client processes -------------------------------------------- */

struct wconn {
	int fd;
	bool is_connected;
	bool is_acked;
	size_t sent;   /* of the connection's stream */
};

/* The bytes a connection sends in mode m from offset on: prefix (HELLO,
 * and for MODE_PARTIAL the frame header) and then filler. */
struct stream {
	struct vg_buf prefix;
	size_t total;
	uint8_t filler[65536];
};

static void stream_for(enum mode m, struct vg_frame_codec *codec, unsigned id, struct stream *s)
{
	char agent[48];

	vg_buf_reset(&s->prefix);
	snprintf(agent, sizeof(agent), "hostile-%06u", id); /* one length for all */
	switch (m) {
	case MODE_SILENT:
		s->total = 0;
		break;
	case MODE_HELLO:
		hello_frame(codec, agent, 1, &s->prefix);
		s->total = s->prefix.len;
		break;
	case MODE_PARTIAL: {
		uint8_t hdr[VG_FRAME_HEADER_SIZE] = { 'V', 'G', 'I', 'L', VG_FRAME_VERSION, VG_FRAME_SAMPLES, 0, 0 };
		hello_frame(codec, agent, 1, &s->prefix);
		vg_put_be64(hdr + 8, 1);
		vg_put_be32(hdr + 16, PARTIAL_CLAIM);
		vg_buf_append(&s->prefix, hdr, sizeof(hdr));
		s->total = s->prefix.len + PARTIAL_SEND;
		break;
	}
	case MODE_HTTP_HEAD: {
		char line[1100];
		int n = snprintf(line, sizeof(line), "GET /api/v1/query?query=up HTTP/1.1\r\nHost: 127.0.0.1\r\n");
		vg_buf_append(&s->prefix, line, (size_t)n);
		for (int k = 0; s->prefix.len + 1030 < HEAD_BYTES; k++) {
			n = snprintf(line, sizeof(line), "X-Pad-%04d: %01000d\r\n", k, 0);
			vg_buf_append(&s->prefix, line, (size_t)n);
		}
		s->total = s->prefix.len; /* never the blank line that ends a head */
		break;
	}
	}
}

/* Sends what the kernel takes of c's stream; -1 when the connection died. */
static int stream_send(struct wconn *c, const struct stream *s, struct worker_state *ws)
{
	while (c->sent < s->total) {
		const uint8_t *p;
		size_t n;
		ssize_t w;

		if (c->sent < s->prefix.len) {
			p = s->prefix.data + c->sent;
			n = s->prefix.len - c->sent;
		} else {
			p = s->filler;
			n = s->total - c->sent < sizeof(s->filler) ? s->total - c->sent : sizeof(s->filler);
		}
		w = send(c->fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0)
			return errno == EAGAIN ? 0 : -1;
		c->sent += (size_t)w;
		atomic_fetch_add(&ws->bytes_sent, (uint64_t)w);
	}
	return 0;
}

static void conn_drop(struct wconn *c, int ep, struct worker_state *ws, bool is_by_peer)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	if (is_by_peer)
		atomic_fetch_add(&ws->closed_by_peer, 1);
}

/* Opens n connections numbered first.. and serves them as mode says until
 * told to quit. */
static void worker_main(enum mode m, uint16_t port, unsigned first, unsigned n, struct worker_state *ws)
{
	struct wconn *cs = calloc(n, sizeof(*cs));
	struct epoll_event evs[512];
	struct vg_frame_codec *codec = vg_frame_codec_new(1);
	struct stream *s = calloc(1, sizeof(*s));
	uint64_t closed_upto = 0;
	int ep = epoll_create1(EPOLL_CLOEXEC);

	if (cs == NULL || s == NULL || ep < 0)
		_exit(1);
	vg_bench_raise_nofile();
	memset(s->filler, 0x5a, sizeof(s->filler));
	/* Every connection sends the same bytes but its HELLO's name, which
	 * has one length for all: s holds the stream of the connection that
	 * began last, and one resumed later sends the rest of its own. */
	stream_for(m, codec, first, s);
	for (unsigned i = 0; i < n; i++) {
		struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP, .data.u32 = i };
		cs[i].fd = vg_bench_connect(2 + (first + i) % SOURCES, port);
		if (cs[i].fd < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &ev) != 0) {
			if (cs[i].fd >= 0)
				close(cs[i].fd);
			cs[i].fd = -1;
			atomic_fetch_add(&ws->failed, 1);
		}
		atomic_fetch_add(&ws->opened, 1);
	}
	atomic_store(&ws->is_done_opening, 1);
	while (!atomic_load(&ws->quit)) {
		int k = epoll_wait(ep, evs, 512, 100);
		uint64_t upto = atomic_load(&ws->close_upto);

		for (; closed_upto < upto && closed_upto < n; closed_upto++)
			if (cs[closed_upto].fd >= 0)
				conn_drop(&cs[closed_upto], ep, ws, false);
		for (int e = 0; e < k; e++) {
			struct wconn *c = &cs[evs[e].data.u32];
			uint32_t what = evs[e].events;

			if (c->fd < 0)
				continue;
			if (!c->is_connected && (what & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
				int err = 0;
				socklen_t len = sizeof(err);
				getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
				if (err != 0) {
					/* Refused or timed out before it was made. */
					atomic_fetch_add(&ws->failed, 1);
					conn_drop(c, ep, ws, false);
					continue;
				}
				c->is_connected = true;
				atomic_fetch_add(&ws->connected, 1);
			}
			if (c->is_connected && (what & EPOLLOUT)) {
				if (c->sent == 0 && s->total > 0)
					stream_for(m, codec, first + evs[e].data.u32, s);
				if (stream_send(c, s, ws) != 0) {
					conn_drop(c, ep, ws, true);
					continue;
				}
				if (c->sent >= s->total) {
					struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP, .data.u32 = evs[e].data.u32 };
					epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
				}
			}
			if (what & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
				uint8_t buf[4096];
				ssize_t r = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
				if (r > 0) {
					if (!c->is_acked && r >= VG_FRAME_HEADER_SIZE && buf[5] == VG_FRAME_ACK) {
						c->is_acked = true;
						atomic_fetch_add(&ws->acked, 1);
					}
				} else if (r == 0 || errno != EAGAIN) {
					conn_drop(c, ep, ws, true);
				}
			}
		}
	}
	_exit(0);
}

/* Starts the flood's workers; returns once each has issued its connects. */
static int flood_start(struct flood *f, enum mode m, uint16_t port, unsigned conns)
{
	f->mode = m;
	f->port = port;
	f->conns = conns;
	f->n_workers = (conns + PER_WORKER - 1) / PER_WORKER;
	if (f->n_workers > MAX_WORKERS)
		return -1;
	f->ws = mmap(NULL, sizeof(*f->ws) * f->n_workers, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (f->ws == MAP_FAILED)
		return -1;
	memset(f->ws, 0, sizeof(*f->ws) * f->n_workers);
	for (unsigned w = 0; w < f->n_workers; w++) {
		unsigned first = w * PER_WORKER, n = conns - first < PER_WORKER ? conns - first : PER_WORKER;
		pid_t pid = fork();
		if (pid < 0)
			return -1;
		if (pid == 0)
			worker_main(m, port, first, n, &f->ws[w]);
		f->pids[w] = pid;
	}
	for (unsigned w = 0; w < f->n_workers; w++)
		while (!atomic_load(&f->ws[w].is_done_opening))
			usleep(10000);
	return 0;
}

/* A counter of struct worker_state, over all workers. */
static uint64_t sum_at(const struct flood *f, size_t offset)
{
	uint64_t s = 0;

	for (unsigned w = 0; w < f->n_workers; w++)
		s += atomic_load((_Atomic uint64_t *)((char *)&f->ws[w] + offset));
	return s;
}

#define SUM(f, field) sum_at((f), offsetof(struct worker_state, field))

/* Closes the first share (0..1) of each worker's connections. */
static void flood_close_share(struct flood *f, double share)
{
	for (unsigned w = 0; w < f->n_workers; w++)
		atomic_store(&f->ws[w].close_upto, (uint64_t)(PER_WORKER * share));
}

static void flood_stop(struct flood *f)
{
	for (unsigned w = 0; w < f->n_workers; w++)
		atomic_store(&f->ws[w].quit, 1);
	for (unsigned w = 0; w < f->n_workers; w++)
		waitpid(f->pids[w], NULL, 0);
	munmap(f->ws, sizeof(*f->ws) * f->n_workers);
}

static void flood_print(const struct flood *f)
{
	printf("  clients: %llu connects, %llu made, %llu failed, %llu HELLOs acked, %llu closed by the receiver, "
	       "%.1f MiB sent\n",
	       (unsigned long long)SUM(f, opened), (unsigned long long)SUM(f, connected),
	       (unsigned long long)SUM(f, failed), (unsigned long long)SUM(f, acked),
	       (unsigned long long)SUM(f, closed_by_peer), (double)SUM(f, bytes_sent) / 1048576.0);
}

/* --- scenarios ------------------------------------------------------------------ */

struct opts {
	const char *bin;
	unsigned conns;
	double window_s;
	bool is_keep;
	struct vg_frame_codec *codec;
	struct vg_bench_result *result; /* built up scenario by scenario */
};

/* The configuration on one line. */
static void print_config(const char *config)
{
	if (*config == '\0')
		printf("(defaults)");
	for (const char *p = config; *p; p++) {
		if (*p != '\n')
			putchar(*p);
		else if (p[1])
			printf(", ");
	}
	putchar('\n');
}

/* Until the receiver's descriptors (or, for bytes, what the clients got
 * sent) stop growing for 3 s, at most 90 s: the flood's ramp. */
static double ramp(struct receiver *r, struct flood *f)
{
	double t0 = vg_bench_now_s(), last_change = t0;
	long fds = vg_bench_proc_fds(r->pid);
	uint64_t sent = SUM(f, bytes_sent), acked = SUM(f, acked);

	while (vg_bench_now_s() - last_change < 3 && vg_bench_now_s() - t0 < 90 && receiver_alive(r)) {
		long nf;
		uint64_t ns, na;
		vg_bench_sleep_s(0.5);
		nf = vg_bench_proc_fds(r->pid);
		ns = SUM(f, bytes_sent);
		na = SUM(f, acked);
		if (nf != fds || ns != sent || na != acked)
			last_change = vg_bench_now_s();
		fds = nf, sent = ns, acked = na;
	}
	return vg_bench_now_s() - t0;
}

/* Measures the receiver at rest (u0), starts the flood and waits out its
 * ramp (u1, and its seconds in ramp_s). */
static int flood_ramp(struct receiver *r, struct flood *f, enum mode m, uint16_t port, unsigned conns,
		      struct usage *u0, struct usage *u1, double *ramp_s)
{
	vg_bench_sleep_s(1);
	usage_of(r, u0);
	if (flood_start(f, m, port, conns) != 0)
		return -1;
	*ramp_s = ramp(r, f);
	usage_of(r, u1);
	return 0;
}

/*
 * A flood of idle connections past the descriptor limit: the ramp, the
 * window, the other port during the flood, and a client of the flooded
 * port after a third of the flood closed.
 */
static int scenario_idle(const struct opts *o, const char *name, const char *config, bool is_http, enum mode m,
			 bool is_peer)
{
	struct receiver r;
	struct flood f;
	struct usage u0, u1, u2;
	double ramp_s, other, during = 0, after, per_conn;
	uint64_t emfile_lines, pause_lines;

	printf("\n%s: %u %s connections to the %s port, config: ", name, o->conns,
	       m == MODE_HELLO ? "HELLO-then-silent" : "silent", is_http ? "HTTP" : "agent");
	print_config(config);
	if ((is_peer ? start_prometheus(&r) : start_receiver(o->bin, config, &r)) != 0 ||
	    flood_ramp(&r, &f, m, is_http ? r.http_port : r.port, o->conns, &u0, &u1, &ramp_s) != 0)
		return 1;
	vg_bench_sleep_s(o->window_s);
	usage_of(&r, &u2);
	if (!receiver_alive(&r)) {
		fprintf(stderr, "bench: %s: the receiver died (see %s)\n", name, r.log_path);
		return 1;
	}
	per_conn = u2.fds > u0.fds ? (u2.rss_bytes - u0.rss_bytes) / (double)(u2.fds - u0.fds) : 0;
	printf("  ramp: %.1f s to a steady %ld descriptors (receiver: %.2f CPU s, %llu log lines)\n", ramp_s, u1.fds,
	       u1.cpu_s - u0.cpu_s, (unsigned long long)(u1.log_lines - u0.log_lines));
	printf("  window %.0f s at the limit: %.2f CPU s (%.1f %% of a core), %llu log lines\n", o->window_s,
	       u2.cpu_s - u1.cpu_s, 100 * (u2.cpu_s - u1.cpu_s) / o->window_s,
	       (unsigned long long)(u2.log_lines - u1.log_lines));
	printf("  descriptors held: %ld (of a limit of %llu); RSS %.1f MiB -> %.1f MiB, %.0f bytes per connection\n",
	       u2.fds, (unsigned long long)nofile_hard(), u0.rss_bytes / 1048576.0, u2.rss_bytes / 1048576.0, per_conn);
	flood_print(&f);
	/* The other port, while the flood holds on. */
	other = is_peer ? -1
		: is_http ? agent_served(r.port, "during-http-flood", 10, o->codec)
			  : (http_status(r.http_port, "/api/v1/labels", 10) == 200 ? 0 : -1);
	if (is_peer)
		printf("  (no agent port)\n");
	else if (is_http)
		printf("  an agent during the flood: %s", other >= 0 ? "served" : "NOT served within 10 s\n");
	else
		printf("  a query during the flood: %s", other >= 0 ? "answered 200\n" : "NOT answered within 10 s\n");
	if (!is_peer && is_http && other >= 0)
		printf(" (ACK in %.3f s)\n", other);
	/* A query to the flooded HTTP port: it waits behind the flood in
	 * the backlog until held connections are cut or closed. */
	if (is_http) {
		during = served_within(true, r.http_port, 30, o->codec);
		if (during >= 0)
			printf("  a query during the flood: answered 200 in %.2f s\n", during);
		else
			printf("  a query during the flood: NOT answered within 30 s\n");
	}
	flood_close_share(&f, 1.0 / 3);
	after = served_within(is_http, is_http ? r.http_port : r.port, 60, o->codec);
	if (after >= 0)
		printf("  after a third of the flood closed: %s in %.2f s\n",
		       is_http ? "a query answered 200" : "a new agent's batch acknowledged", after);
	else
		printf("  after a third of the flood closed: NOT served within 60 s\n");
	flood_stop(&f);
	log_lines(&r);
	emfile_lines = log_count(&r, "Too many open files");
	pause_lines = log_count(&r, "pausing the listener");
	printf("  log: %llu lines in all, %llu saying \"Too many open files\", %llu about pausing a listener\n",
	       (unsigned long long)r.log_lines, (unsigned long long)emfile_lines, (unsigned long long)pause_lines);
	stop_receiver(&r, o->is_keep);
	vg_bench_result_add(o->result,
			    "%s_fds=%ld %s_cpu_pct=%.1f %s_log_lines=%llu %s_rss_bytes_per_conn=%.0f %s_other_served=%s "
			    "%s_served_after_s=%.2f",
			    name, u2.fds, name, 100 * (u2.cpu_s - u1.cpu_s) / o->window_s, name,
			    (unsigned long long)(u2.log_lines - u0.log_lines), name, per_conn, name,
			    is_peer ? "na" : other >= 0 ? "1" : "0", name, after);
	if (is_http)
		vg_bench_result_add(o->result, "%s_query_during_s=%.2f", name, during);
	return 0;
}

/* Connections each holding an unfinished request head. */
static int scenario_heads(const struct opts *o, unsigned conns)
{
	struct receiver r;
	struct flood f;
	struct usage u0, u1, u2;
	double ramp_s, peak = 0, t_end, after;
	long peak_fds = 0;

	printf("\nhttp_heads: %u connections each sending %u KiB of a request head never finished (defaults)\n",
	       conns, HEAD_BYTES >> 10);
	if (start_receiver(o->bin, "", &r) != 0 ||
	    flood_ramp(&r, &f, MODE_HTTP_HEAD, r.http_port, conns, &u0, &u1, &ramp_s) != 0)
		return 1;
	t_end = vg_bench_now_s() + o->window_s;
	while (vg_bench_now_s() < t_end) {
		struct usage u;
		vg_bench_sleep_s(0.25);
		usage_of(&r, &u);
		if (u.rss_bytes > peak)
			peak = u.rss_bytes;
		if (u.fds > peak_fds)
			peak_fds = u.fds;
	}
	usage_of(&r, &u2);
	printf("  ramp: %.1f s; window %.0f s: %.2f CPU s, %llu log lines\n", ramp_s, o->window_s,
	       u2.cpu_s - u1.cpu_s, (unsigned long long)(u2.log_lines - u1.log_lines));
	printf("  descriptors: at most %ld; RSS %.1f MiB -> peak %.1f MiB (+%.1f MiB, %.0f bytes per connection held)\n",
	       peak_fds, u0.rss_bytes / 1048576.0, peak / 1048576.0, (peak - u0.rss_bytes) / 1048576.0,
	       peak_fds > u0.fds ? (peak - u0.rss_bytes) / (double)(peak_fds - u0.fds) : 0);
	flood_print(&f);
	double agent = agent_served(r.port, "during-heads", 10, o->codec);
	printf("  an agent during the flood: %s\n", agent >= 0 ? "served" : "NOT served within 10 s");
	after = served_within(true, r.http_port, 60, o->codec);
	printf("  a query during the flood: %s", after >= 0 ? "answered 200" : "NOT answered within 60 s\n");
	if (after >= 0)
		printf(" after %.2f s\n", after);
	flood_stop(&f);
	log_lines(&r);
	printf("  log: %llu lines in all\n", (unsigned long long)r.log_lines);
	stop_receiver(&r, o->is_keep);
	vg_bench_result_add(o->result,
			    "http_heads_conns=%u http_heads_rss_growth_mib=%.1f http_heads_query_s=%.2f", conns,
			    (peak - u0.rss_bytes) / 1048576.0, after);
	return 0;
}

/* Agents that said HELLO and sent most of an 8 MiB frame; a calm agent
 * sends a batch a second throughout. */
static int scenario_partial(const struct opts *o, unsigned conns)
{
	struct receiver r;
	struct flood f;
	struct calm calm = { .fd = -1, .codec = o->codec };
	struct usage u0, u1, u2;
	double peak = 0, ramp_s, t_end;

	printf("\npartial_frames: %u agents each sending %.2f MiB of a %u MiB frame (defaults: agent_buffer_budget "
	       "%d MiB)\n", conns, PARTIAL_SEND / 1048576.0, PARTIAL_CLAIM >> 20, DEFAULT_BUDGET_MIB);
	if (start_receiver(o->bin, "", &r) != 0)
		return 1;
	if (calm_open(&calm, r.port, "calm", vg_bench_now_s() + 10) != 0 ||
	    calm_send(&calm, vg_bench_now_s() + 10) < 0) {
		fprintf(stderr, "bench: the calm agent was not served before the flood\n");
		return 1;
	}
	if (flood_ramp(&r, &f, MODE_PARTIAL, r.port, conns, &u0, &u1, &ramp_s) != 0)
		return 1;
	t_end = vg_bench_now_s() + o->window_s;
	while (vg_bench_now_s() < t_end) {
		struct usage u;
		calm_probe(&calm);
		usage_of(&r, &u);
		if (u.rss_bytes > peak)
			peak = u.rss_bytes;
		vg_bench_sleep_s(0.5);
	}
	usage_of(&r, &u2);
	printf("  ramp: %.1f s; window %.0f s: %.2f CPU s, %llu log lines\n", ramp_s, o->window_s,
	       u2.cpu_s - u1.cpu_s, (unsigned long long)(u2.log_lines - u1.log_lines));
	printf("  RSS %.1f MiB -> peak %.1f MiB: +%.1f MiB for %.0f MiB claimed (budget %d MiB)\n",
	       u0.rss_bytes / 1048576.0, peak / 1048576.0, (peak - u0.rss_bytes) / 1048576.0,
	       (double)conns * PARTIAL_CLAIM / 1048576.0, DEFAULT_BUDGET_MIB);
	printf("  the calm agent: %u of %u batches acknowledged, the slowest in %.3f s\n", calm.acked, calm.sent,
	       calm.worst);
	flood_print(&f);
	flood_stop(&f);
	close(calm.fd);
	log_lines(&r);
	printf("  log: %llu lines in all\n", (unsigned long long)r.log_lines);
	stop_receiver(&r, o->is_keep);
	vg_bench_result_add(o->result,
			    "partial_conns=%u partial_claimed_mib=%.0f partial_rss_growth_mib=%.1f partial_calm_acked=%u/%u "
			    "partial_calm_worst_ack_s=%.3f",
			    conns, (double)conns * PARTIAL_CLAIM / 1048576.0, (peak - u0.rss_bytes) / 1048576.0, calm.acked,
			    calm.sent, calm.worst);
	return 0;
}

/* Connections that never say HELLO, until all were closed and the
 * summary of the tally (a minute) is written. */
static int scenario_no_hello(const struct opts *o, unsigned conns)
{
	struct receiver r;
	struct flood f;
	struct usage u0, u1;
	double t0, all_closed = -1;
	uint64_t summary = 0;

	printf("\nno_hello: %u agent connections that never send a HELLO (defaults: agent_hello_timeout 10 s)\n",
	       conns);
	if (start_receiver(o->bin, "", &r) != 0)
		return 1;
	vg_bench_sleep_s(1);
	usage_of(&r, &u0);
	t0 = vg_bench_now_s();
	if (flood_start(&f, MODE_SILENT, r.port, conns) != 0)
		return 1;
	/* The tally logs the first event at once and the rest a minute later. */
	while (vg_bench_now_s() - t0 < 80) {
		vg_bench_sleep_s(0.5);
		if (all_closed < 0 && SUM(&f, closed_by_peer) >= conns)
			all_closed = vg_bench_now_s() - t0;
		log_lines(&r);
		if ((summary = log_count(&r, "closed without a HELLO in the last")) > 0 && all_closed >= 0)
			break;
	}
	usage_of(&r, &u1);
	printf("  all %llu closed by the receiver after %.1f s; summary written after %.1f s\n",
	       (unsigned long long)SUM(&f, closed_by_peer), all_closed, vg_bench_now_s() - t0);
	printf("  receiver: %.2f CPU s, %llu log lines (%llu of them summaries)\n", u1.cpu_s - u0.cpu_s,
	       (unsigned long long)(u1.log_lines - u0.log_lines), (unsigned long long)summary);
	flood_print(&f);
	flood_stop(&f);
	stop_receiver(&r, o->is_keep);
	vg_bench_result_add(o->result,
			    "no_hello_conns=%u no_hello_log_lines=%llu", conns,
			    (unsigned long long)(u1.log_lines - u0.log_lines));
	return 0;
}

/* Two label values of SERIES_PAD bytes a series, each unique: about
 * 5.3 KB of key, as the flood issue 12 measured. */
#define SERIES_PAD 2600
#define SERIES_PER_FRAME 5000

/* A SERIES frame of n series flood{job, i, pad1, pad2} from number
 * first, refs from first_ref. */
static void series_flood_frame(struct vg_frame_codec *codec, uint64_t first, uint64_t first_ref, unsigned n,
			       char *pad, struct vg_buf *raw, struct vg_buf *out)
{
	msgpack_packer pk;
	char i[24];

	vg_buf_reset(raw);
	vg_buf_reset(out);
	vg_mp_packer_init(&pk, raw);
	vg_series_pack_begin(&pk, n);
	for (unsigned k = 0; k < n; k++) {
		struct vg_series sr;
		snprintf(i, sizeof(i), "%llu", (unsigned long long)(first + k));
		memcpy(pad, i, strlen(i)); /* unique, so that no two keys share it */
		vg_series_init(&sr, "flood");
		vg_series_add(&sr, "job", "flood");
		vg_series_add(&sr, "i", i);
		vg_series_add(&sr, "pad1", pad);
		vg_series_add(&sr, "pad2", pad);
		vg_series_canonicalize(&sr, NULL);
		vg_series_pack_entry(&pk, first_ref + k, &sr);
	}
	frame(codec, VG_FRAME_SERIES, 0, raw, out);
}

/* An ERROR or EOF waiting on fd: the receiver refused the connection. */
static bool was_refused(int fd)
{
	uint8_t buf[4096];
	ssize_t r;

	if (!vg_bench_wait_fd(fd, POLLIN, vg_bench_now_s()))
		return false;
	r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
	return r == 0 || (r < 0 && errno != EAGAIN) || (r >= VG_FRAME_HEADER_SIZE && buf[5] == VG_FRAME_ERROR);
}

/*
 * One agent defines `total` new series with long label values as fast
 * as it can (for at most a minute), protocol 1: past its limits each
 * SERIES frame is answered with an ERROR and the connection closed, and
 * it reconnects under the same name. Its refs are new ones, or with
 * is_redefine the same 0..SERIES_PER_FRAME-1 in every frame. A calm agent
 * sends a batch between frames, every half second.
 */
static int scenario_series(const struct opts *o, const char *name, unsigned total, bool is_redefine)
{
	struct receiver r;
	struct calm calm = { .fd = -1, .codec = o->codec };
	struct vg_buf raw = VG_BUF_INIT, wire = VG_BUF_INIT;
	struct usage u0, u1;
	char *pad = malloc(SERIES_PAD + 1);
	uint64_t sent = 0, frames = 0, conns = 0, refs = 0;
	double t0, t_calm = 0, elapsed;
	int fd = -1;

	printf("\n%s: one agent defines %u new series of about %u KB (protocol 1, %s), defaults "
	       "(max_series_per_agent 20000, max_new_series_per_minute 10000)\n",
	       name, total, (2 * SERIES_PAD + 100) / 1000,
	       is_redefine ? "the same refs redefined in every frame" : "new refs");
	if (pad == NULL || start_receiver(o->bin, "", &r) != 0)
		return 1;
	memset(pad, 'x', SERIES_PAD);
	pad[SERIES_PAD] = '\0';
	if (calm_open(&calm, r.port, "calm", vg_bench_now_s() + 10) != 0) {
		fprintf(stderr, "bench: the calm agent was not served before the flood\n");
		return 1;
	}
	vg_bench_sleep_s(1);
	usage_of(&r, &u0);
	t0 = vg_bench_now_s();
	while (sent < total && vg_bench_now_s() - t0 < 60) {
		if (fd < 0) {
			struct vg_buf hello = VG_BUF_INIT;
			fd = vg_bench_connect(0, r.port);
			hello_frame(o->codec, "flood", 1, &hello);
			if (fd < 0 || !vg_bench_wait_fd(fd, POLLOUT, vg_bench_now_s() + 10) ||
			    vg_bench_write_all(fd, hello.data, hello.len, vg_bench_now_s() + 10) != 0 ||
			    wait_ack(fd, 0, vg_bench_now_s() + 10) != 0) {
				vg_buf_release(&hello);
				fprintf(stderr, "bench: the flooding agent's HELLO was not answered\n");
				return 1;
			}
			vg_buf_release(&hello);
			conns++;
			refs = 0;
		}
		series_flood_frame(o->codec, sent, is_redefine ? 0 : refs, SERIES_PER_FRAME, pad, &raw, &wire);
		/* A refused connection is closed by the receiver: the write
		 * fails, or the ERROR is waiting. */
		if (vg_bench_write_all(fd, wire.data, wire.len, vg_bench_now_s() + 30) == 0) {
			sent += SERIES_PER_FRAME;
			refs += SERIES_PER_FRAME;
			frames++;
			if (was_refused(fd)) {
				close(fd);
				fd = -1;
			}
		} else {
			close(fd);
			fd = -1;
		}
		if (vg_bench_now_s() - t_calm >= 0.5) {
			calm_probe(&calm);
			t_calm = vg_bench_now_s();
		}
	}
	elapsed = vg_bench_now_s() - t0;
	if (fd >= 0)
		close(fd);
	vg_bench_sleep_s(1);
	usage_of(&r, &u1);
	double head = metric(r.http_port, "vigil_receiver_head_series");
	double refused = metric(r.http_port, "vigil_receiver_series_refused_all_total");
	printf("  %llu series in %llu frames over %llu connections in %.1f s; the head holds %.0f series, "
	       "%.0f refused\n",
	       (unsigned long long)sent, (unsigned long long)frames, (unsigned long long)conns, elapsed, head,
	       refused);
	printf("  receiver: %.2f CPU s (%.2f per million series sent), RSS %.1f MiB -> %.1f MiB (+%.1f MiB), "
	       "%llu log lines\n",
	       u1.cpu_s - u0.cpu_s, (u1.cpu_s - u0.cpu_s) / (sent / 1e6), u0.rss_bytes / 1048576.0,
	       u1.rss_bytes / 1048576.0, (u1.rss_bytes - u0.rss_bytes) / 1048576.0,
	       (unsigned long long)(u1.log_lines - u0.log_lines));
	printf("  the calm agent: %u of %u batches acknowledged, the slowest in %.3f s\n", calm.acked, calm.sent,
	       calm.worst);
	close(calm.fd);
	stop_receiver(&r, o->is_keep);
	vg_bench_result_add(o->result,
			    "%s_sent=%llu %s_stored=%.0f %s_rss_growth_mib=%.1f %s_cpu_s_per_m=%.2f %s_log_lines=%llu "
			    "%s_calm_acked=%u/%u",
			    name, (unsigned long long)sent, name, head, name, (u1.rss_bytes - u0.rss_bytes) / 1048576.0, name,
			    (u1.cpu_s - u0.cpu_s) / (sent / 1e6), name, (unsigned long long)(u1.log_lines - u0.log_lines),
			    name, calm.acked, calm.sent);
	vg_buf_release(&raw);
	vg_buf_release(&wire);
	free(pad);
	return 0;
}

static bool wanted(const char *only, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = only; p && *p;) {
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		if (len == n && strncmp(p, name, n) == 0)
			return true;
		p = e ? e + 1 : NULL;
	}
	return only == NULL;
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "receiver", required_argument, NULL, 'r' }, { "conns", required_argument, NULL, 'c' },
		{ "window", required_argument, NULL, 'w' },   { "only", required_argument, NULL, 'o' },
		{ "keep", no_argument, NULL, 'k' },           { "no-peer", no_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	struct vg_bench_result result = VG_BENCH_RESULT_INIT;
	struct opts o = { .bin = VG_BUILDDIR "/vigil-receiver", .conns = 24000, .window_s = 25, .result = &result };
	const char *only = NULL;
	bool is_no_peer = false;
	int c, rc = 0;

	while ((c = getopt_long(argc, argv, "", lopts, NULL)) != -1) {
		switch (c) {
		case 'r': o.bin = optarg; break;
		case 'c': o.conns = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'w': o.window_s = strtod(optarg, NULL); break;
		case 'o': only = optarg; break;
		case 'k': o.is_keep = true; break;
		case 'n': is_no_peer = true; break;
		default:
			fprintf(stderr, "usage: bench_hostile [--receiver PATH] [--conns N] [--window S] "
					"[--only NAME,...] [--keep] [--no-peer]\n");
			return 2;
		}
	}
	if (o.conns == 0 || o.conns > PER_WORKER * MAX_WORKERS || o.window_s <= 0)
		return 2;
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	vg_bench_raise_nofile();
	o.codec = vg_frame_codec_new(1);
	vg_bench_result_add(&result, "conns=%u window_s=%.0f", o.conns, o.window_s);
	printf("bench_hostile: descriptor limit %llu (hard, the receiver's soft limit raised to it), "
	       "%u flood connections from %d source addresses, %.0f s windows\n",
	       (unsigned long long)nofile_hard(), o.conns, SOURCES, o.window_s);
	if (wanted(only, "agent_idle"))
		rc |= scenario_idle(&o, "agent_idle", "", false, MODE_HELLO, false);
	if (wanted(only, "agent_idle_overcommit"))
		rc |= scenario_idle(&o, "agent_idle_overcommit", "max_connections: 100000\n", false, MODE_HELLO, false);
	if (wanted(only, "http_idle"))
		rc |= scenario_idle(&o, "http_idle", "", true, MODE_SILENT, false);
	if (wanted(only, "http_idle_prometheus") && !is_no_peer)
		rc |= scenario_idle(&o, "http_idle_prometheus", "", true, MODE_SILENT, true);
	if (wanted(only, "http_idle_overcommit"))
		rc |= scenario_idle(&o, "http_idle_overcommit",
				    "http_max_connections: 100000\nhttp_header_timeout: 1h\nhttp_timeout: 1h\n", true,
				    MODE_SILENT, false);
	if (wanted(only, "http_heads"))
		rc |= scenario_heads(&o, 2000);
	if (wanted(only, "partial_frames"))
		rc |= scenario_partial(&o, 64);
	if (wanted(only, "series_flood"))
		rc |= scenario_series(&o, "series_flood", 2000000, false);
	if (wanted(only, "series_redefine"))
		rc |= scenario_series(&o, "series_redefine", 2000000, true);
	if (wanted(only, "no_hello"))
		rc |= scenario_no_hello(&o, 5000);
	vg_bench_result_print(&result);
	vg_frame_codec_free(o.codec);
	return rc;
}
