/*
 * bench_ingest.c: receiver ingest over the wire protocol, measured.
 *
 * Starts a real vigil-receiver on loopback in a temporary directory and
 * plays H simulated hosts against it, each with its own connection, its
 * own series dictionary and ~100 node-style series (per-mode CPU counters,
 * memory and filesystem gauges, disk and network counters, load, request
 * counters by status, queue depths, a few constants), one batch per host
 * per simulated 10 s interval, as fast as the receiver acknowledges them
 * (at most WINDOW unacknowledged batches per connection). Values are
 * deterministic for a seed.
 *
 * Prints: samples/s end to end, receiver CPU seconds per million samples
 * (utime+stime of the receiver process, from /proc), receiver RSS per
 * active series, wire bytes per sample, and how fast a new receiver on the
 * same data directory replays the WAL. Speaks protocol 2 (scaled-decimal
 * deltas, common/samples2.h) unless --proto 1.
 *
 * RSS is shown with what it is made of, so the per-series figure can be
 * checked: the receiver started and idle with an empty head (its fixed
 * cost: libraries, threads, buffers), after ingest and after WAL replay;
 * per series gross (RSS / series) and marginal ((RSS - empty) / series);
 * and each of the three by kind of mapping (rss_by_kind).
 *
 *   bench_ingest [--hosts H] [--intervals N] [--receiver PATH] [--seed S] [--proto 1|2]
 */
#include "config.h"

#include "common/buf.h"
#include "common/err.h"
#include "common/frame.h"
#include "common/mpack.h"
#include "common/samples2.h"
#include "common/series.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define WINDOW 4
#define MAX_SERIES_PER_HOST 128

struct host {
	int fd;
	uint32_t n_series;
	double values[MAX_SERIES_PER_HOST];
	double incr[MAX_SERIES_PER_HOST]; /* >0: counter step scale; 0: gauge */
	uint64_t next_seq, acked;
	struct vg_samples2_state s2;
	int intervals_left;
	struct vg_buf out;   /* bytes not yet written */
	struct vg_buf in;    /* bytes read, not yet a whole frame */
};

static uint64_t rng_state;
/* --float-dataset: values summed in floating point (the dataset before
 * protocol 2), whose sums are rarely short decimals. */
static bool is_float_dataset;

static double rnd(void)
{
	/* xorshift64*: deterministic for a seed, fast. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (double)((rng_state * 0x2545F4914F6CDD1DULL) >> 11) / 9007199254740992.0;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Receiver CPU seconds (utime + stime) and RSS bytes from /proc. */
static void proc_usage(pid_t pid, double *cpu_s, double *rss_bytes)
{
	char path[64], buf[2048];
	unsigned long ut = 0, st = 0;
	long rss = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r")) != NULL) {
		if (fgets(buf, sizeof(buf), f)) {
			char *p = strrchr(buf, ')');
			/* fields after ") ": state(3) ... utime(14) stime(15) ... rss(24) */
			if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %*d %*d %*d %*d %*d %*d %*u %*u %ld",
					&ut, &st, &rss) == 3) {
			}
		}
		fclose(f);
	}
	*cpu_s = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
	*rss_bytes = (double)rss * (double)sysconf(_SC_PAGESIZE);
}

/*
 * Resident bytes of a process by kind of mapping, from /proc/PID/smaps:
 *   heap    the main arena's [heap] (brk), the main thread's malloc;
 *   arenas  the malloc arenas of other threads: anonymous mappings that
 *           start on a 64 MiB boundary (glibc's HEAP_MAX_SIZE) and are
 *           followed by their reserved, inaccessible rest, or fill it;
 *   stacks  [stack] and the threads' stacks: anonymous mappings just above
 *           a guard mapping (no access) of at most 1 MiB;
 *   anon    every other anonymous mapping (malloc's mmaps of large
 *           blocks, and what the program maps itself);
 *   files   the program, its shared libraries, other mapped files and the
 *           kernel's [vdso] and [vvar].
 * Those tests read the layout glibc and pthread make; a mapping they
 * misjudge moves between arenas, stacks and anon, never out of the total.
 */
struct rss_kinds {
	double total, heap, arenas, stacks, anon, files;
};

struct smaps_map {
	unsigned long start, end;
	bool is_none;     /* ---p: reserved, no access */
	char what;        /* 'h' [heap], 's' [stack], 'a' anonymous, 'f' file or kernel */
	double rss_bytes;
};

static int rss_by_kind(pid_t pid, struct rss_kinds *k)
{
	char path[64], line[4096 + 128];
	struct smaps_map *m = NULL;
	size_t n = 0, cap = 0;
	FILE *f;

	memset(k, 0, sizeof(*k));
	snprintf(path, sizeof(path), "/proc/%d/smaps", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned long a, b, kib;
		char perms[8] = "", name[4096] = "";
		int used = 0;

		if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %n", &a, &b, perms, &used) == 3 && used > 0) {
			if (n == cap) {
				cap = cap ? cap * 2 : 256;
				struct smaps_map *g = realloc(m, cap * sizeof(*m));
				if (g == NULL) {
					fclose(f);
					free(m);
					return -1;
				}
				m = g;
			}
			sscanf(line + used, "%4095s", name);
			m[n] = (struct smaps_map){ a, b, strcmp(perms, "---p") == 0,
						   strcmp(name, "[heap]") == 0    ? 'h'
						   : strcmp(name, "[stack]") == 0 ? 's'
						   : name[0] == '\0'              ? 'a'
										  : 'f',
						   0 };
			n++;
		} else if (n > 0 && sscanf(line, "Rss: %lu kB", &kib) == 1) {
			m[n - 1].rss_bytes = (double)kib * 1024;
		}
	}
	fclose(f);
	for (size_t i = 0; i < n; i++) {
		const unsigned long arena_bytes = 64ul << 20;
		double r = m[i].rss_bytes;
		bool is_after_guard = i > 0 && m[i - 1].is_none && m[i - 1].what == 'a' &&
				      m[i - 1].end == m[i].start && m[i - 1].end - m[i - 1].start <= (1ul << 20);
		bool is_arena = m[i].start % arena_bytes == 0 &&
				(m[i].end - m[i].start == arena_bytes ||
				 (i + 1 < n && m[i + 1].is_none && m[i + 1].start == m[i].end));

		k->total += r;
		if (m[i].what == 'h')
			k->heap += r;
		else if (m[i].what == 's')
			k->stacks += r;
		else if (m[i].what == 'f')
			k->files += r;
		else if (is_arena)
			k->arenas += r;
		else if (is_after_guard)
			k->stacks += r;
		else
			k->anon += r;
	}
	free(m);
	return 0;
}

static void print_kinds(const char *when, const struct rss_kinds *k)
{
	printf("rss by kind, %-10s heap %.1f, other arenas %.1f, anon %.1f, stacks %.1f, files %.1f MiB\n",
	       when, k->heap / 1048576.0, k->arenas / 1048576.0, k->anon / 1048576.0, k->stacks / 1048576.0,
	       k->files / 1048576.0);
}

static void result_kinds(const char *prefix, const struct rss_kinds *k)
{
	printf(" %s_heap_mib=%.1f %s_arenas_mib=%.1f %s_anon_mib=%.1f %s_stacks_mib=%.1f %s_files_mib=%.1f",
	       prefix, k->heap / 1048576.0, prefix, k->arenas / 1048576.0, prefix, k->anon / 1048576.0,
	       prefix, k->stacks / 1048576.0, prefix, k->files / 1048576.0);
}

/* The series of one host: name, labels and kind. */
static void host_series(uint32_t h, struct vg_buf *raw, struct host *hs)
{
	static const char *modes[] = { "user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal" };
	static const char *mem[] = { "MemTotal", "MemFree", "MemAvailable", "Buffers", "Cached",
				     "SwapTotal", "SwapFree", "Active", "Inactive", "Dirty" };
	static const char *mounts[] = { "/", "/var", "/home" };
	char inst[32], pool[32], cpu[12], buf[64], buf2[64];
	struct vg_series s;
	msgpack_packer pk;
	uint32_t n = 0;

	snprintf(inst, sizeof(inst), "host-%05u", h);
	snprintf(pool, sizeof(pool), "pool-%03u", h / 100);
	vg_mp_packer_init(&pk, raw);
	vg_series_pack_begin(&pk, 100);
#define ADD(kind_incr, start)                                                        \
	do {                                                                         \
		vg_series_add(&s, "instance", inst);                                 \
		vg_series_add(&s, "pool", pool);                                     \
		vg_series_canonicalize(&s, NULL);                                    \
		vg_series_pack_entry(&pk, n, &s);                                    \
		hs->incr[n] = (kind_incr);                                           \
		hs->values[n] = (start);                                             \
		n++;                                                                 \
	} while (0)
	for (int c = 0; c < 6; c++)
		for (int m = 0; m < 8; m++) {
			snprintf(cpu, sizeof(cpu), "%d", c);
			vg_series_init(&s, "node_cpu_seconds_total");
			vg_series_add(&s, "cpu", cpu);
			vg_series_add(&s, "mode", modes[m]);
			ADD(m == 3 ? 9.0 : 1.0, floor(rnd() * 1e6) / 100);
		}
	for (int i = 0; i < 10; i++) {
		snprintf(buf, sizeof(buf), "node_memory_%s_bytes", mem[i]);
		vg_series_init(&s, buf);
		ADD(0, floor(rnd() * 16e9 / 4096) * 4096);
	}
	for (int i = 0; i < 3; i++) {
		static const char *fs[] = { "node_filesystem_size_bytes", "node_filesystem_free_bytes",
					    "node_filesystem_avail_bytes" };
		for (int f = 0; f < 3; f++) {
			vg_series_init(&s, fs[f]);
			vg_series_add(&s, "mountpoint", mounts[i]);
			vg_series_add(&s, "device", i == 0 ? "/dev/sda1" : i == 1 ? "/dev/sda2" : "/dev/sdb1");
			vg_series_add(&s, "fstype", "ext4");
			ADD(f == 0 ? -1 : 0, floor(rnd() * 1e12 / 4096) * 4096);
		}
	}
	for (int d = 0; d < 2; d++) {
		snprintf(buf, sizeof(buf), "sd%c", 'a' + d);
		vg_series_init(&s, "node_disk_read_bytes_total");
		vg_series_add(&s, "device", buf);
		ADD(4096 * 50, 0);
		vg_series_init(&s, "node_disk_written_bytes_total");
		vg_series_add(&s, "device", buf);
		ADD(4096 * 80, 0);
		snprintf(buf2, sizeof(buf2), "eth%d", d);
		vg_series_init(&s, "node_network_receive_bytes_total");
		vg_series_add(&s, "device", buf2);
		ADD(1e6, 0);
		vg_series_init(&s, "node_network_transmit_bytes_total");
		vg_series_add(&s, "device", buf2);
		ADD(8e5, 0);
	}
	static const char *loads[] = { "node_load1", "node_load5", "node_load15" };
	for (int i = 0; i < 3; i++) {
		vg_series_init(&s, loads[i]);
		ADD(0, floor(rnd() * 400) / 100);
	}
	static const char *codes[] = { "200", "404", "500" };
	static const char *handlers[] = { "/api", "/login", "/static" };
	for (int i = 0; i < 3; i++)
		for (int c = 0; c < 3; c++) {
			vg_series_init(&s, "http_requests_total");
			vg_series_add(&s, "handler", handlers[i]);
			vg_series_add(&s, "code", codes[c]);
			ADD(c == 0 ? 500 : c == 1 ? 5 : 1, 0);
		}
	for (int q = 0; q < 10; q++) {
		snprintf(buf, sizeof(buf), "q%d", q);
		vg_series_init(&s, "queue_depth");
		vg_series_add(&s, "queue", buf);
		ADD(0, floor(rnd() * 100));
	}
	static const char *consts[] = { "node_memory_HugePages_Total", "node_boot_time_seconds",
					"node_cpu_count", "node_filesystem_files", "node_network_mtu_bytes" };
	for (int i = 0; i < 3; i++) {
		vg_series_init(&s, consts[i]);
		ADD(-1, i == 1 ? 1764000000 : i == 2 ? 6 : 0);
	}
#undef ADD
	hs->n_series = n;
	if (n != 100) {
		fprintf(stderr, "bench: %u series per host, expected 100\n", n);
		exit(1);
	}
}

/* One interval of a host: counters grow, gauges wander, constants stay. */
static void host_batch(struct host *hs, int64_t ts_ms, int proto, struct vg_buf *raw)
{
	uint64_t refs[MAX_SERIES_PER_HOST];
	msgpack_packer pk;

	for (uint32_t i = 0; i < hs->n_series; i++) {
		double v = hs->values[i];
		if (is_float_dataset) {
			if (hs->incr[i] > 0)
				v += floor(rnd() * hs->incr[i] * 100) / 100;
			else if (hs->incr[i] == 0)
				v = fabs(v + floor((rnd() - 0.5) * 200) * (v > 1e6 ? 4096 : 0.01));
		} else {
			/* The same steps on the value's integer count of hundredths,
			 * as an agent reads them: ticks, bytes or centi-units from
			 * /proc divided once, never summed in floating point. */
			double h = round(v * 100);
			if (hs->incr[i] > 0)
				h += floor(rnd() * hs->incr[i] * 100);
			else if (hs->incr[i] == 0)
				h = fabs(h + floor((rnd() - 0.5) * 200) * (v > 1e6 ? 409600 : 1));
			v = h / 100;
		}
		hs->values[i] = v;
		refs[i] = i;
	}
	if (proto >= VG_PROTO_V2) {
		vg_samples2_encode_begin(raw, 1);
		if (vg_samples2_encode_group(&hs->s2, ts_ms, hs->n_series, refs, hs->values, raw) != 0) {
			fprintf(stderr, "bench: cannot encode a batch\n");
			exit(1);
		}
		return;
	}
	vg_mp_packer_init(&pk, raw);
	vg_samples_pack_begin(&pk, 1);
	vg_samples_pack_group(&pk, ts_ms, hs->n_series);
	for (uint32_t i = 0; i < hs->n_series; i++)
		vg_samples_pack_sample(&pk, i, hs->values[i]);
}

static int connect_to(uint16_t port);

/* --- ACK latency with and without a heavy query --------------------------- */

#define ACK_PROBES 400

struct ack_figures {
	double idle_p50, idle_p99, query_p50, query_p99;
	uint64_t queries;
	double mib_per_query;
};

struct query_loop {
	uint16_t http_port;
	int64_t at_ms; /* the queries' evaluation time: where the data is */
	_Atomic int is_stopping;
	_Atomic uint64_t done;
	_Atomic uint64_t bytes;
};

/* Full-scan instant queries, one after another, over plain HTTP/1.0. */
static void *query_main(void *arg)
{
	struct query_loop *q = arg;
	char buf[65536], req[256];
	int req_len = snprintf(req, sizeof(req),
			       "GET /api/v1/query?query=%%7B__name__%%3D~%%22node_.%%2B%%22%%7D&time=%lld "
			       "HTTP/1.0\r\n\r\n", (long long)(q->at_ms / 1000));

	while (!atomic_load(&q->is_stopping)) {
		int fd = connect_to(q->http_port);
		fcntl(fd, F_SETFL, 0); /* this thread blocks */
		if (write(fd, req, (size_t)req_len) == (ssize_t)req_len) {
			ssize_t r;
			while ((r = read(fd, buf, sizeof(buf))) > 0)
				atomic_fetch_add(&q->bytes, (uint64_t)r);
		}
		close(fd);
		atomic_fetch_add(&q->done, 1);
	}
	return NULL;
}

static int dbl_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Sends one batch for each of ACK_PROBES hosts in turn, 5 ms apart, and
 * waits for each ACK: the time between is what an agent waits. */
static int probe_acks(struct host *hs, unsigned hosts, struct vg_frame_codec *codec, int proto,
		      struct vg_buf *raw, int64_t *t_next, double *p50, double *p99, pid_t rpid)
{
	double lat[ACK_PROBES];

	for (int k = 0; k < ACK_PROBES; k++) {
		struct host *x = &hs[(unsigned)k * 7919u % hosts];
		uint64_t seq = x->next_seq++;
		double t0;

		vg_buf_reset(raw);
		host_batch(x, (*t_next += 10), proto, raw);
		vg_buf_reset(&x->out);
		vg_frame_encode_version(codec, (uint8_t)proto, VG_FRAME_SAMPLES, seq, raw->data, raw->len,
					&x->out, NULL);
		t0 = now_s();
		if (write(x->fd, x->out.data, x->out.len) != (ssize_t)x->out.len)
			goto fail;
		for (;;) {
			struct pollfd p = { x->fd, POLLIN, 0 };
			struct vg_frame_header fh;
			uint8_t buf[4096];
			ssize_t r;

			if (poll(&p, 1, 30000) <= 0 || (r = read(x->fd, buf, sizeof(buf))) <= 0)
				goto fail;
			vg_buf_append(&x->in, buf, (size_t)r);
			if (x->in.len < VG_FRAME_HEADER_SIZE ||
			    vg_frame_header_decode(x->in.data, &fh, NULL) != 0 ||
			    x->in.len < VG_FRAME_HEADER_SIZE + fh.payload_len)
				continue;
			vg_buf_consume(&x->in, VG_FRAME_HEADER_SIZE + fh.payload_len);
			if (fh.type == VG_FRAME_ACK && fh.seq >= seq)
				break;
		}
		lat[k] = (now_s() - t0) * 1000;
		x->acked = seq;
		usleep(5000);
	}
	qsort(lat, ACK_PROBES, sizeof(lat[0]), dbl_cmp);
	*p50 = lat[ACK_PROBES / 2];
	*p99 = lat[ACK_PROBES * 99 / 100];
	return 0;
fail:
	fprintf(stderr, "bench: no ACK while probing latency\n");
	kill(rpid, SIGKILL);
	return 1;
}

static int ack_latency(struct host *hs, unsigned hosts, struct vg_frame_codec *codec, int proto,
		       struct vg_buf *raw, int64_t *t_next, uint16_t http_port,
		       struct ack_figures *f, pid_t rpid)
{
	struct query_loop q = { .http_port = http_port, .at_ms = *t_next };
	pthread_t th;

	if (probe_acks(hs, hosts, codec, proto, raw, t_next, &f->idle_p50, &f->idle_p99, rpid) != 0)
		return 1;
	if (pthread_create(&th, NULL, query_main, &q) != 0)
		return 1;
	usleep(200000); /* let the first query get going */
	if (probe_acks(hs, hosts, codec, proto, raw, t_next, &f->query_p50, &f->query_p99, rpid) != 0)
		return 1;
	atomic_store(&q.is_stopping, 1);
	pthread_join(th, NULL);
	f->queries = atomic_load(&q.done);
	f->mib_per_query = f->queries ? (double)atomic_load(&q.bytes) / f->queries / 1048576.0 : 0;
	return 0;
}

static int connect_to(uint16_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(0x7f000001) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		perror("bench: connect");
		exit(1);
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	fcntl(fd, F_SETFL, O_NONBLOCK);
	return fd;
}

static pid_t start_receiver(const char *bin, const char *dir, uint16_t *port, uint16_t *http_port)
{
	char data[512], ports[512];
	pid_t pid;

	snprintf(data, sizeof(data), "%s/data", dir);
	snprintf(ports, sizeof(ports), "%s/ports", dir);
	pid = fork();
	if (pid == 0) {
		char log[600];
		snprintf(log, sizeof(log), "%s/receiver.log", dir);
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		dup2(fd, 1);
		dup2(fd, 2);
		execl(bin, bin, "--config", "/dev/null", "--data-dir", data, "--listen", "127.0.0.1:0",
		      "--http-listen", "127.0.0.1:0", "--port-file", ports, "--log-level", "warn", (char *)NULL);
		_exit(127);
	}
	/* Up to 120 s: a restart replays the whole WAL before it listens. */
	for (int i = 0; i < 12000; i++) {
		FILE *f = fopen(ports, "r");
		unsigned a, h;
		if (f && fscanf(f, "%u %u", &a, &h) == 2) {
			fclose(f);
			*port = (uint16_t)a;
			if (http_port)
				*http_port = (uint16_t)h;
			return pid;
		}
		if (f)
			fclose(f);
		usleep(10000);
	}
	fprintf(stderr, "bench: the receiver did not start (see %s/receiver.log)\n", dir);
	kill(pid, SIGKILL);
	exit(1);
}

int main(int argc, char **argv)
{
	unsigned hosts = 1000, intervals = 30;
	const char *bin = VG_BUILDDIR "/vigil-receiver";
	static const struct option opts[] = {
		{ "hosts", required_argument, NULL, 'h' }, { "intervals", required_argument, NULL, 'n' },
		{ "receiver", required_argument, NULL, 'r' }, { "seed", required_argument, NULL, 's' },
		{ "proto", required_argument, NULL, 'p' }, { "float-dataset", no_argument, NULL, 'f' },
		{ "ack-latency", no_argument, NULL, 'a' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t seed = 42;
	bool is_ack_latency = false;
	int c, proto = VG_PROTO_V2;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'h': hosts = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'n': intervals = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'r': bin = optarg; break;
		case 's': seed = strtoull(optarg, NULL, 10); break;
		case 'p': proto = atoi(optarg); break;
		case 'f': is_float_dataset = true; break;
		case 'a': is_ack_latency = true; break;
		default:
			fprintf(stderr, "usage: bench_ingest [--hosts H] [--intervals N] [--receiver PATH] [--seed S] [--proto 1|2] [--ack-latency]\n");
			return 2;
		}
	}
	if (hosts == 0 || intervals == 0 || proto < VG_FRAME_VERSION || proto > VG_PROTO_MAX)
		return 2;
	rng_state = seed * 0x9E3779B97F4A7C15ULL + 1;
	signal(SIGPIPE, SIG_IGN);

	char dir[] = "/tmp/vigil-bench-XXXXXX";
	if (mkdtemp(dir) == NULL)
		return 1;
	uint16_t port;
	uint16_t http_port;
	pid_t rpid = start_receiver(bin, dir, &port, &http_port);
	/* The fixed cost: started, idle, the head empty. A moment first for
	 * the threads' start-up to finish. */
	struct rss_kinds k_empty, k_ingest, k_replay;
	double cpu_empty, rss_empty;
	usleep(500000);
	proc_usage(rpid, &cpu_empty, &rss_empty);
	rss_by_kind(rpid, &k_empty);

	struct vg_frame_codec *codec = vg_frame_codec_new(3);
	struct host *hs = calloc(hosts, sizeof(*hs));
	struct vg_buf raw = VG_BUF_INIT;
	struct pollfd *pfds = calloc(hosts, sizeof(*pfds));
	uint64_t wire_bytes = 0, samples = 0, samples_bytes = 0;
	/* The data ends now: the receiver refuses agents' samples older than
	 * its max_sample_age (7 days) and newer than 10 minutes ahead. */
	struct timespec now_ts;
	clock_gettime(CLOCK_REALTIME, &now_ts);
	const int64_t t0_ms = ((int64_t)now_ts.tv_sec - (int64_t)intervals * 10 - 60) * 1000;
	double cpu0, rss0, cpu1, rss1, t_start, t_end;

	/* Connect and define every host's series first: the steady state
	 * (refs and values only) is what is measured. */
	for (unsigned h = 0; h < hosts; h++) {
		struct vg_hello hello;
		char name[32];
		snprintf(name, sizeof(name), "host-%05u", h);
		hs[h].fd = connect_to(port);
		hs[h].next_seq = 1;
		hs[h].intervals_left = (int)intervals;
		vg_samples2_state_init(&hs[h].s2);
		hello = (struct vg_hello){ (uint32_t)proto, vg_str_c(name), seed, vg_str_c(""), vg_str_c("bench") };
		vg_buf_reset(&raw);
		vg_hello_pack(&hello, &raw);
		vg_frame_encode_version(codec, (uint8_t)proto, VG_FRAME_HELLO, 0, raw.data, raw.len, &hs[h].out, NULL);
		vg_buf_reset(&raw);
		host_series(h, &raw, &hs[h]);
		vg_frame_encode_version(codec, (uint8_t)proto, VG_FRAME_SERIES, 0, raw.data, raw.len, &hs[h].out, NULL);
	}
	proc_usage(rpid, &cpu0, &rss0);
	t_start = now_s();
	unsigned done = 0;
	while (done < hosts) {
		for (unsigned h = 0; h < hosts; h++) {
			struct host *x = &hs[h];
			/* Fill the window. */
			while (x->intervals_left > 0 && x->next_seq - x->acked <= WINDOW) {
				vg_buf_reset(&raw);
				host_batch(x, t0_ms + (int64_t)(intervals - (unsigned)x->intervals_left) * 10000, proto, &raw);
				size_t before = x->out.len;
				vg_frame_encode_version(codec, (uint8_t)proto, VG_FRAME_SAMPLES, x->next_seq++, raw.data,
							raw.len, &x->out, NULL);
				samples_bytes += x->out.len - before;
				x->intervals_left--;
				samples += x->n_series;
			}
			pfds[h].fd = x->acked + 1 == x->next_seq && x->intervals_left == 0 ? -1 : x->fd;
			pfds[h].events = POLLIN | (x->out.len ? POLLOUT : 0);
		}
		if (poll(pfds, hosts, 10000) <= 0) {
			fprintf(stderr, "bench: the receiver stopped answering\n");
			kill(rpid, SIGKILL);
			return 1;
		}
		for (unsigned h = 0; h < hosts; h++) {
			struct host *x = &hs[h];
			if (pfds[h].fd < 0)
				continue;
			if (pfds[h].revents & POLLOUT) {
				ssize_t w = write(x->fd, x->out.data, x->out.len);
				if (w > 0) {
					wire_bytes += (uint64_t)w;
					vg_buf_consume(&x->out, (size_t)w);
				}
			}
			if (pfds[h].revents & (POLLIN | POLLHUP | POLLERR)) {
				uint8_t buf[4096];
				ssize_t r = read(x->fd, buf, sizeof(buf));
				if (r <= 0) {
					fprintf(stderr, "bench: host %u: the receiver closed the connection\n", h);
					kill(rpid, SIGKILL);
					return 1;
				}
				vg_buf_append(&x->in, buf, (size_t)r);
				while (x->in.len >= VG_FRAME_HEADER_SIZE) {
					struct vg_frame_header fh;
					if (vg_frame_header_decode(x->in.data, &fh, NULL) != 0 ||
					    x->in.len < VG_FRAME_HEADER_SIZE + fh.payload_len)
						break;
					if (fh.type == VG_FRAME_ERROR) {
						fprintf(stderr, "bench: host %u got an ERROR frame\n", h);
						kill(rpid, SIGKILL);
						return 1;
					}
					if (fh.type == VG_FRAME_ACK && fh.seq > x->acked) {
						x->acked = fh.seq;
						if (x->acked + 1 == x->next_seq && x->intervals_left == 0)
							done++;
					}
					vg_buf_consume(&x->in, VG_FRAME_HEADER_SIZE + fh.payload_len);
				}
			}
		}
	}
	t_end = now_s();
	proc_usage(rpid, &cpu1, &rss1);
	rss_by_kind(rpid, &k_ingest);

	double wall = t_end - t_start, cpu = cpu1 - cpu0;
	printf("bench_ingest: %u hosts x 100 series, %u intervals, window %d batches per connection, protocol %d\n",
	       hosts, intervals, WINDOW, proto);
	printf("samples                 %llu\n", (unsigned long long)samples);
	printf("wall seconds            %.3f\n", wall);
	printf("samples per second      %.0f\n", samples / wall);
	printf("receiver cpu seconds    %.3f\n", cpu);
	printf("cpu s per M samples     %.3f\n", cpu / (samples / 1e6));
	printf("receiver rss MiB        %.1f\n", rss1 / 1048576.0);
	printf("rss bytes per series    %.0f gross (RSS / series), %.0f marginal ((RSS - empty) / series)\n",
	       rss1 / (hosts * 100.0), (rss1 - rss_empty) / (hosts * 100.0));
	printf("receiver rss empty MiB  %.1f (started and idle, empty head: libraries, threads, buffers)\n",
	       rss_empty / 1048576.0);
	print_kinds("empty:", &k_empty);
	print_kinds("ingest:", &k_ingest);
	printf("wire bytes per sample   %.2f (all frames, the series dictionary included)\n",
	       (double)wire_bytes / (double)samples);
	printf("steady bytes per sample %.2f (SAMPLES frames only, headers included)\n",
	       (double)samples_bytes / (double)samples);

	struct ack_figures ack = { 0 };
	if (is_ack_latency) {
		int64_t t_next = t0_ms + (int64_t)intervals * 10000;
		if (ack_latency(hs, hosts, codec, proto, &raw, &t_next, http_port, &ack, rpid) != 0)
			return 1;
		printf("ack latency idle        p50 %.2f ms, p99 %.2f ms (%d batches)\n", ack.idle_p50,
		       ack.idle_p99, ACK_PROBES);
		printf("ack latency under query p50 %.2f ms, p99 %.2f ms (%llu full-scan queries, %.1f MiB each)\n",
		       ack.query_p50, ack.query_p99, (unsigned long long)ack.queries, ack.mib_per_query);
		printf("p99 under query / idle  %.2f\n", ack.query_p99 / ack.idle_p99);
	}

	/* Replay: kill the receiver (SIGTERM would seal the head into blocks
	 * and cut the WAL), start a new one on the same data directory and
	 * time it until it listens, which it does once the WAL is replayed. */
	kill(rpid, SIGKILL);
	waitpid(rpid, NULL, 0);
	char ports[600];
	snprintf(ports, sizeof(ports), "%s/ports", dir);
	unlink(ports);
	double r0 = now_s();
	rpid = start_receiver(bin, dir, &port, NULL);
	double replay = now_s() - r0, cpu_replay, rss_replay;
	proc_usage(rpid, &cpu_replay, &rss_replay);
	rss_by_kind(rpid, &k_replay);
	printf("wal replay seconds      %.3f (start to listening, %llu samples)\n", replay,
	       (unsigned long long)samples);
	printf("wal replay samples/s    %.0f\n", samples / replay);
	printf("wal replay cpu s per M  %.3f (receiver CPU from start to listening)\n",
	       cpu_replay / (samples / 1e6));
	printf("rss after replay MiB    %.1f: %.0f bytes per series gross, %.0f marginal\n",
	       rss_replay / 1048576.0, rss_replay / (hosts * 100.0), (rss_replay - rss_empty) / (hosts * 100.0));
	print_kinds("replay:", &k_replay);
	kill(rpid, SIGTERM);
	waitpid(rpid, NULL, 0);
	printf("RESULT proto=%d samples_per_s=%.0f cpu_s_per_m_samples=%.3f rss_bytes_per_series=%.0f "
	       "wire_bytes_per_sample=%.2f steady_bytes_per_sample=%.2f wal_replay_samples_per_s=%.0f",
	       proto, samples / wall, cpu / (samples / 1e6), rss1 / (hosts * 100.0),
	       (double)wire_bytes / (double)samples, (double)samples_bytes / (double)samples, samples / replay);
	if (is_ack_latency)
		printf(" ack_p50_ms_idle=%.2f ack_p99_ms_idle=%.2f ack_p50_ms_query=%.2f "
		       "ack_p99_ms_query=%.2f full_scan_queries=%llu",
		       ack.idle_p50, ack.idle_p99, ack.query_p50, ack.query_p99,
		       (unsigned long long)ack.queries);
	printf(" rss_empty_mib=%.1f rss_ingest_mib=%.1f rss_marginal_bytes_per_series=%.0f "
	       "rss_replay_mib=%.1f rss_replay_bytes_per_series=%.0f rss_replay_marginal_bytes_per_series=%.0f "
	       "wal_replay_cpu_s_per_m_samples=%.3f",
	       rss_empty / 1048576.0, rss1 / 1048576.0, (rss1 - rss_empty) / (hosts * 100.0),
	       rss_replay / 1048576.0, rss_replay / (hosts * 100.0), (rss_replay - rss_empty) / (hosts * 100.0),
	       cpu_replay / (samples / 1e6));
	result_kinds("empty", &k_empty);
	result_kinds("ingest", &k_ingest);
	result_kinds("replay", &k_replay);
	printf("\n");
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "bench: could not remove %s\n", dir);
	for (unsigned h = 0; h < hosts; h++) {
		close(hs[h].fd);
		vg_buf_release(&hs[h].out);
		vg_buf_release(&hs[h].in);
		vg_samples2_state_release(&hs[h].s2);
	}
	free(hs);
	free(pfds);
	vg_buf_release(&raw);
	vg_frame_codec_free(codec);
	return 0;
}
