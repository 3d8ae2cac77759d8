/*
 * bench_statsd.c: StatsD packets per second into one real vigil-agent.
 *
 * Starts a vigil-receiver and a vigil-agent (1 s interval, StatsD on a
 * loopback port, statsd_receive_buffer --receive-buffer) in a temporary
 * directory, warms the agent up with its keys, then sends one-line
 * datagrams for --seconds from --senders threads (1), each with sendmmsg
 * over datagrams built once before the run, as fast as it can or paced to
 * --rate datagrams/s in all. The --keys lines (1000) are a mix of what
 * applications send, over a few hundred metric names of 25 services:
 * 60 % counters (some sampled, @0.1), 25 % timers (some @0.5), 10 %
 * gauges (some signed deltas), 2.5 % histograms, 2.5 % sets, nearly all
 * with DogStatsD tags. --pin puts the senders on CPU 0 and the agent on
 * CPU 1.
 *
 * Prints what was sent and the sender's CPU-seconds; what the agent took
 * (its own vigil_agent_statsd_packets_total, read back from the receiver)
 * per second of wall time, from the first datagram sent until its socket's
 * queue was empty again (/proc/net/udp); its CPU-seconds over that time;
 * what the kernel dropped at its socket (the agent's own count, read with
 * SO_MEMINFO, and /proc/net/udp's drops column for the port) and the
 * receive buffer it was granted; its RSS idle, after the warm-up and the
 * least and most sampled every 250 ms during the run (flat memory: equal
 * but for a page or two); the load average (the machine is shared); and,
 * when nothing was dropped, whether the counters' stored totals are
 * exactly what was sent. Then one RESULT line.
 *
 *   bench_statsd [--seconds S] [--keys K] [--senders N] [--rate R] [--pin]
 *                [--receive-buffer BYTES] [--agent PATH] [--receiver PATH]
 */
#define _GNU_SOURCE 1
#include "config.h"

#include "bench/bench_util.h"

#include <arpa/inet.h>
#include <getopt.h>
#include <pthread.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 256   /* datagrams a sendmmsg */
#define MAX_SENDERS 8
#define MAX_KEYS 65536
#define LINE_BYTES 160

struct sender {
	pthread_t thread;
	int fd, cpu;
	size_t keys, first;
	double seconds, rate; /* rate: this sender's datagrams/s, 0 unpaced */
	struct mmsghdr *msgs; /* the cycle of datagrams, keys rounded up to BATCH, built once */
	size_t cycle;
	const double *inc;    /* per key: what a counter line adds to its total (value / rate), 0 for others */
	uint64_t sent, errors;
	double counted;       /* sum of inc over what was sent */
	double cpu_s;         /* the thread's CPU-seconds */
};

static double clock_s(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Sends the cycle, BATCH a call, for s->seconds; paced when s->rate. */
static void *send_loop(void *arg)
{
	struct sender *s = arg;
	double t0, t, c0;
	size_t off = s->first % s->cycle;

	if (s->cpu >= 0) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(s->cpu, &set);
		pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	}
	c0 = clock_s(CLOCK_THREAD_CPUTIME_ID);
	t0 = clock_s(CLOCK_MONOTONIC);
	for (;;) {
		unsigned want = (unsigned)(s->cycle - off < BATCH ? s->cycle - off : BATCH);
		int n;
		t = clock_s(CLOCK_MONOTONIC);
		if (t - t0 >= s->seconds)
			break;
		if (s->rate > 0) {
			double due = t0 + (double)s->sent / s->rate;
			if (due > t) {
				struct timespec ts = { (time_t)(due - t), (long)((due - t - (double)(time_t)(due - t)) * 1e9) };
				nanosleep(&ts, NULL);
			}
		}
		n = sendmmsg(s->fd, s->msgs + off, want, 0);
		if (n <= 0) {
			s->errors++;
			continue;
		}
		for (int i = 0; i < n; i++)
			s->counted += s->inc[(off + (size_t)i) % s->keys];
		s->sent += (uint64_t)n;
		off = (off + (size_t)n) % s->cycle;
	}
	s->cpu_s = clock_s(CLOCK_THREAD_CPUTIME_ID) - c0;
	return NULL;
}

/* RSS of pid in KiB, or -1. */
static long rss_kib(pid_t pid)
{
	double bytes;

	return vg_bench_proc_usage(pid, NULL, &bytes) == 0 ? (long)(bytes / 1024) : -1;
}

/* The drops column and the bytes queued (rx_queue) of /proc/net/udp for
 * the socket bound to port; -1 when it is not there. */
static long proc_udp(uint16_t port, long *rx_queue)
{
	char line[512], want[16];
	long drops = -1;
	FILE *f = fopen("/proc/net/udp", "r");

	*rx_queue = -1;
	if (f == NULL)
		return -1;
	snprintf(want, sizeof(want), ":%04X ", port);
	while (fgets(line, sizeof(line), f)) {
		char *loc = strchr(line, ':'); /* after "sl:" */
		if (loc && (loc = strchr(loc + 1, ':')) && strncmp(loc, want, strlen(want)) == 0) {
			/* sl local rem st tx:rx tr:when retrnsmt uid timeout inode ref pointer drops */
			char *save = NULL, *tok = strtok_r(line, " \t\n", &save);
			for (int i = 0; tok && i < 12; i++) {
				if (i == 4 && strchr(tok, ':'))
					*rx_queue = strtol(strchr(tok, ':') + 1, NULL, 16);
				tok = strtok_r(NULL, " \t\n", &save);
			}
			if (tok)
				drops = strtol(tok, NULL, 10);
		}
	}
	fclose(f);
	return drops;
}

static uint16_t statsd_port_from_log(const char *log_path)
{
	for (int i = 0; i < 200; i++) {
		FILE *f = fopen(log_path, "r");
		char line[1024];
		unsigned port = 0;
		if (f) {
			while (fgets(line, sizeof(line), f)) {
				const char *s = strstr(line, "(port ");
				if (strstr(line, "statsd: listening") && s)
					sscanf(s, "(port %u)", &port);
			}
			fclose(f);
		}
		if (port)
			return (uint16_t)port;
		vg_bench_sleep_s(0.05);
	}
	return 0;
}

/* An instant query's first value, or -1. */
static double query(uint16_t http_port, const char *q)
{
	struct vg_buf reply = VG_BUF_INIT, path = VG_BUF_INIT;
	const char *v;
	double value = -1;

	vg_buf_printf(&path, "/api/v1/query?query=%s", q);
	if (vg_bench_http(http_port, "GET", vg_buf_cstr(&path), -1, 0, 60, &reply) != 0 &&
	    (v = strstr(vg_buf_cstr(&reply), "\"value\":[")) != NULL && (v = strchr(v + 9, '"')) != NULL)
		value = strtod(v + 1, NULL);
	vg_buf_release(&reply);
	vg_buf_release(&path);
	return value;
}

/* Percent-encodes s for a query string. */
static void urlencode(const char *s, char *out, size_t size)
{
	size_t o = 0;

	for (; *s && o + 4 < size; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.')
			out[o++] = (char)c;
		else
			o += (size_t)snprintf(out + o, size - o, "%%%02X", c);
	}
	out[o] = '\0';
}

/* Key i of the mix: 25 services, a dozen metric names each, the tags
 * varying over the keys; *inc what a counter line adds to its total. */
static void make_line(int i, char *line, size_t size, double *inc)
{
	static const char *const svc[] = { "checkout", "search", "auth", "billing", "cart", "users", "inventory",
					   "email", "ads", "feed", "media", "notify", "orders", "payments", "profile",
					   "ratings", "recs", "reports", "session", "shipping", "stock", "tax",
					   "upload", "video", "wallet" };
	static const char *const method[] = { "get", "post", "put", "delete" };
	static const char *const route[] = { "/api/v1/items", "/api/v1/cart", "/api/v1/login", "/api/v2/search",
					     "/healthz", "/api/v1/orders" };
	static const char *const table[] = { "users", "orders", "items", "sessions", "events" };
	int slot = i % 40, v = i / 40, s = v % 25, t = v / 25; /* t: which tag variant */
	const char *sv = svc[s];

	*inc = 0;
	if (slot < 10) { /* 25 % of the lines */
		snprintf(line, size, "%s.http.requests:1|c|#method:%s,status:%d,route:%s,env:prod", sv,
			 method[(slot + t) % 4], 200 + 100 * ((slot + t) % 4 == 3) + (slot % 3), route[(slot + t) % 6]);
		*inc = 1;
	} else if (slot < 16) { /* 15 % */
		snprintf(line, size, "%s.db.queries:1|c|@0.1|#table:%s,op:%s", sv, table[(slot + t) % 5],
			 slot % 2 ? "select" : "update");
		*inc = 10;
	} else if (slot < 20) { /* 10 % */
		snprintf(line, size, "%s.cache.%s:1|c|#cache:l%d", sv, slot % 2 ? "hits" : "misses", 1 + (slot + t) % 2);
		*inc = 1;
	} else if (slot < 22) { /* 5 % */
		snprintf(line, size, "%s.errors:1|c|#kind:%s", sv, (slot + t) % 2 ? "timeout" : "refused");
		*inc = 1;
	} else if (slot < 24) { /* 5 %, no tags */
		snprintf(line, size, "%s.jobs.done:%d|c", sv, 1 + slot % 3);
		*inc = 1 + slot % 3;
	} else if (slot < 30) { /* 15 % */
		snprintf(line, size, "%s.http.request_duration:%d.%d|ms|#method:%s,route:%s", sv, 3 + (i * 7) % 400,
			 i % 10, method[(slot + t) % 4], route[(slot + t) % 6]);
	} else if (slot < 34) { /* 10 % */
		snprintf(line, size, "%s.db.query_time:%d|ms|@0.5|#table:%s", sv, 1 + (i * 13) % 90, table[(slot + t) % 5]);
	} else if (slot < 36) { /* 5 % */
		snprintf(line, size, "%s.queue.depth:%d|g|#queue:%s", sv, (i * 31) % 500, slot % 2 ? "jobs" : "mail");
	} else if (slot < 38) { /* 5 %, signed deltas */
		snprintf(line, size, "%s.pool.in_use:%s|g|#pool:db%d", sv, slot % 2 ? "+1" : "-1", t % 4);
	} else if (slot < 39) { /* 2.5 % */
		snprintf(line, size, "%s.payload.bytes:%d|h|#direction:%s", sv, 200 + (i * 101) % 60000,
			 t % 2 ? "in" : "out");
	} else { /* 2.5 % */
		snprintf(line, size, "%s.users.active:user%d|s|#region:eu%d", sv, i % 977, t % 3);
	}
}

int main(int argc, char **argv)
{
	const char *agent_bin = VG_BUILDDIR "/vigil-agent", *receiver_bin = VG_BUILDDIR "/vigil-receiver";
	double seconds = 5, rate = 0;
	int keys = 1000, n_senders = 1, c;
	bool is_pinned = false;
	long long receive_buffer = 8LL << 20;
	char dir[512], ports[600], log_a[600], log_r[600];
	char data[600], spool[600], server[64], conf[600], q[512];
	struct vg_bench_result result = VG_BENCH_RESULT_INIT;
	static char lines[MAX_KEYS][LINE_BYTES];
	static double inc[MAX_KEYS];
	struct iovec *iov = NULL;
	struct mmsghdr *msgs = NULL;
	size_t cycle;
	struct sender senders[MAX_SENDERS];
	struct sockaddr_in sa = { .sin_family = AF_INET };
	uint16_t rport, hport, port;
	pid_t rpid, apid;
	long rss_idle, rss_warm, rss_lo = -1, rss_hi = -1, rx_queue, udp_drops;
	uint64_t sent = 0, send_errors = 0;
	double t0, t_sent, t_drained, taken, agent_drops, agent_packets_warm, cpu0, cpu1, sender_cpu = 0;
	double counted = 0, stored, granted, series, load0[3] = { 0 }, load1[3] = { 0 };
	int fd, rc = 1;
	FILE *f;

	static const struct option opts[] = {
		{ "seconds", required_argument, NULL, 's' }, { "keys", required_argument, NULL, 'k' },
		{ "agent", required_argument, NULL, 'a' },   { "senders", required_argument, NULL, 'n' },
		{ "receiver", required_argument, NULL, 'r' }, { "rate", required_argument, NULL, 'R' },
		{ "pin", no_argument, NULL, 'p' },           { "receive-buffer", required_argument, NULL, 'b' },
		{ NULL, 0, NULL, 0 },
	};
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's': seconds = atof(optarg); break;
		case 'k': keys = atoi(optarg); break;
		case 'a': agent_bin = optarg; break;
		case 'n': n_senders = atoi(optarg); break;
		case 'r': receiver_bin = optarg; break;
		case 'R': rate = atof(optarg); break;
		case 'p': is_pinned = true; break;
		case 'b': receive_buffer = atoll(optarg); break;
		default:
			fprintf(stderr, "usage: bench_statsd [--seconds S] [--keys K] [--senders N] [--rate R] [--pin] "
					"[--receive-buffer BYTES] [--agent PATH] [--receiver PATH]\n");
			return 2;
		}
	}
	if (keys < 1 || keys > MAX_KEYS || seconds <= 0 || n_senders < 1 || n_senders > MAX_SENDERS || rate < 0 ||
	    receive_buffer < 0) {
		fprintf(stderr, "bench_statsd: --keys 1..%d, --seconds > 0, --senders 1..%d, --rate >= 0\n", MAX_KEYS,
			MAX_SENDERS);
		return 2;
	}
	/* the datagrams, built once: keys lines, the cycle rounded up to a
	 * whole number of batches */
	cycle = ((size_t)keys + BATCH - 1) / BATCH * BATCH;
	if ((iov = calloc(cycle, sizeof(*iov))) == NULL || (msgs = calloc(cycle, sizeof(*msgs))) == NULL) {
		perror("calloc");
		return 1;
	}
	for (int i = 0; i < keys; i++)
		make_line(i, lines[i], sizeof(lines[i]), &inc[i]);
	for (size_t j = 0; j < cycle; j++) {
		iov[j] = (struct iovec){ lines[j % (size_t)keys], strlen(lines[j % (size_t)keys]) };
		msgs[j].msg_hdr = (struct msghdr){ .msg_iov = &iov[j], .msg_iovlen = 1 };
	}

	if (vg_bench_tmpdir("statsd", dir, sizeof(dir)) != 0)
		return 1;
	snprintf(data, sizeof(data), "%s/data", dir);
	snprintf(ports, sizeof(ports), "%s/ports", dir);
	snprintf(log_r, sizeof(log_r), "%s/receiver.log", dir);
	snprintf(log_a, sizeof(log_a), "%s/agent.log", dir);
	snprintf(spool, sizeof(spool), "%s/spool", dir);
	snprintf(conf, sizeof(conf), "%s/agent.yaml", dir);
	char *rargv[] = { (char *)receiver_bin, "--data-dir", data, "--listen", "127.0.0.1:0", "--http-listen",
			  "127.0.0.1:0", "--port-file", ports, "--config", "/dev/null", NULL };
	rpid = vg_bench_spawn(rargv, log_r);
	apid = -1;
	if (vg_bench_wait_ports(ports, rpid, 10, &rport, &hport) != 0) {
		fprintf(stderr, "bench_statsd: the receiver did not start (see %s)\n", log_r);
		goto out_r;
	}
	if ((f = fopen(conf, "w")) == NULL)
		goto out_r;
	fprintf(f, "statsd_max_series: %d\n", keys + 10);
	if (receive_buffer > 0)
		fprintf(f, "statsd_receive_buffer: %lld\n", receive_buffer);
	fclose(f);
	snprintf(server, sizeof(server), "127.0.0.1:%u", rport);
	char *aargv[] = { (char *)agent_bin, "--server", server, "--interval", "1s", "--hostname", "bench",
			  "--config", conf, "--spool-dir", spool, "--statsd-listen", "127.0.0.1:0", NULL };
	apid = vg_bench_spawn(aargv, log_a);
	if ((port = statsd_port_from_log(log_a)) == 0) {
		fprintf(stderr, "bench_statsd: the agent did not listen (see %s)\n", log_a);
		goto out;
	}
	if (is_pinned) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(1, &set);
		if (sched_setaffinity(apid, sizeof(set), &set) != 0)
			perror("sched_setaffinity");
	}
	vg_bench_sleep_s(1.5);
	rss_idle = rss_kib(apid);

	sa.sin_port = htons(port);
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	if ((fd = socket(AF_INET, SOCK_DGRAM, 0)) < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		perror("socket");
		goto out;
	}
	/* warm-up: every key once, slowly, so the agent's table is complete */
	for (int i = 0; i < keys; i++) {
		if (send(fd, lines[i], strlen(lines[i]), 0) > 0)
			counted += inc[i];
		if (i % 64 == 63)
			vg_bench_sleep_s(0.001);
	}
	close(fd);
	vg_bench_sleep_s(2.5);
	rss_warm = rss_kib(apid);
	agent_packets_warm = query(hport, "vigil_agent_statsd_packets_total");

	getloadavg(load0, 3);
	vg_bench_proc_usage(apid, &cpu0, NULL);
	t0 = vg_bench_now_s();
	for (int i = 0; i < n_senders; i++) {
		int sz = 8 << 20;
		senders[i] = (struct sender){ .keys = (size_t)keys, .first = (size_t)i * 97, .seconds = seconds,
					      .rate = rate / n_senders, .msgs = msgs, .cycle = cycle, .inc = inc,
					      .cpu = is_pinned ? 0 : -1 };
		senders[i].fd = socket(AF_INET, SOCK_DGRAM, 0);
		if (senders[i].fd >= 0)
			setsockopt(senders[i].fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
		if (senders[i].fd < 0 || connect(senders[i].fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
		    pthread_create(&senders[i].thread, NULL, send_loop, &senders[i]) != 0) {
			perror("sender");
			goto out;
		}
	}
	/* the agent's RSS through the run */
	while (vg_bench_now_s() - t0 < seconds) {
		long kib;
		vg_bench_sleep_s(0.25);
		if ((kib = rss_kib(apid)) > 0) {
			rss_lo = rss_lo < 0 || kib < rss_lo ? kib : rss_lo;
			rss_hi = kib > rss_hi ? kib : rss_hi;
		}
	}
	for (int i = 0; i < n_senders; i++) {
		pthread_join(senders[i].thread, NULL);
		close(senders[i].fd);
		sent += senders[i].sent;
		send_errors += senders[i].errors;
		counted += senders[i].counted;
		sender_cpu += senders[i].cpu_s;
	}
	t_sent = vg_bench_now_s();
	/* the agent has taken what it will take when its queue is empty */
	for (int i = 0; i < 400; i++) {
		proc_udp(port, &rx_queue);
		if (rx_queue <= 0)
			break;
		vg_bench_sleep_s(0.005);
	}
	t_drained = vg_bench_now_s();
	vg_bench_proc_usage(apid, &cpu1, NULL);
	getloadavg(load1, 3);
	vg_bench_sleep_s(2.3); /* two agent intervals: its counters reach the receiver */
	{
		long kib = rss_kib(apid);
		rss_lo = rss_lo < 0 || kib < rss_lo ? kib : rss_lo;
		rss_hi = kib > rss_hi ? kib : rss_hi;
	}
	taken = query(hport, "vigil_agent_statsd_packets_total") - agent_packets_warm;
	agent_drops = query(hport, "vigil_agent_statsd_socket_drops_total");
	granted = query(hport, "vigil_agent_statsd_receive_buffer_bytes");
	series = query(hport, "vigil_agent_statsd_series");
	urlencode("sum({__name__=~\"[a-z]+_(http_requests|db_queries|cache_hits|cache_misses|errors|jobs_done)_total\"})",
		  q, sizeof(q));
	stored = query(hport, q);
	udp_drops = proc_udp(port, &rx_queue);
	{
		double secs = t_drained - t0, acpu = cpu1 - cpu0;
		printf("load         %.2f %.2f %.2f before, %.2f %.2f %.2f after (1, 5, 15 min; 2 cores)%s\n", load0[0],
		       load0[1], load0[2], load1[0], load1[1], load1[2], is_pinned ? "; senders on CPU 0, agent on CPU 1" : "");
		printf("sent         %llu datagrams in %.2f s: %.0f/s by %d sender%s%s (%llu send errors); sender CPU %.2f s, "
		       "%.2f us a datagram\n",
		       (unsigned long long)sent, t_sent - t0, (double)sent / (t_sent - t0), n_senders, n_senders > 1 ? "s" : "",
		       rate > 0 ? " paced" : "", (unsigned long long)send_errors, sender_cpu, 1e6 * sender_cpu / (double)sent);
		printf("agent took   %.0f in %.2f s (until its queue was empty): %.0f packets/s\n", taken, secs, taken / secs);
		printf("agent CPU    %.2f s: %.0f packets per CPU-second (%.2f us a packet), %.0f %% of a core\n", acpu,
		       taken / acpu, 1e6 * acpu / taken, 100 * acpu / secs);
		printf("socket drops %.0f (the agent's, sk_drops), /proc/net/udp %ld: %.2f %% of sent; receive buffer %.0f "
		       "bytes granted\n",
		       agent_drops, udp_drops, sent ? 100.0 * agent_drops / (double)sent : 0, granted);
		printf("agent RSS    %ld KiB idle, %ld KiB after the warm-up with %d keys (%.0f series), %ld-%ld KiB during "
		       "the run\n",
		       rss_idle, rss_warm, keys, series, rss_lo, rss_hi);
		if (agent_drops == 0)
			printf("counters     %.0f counted into the totals, %.0f stored: %s\n", counted, stored,
			       counted == stored ? "every count exactly once" : "MISMATCH");
		else
			printf("counters     %.0f sent, %.0f stored (the difference was dropped at the socket)\n", counted, stored);
		vg_bench_result_add(&result,
				    "packets_per_s=%.0f sent_per_s=%.0f packets_per_cpu_s=%.0f agent_cpu_s=%.2f "
				    "sender_cpu_s=%.2f socket_drops=%.0f drop_pct=%.2f receive_buffer=%.0f keys=%d "
				    "rss_idle_kib=%ld rss_warm_kib=%ld rss_run_min_kib=%ld rss_run_max_kib=%ld load1=%.2f "
				    "counts_exact=%d",
				    taken / secs, (double)sent / (t_sent - t0), taken / acpu, acpu, sender_cpu, agent_drops,
				    sent ? 100.0 * agent_drops / (double)sent : 0, granted, keys, rss_idle, rss_warm, rss_lo,
				    rss_hi, load1[0], agent_drops == 0 && counted == stored);
		vg_bench_result_print(&result);
	}
	rc = taken > 0 ? 0 : 1;
out:
	vg_bench_stop(apid);
out_r:
	vg_bench_stop(rpid);
	free(iov);
	free(msgs);
	vg_bench_rmdir(dir);
	return rc;
}
