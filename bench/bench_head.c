/*
 * bench_head.c: where the head's memory goes per series, measured in
 * process on bench_ingest's dataset.
 *
 * Creates H hosts x 100 series with bench_ingest's names and labels
 * (host_series: per-mode CPU counters, memory and filesystem gauges, disk
 * and network counters, load, request counters, queue depths, constants)
 * in a vg_head, then appends N samples to each at a 10 s interval, one
 * host's batch after another per interval as ingest does, with
 * bench_ingest's default value model (integer counts of hundredths,
 * divided once). Prints, per series, the parts vg_head_memory reports, the
 * heap (mallinfo2, the parts plus malloc's headers and rounding, and the
 * pages the head's chunk allocator maps, which malloc does not see) and
 * the change in RSS, before and after malloc_trim (the difference is heap
 * held free); ends with a RESULT line.
 *
 *   bench_head [--hosts H] [--samples N] [--seed S]
 */
#include "config.h"

#include "common/series.h"
#include "receiver/storage/head.h"

#include <getopt.h>
#include <malloc.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SERIES 100
#define STEP_MS 10000
#define T0_MS 1764000000000LL

struct host {
	uint64_t rng;
	uint32_t ids[SERIES];
	double incr[SERIES]; /* > 0: counter step scale; 0: gauge; < 0: constant */
	int64_t c[SERIES];   /* the value in hundredths */
};

static double rnd(uint64_t *s)
{
	/* xorshift64*, as bench_ingest */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return (double)((*s * 0x2545F4914F6CDD1DULL) >> 11) / 9007199254740992.0;
}

static double heap_now(void)
{
	struct mallinfo2 m = mallinfo2();

	return (double)(m.uordblks + m.hblkhd);
}

static double rss_now(void)
{
	long pages = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f) {
		if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
			rss = 0;
		fclose(f);
	}
	return (double)rss * (double)sysconf(_SC_PAGESIZE);
}

static void create(struct vg_head *h, struct host *x, uint32_t *n, struct vg_series *s,
		   double incr, double start)
{
	uint64_t hash;
	bool is_new;

	if (vg_series_canonicalize(s, NULL) != 0) {
		fprintf(stderr, "bench_head: bad series\n");
		exit(1);
	}
	hash = vg_series_hash(s);
	if (vg_head_get_or_create(h, s, hash, &x->ids[*n], &is_new) != 0) {
		fprintf(stderr, "bench_head: cannot create a series\n");
		exit(1);
	}
	x->incr[*n] = incr;
	x->c[*n] = (int64_t)llround(start * 100);
	(*n)++;
}

/* bench_ingest's host_series, into the head. */
static void host_series(struct vg_head *h, uint32_t hn, struct host *x)
{
	static const char *modes[] = { "user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal" };
	static const char *mem[] = { "MemTotal", "MemFree", "MemAvailable", "Buffers", "Cached",
				     "SwapTotal", "SwapFree", "Active", "Inactive", "Dirty" };
	static const char *mounts[] = { "/", "/var", "/home" };
	static const char *fs[] = { "node_filesystem_size_bytes", "node_filesystem_free_bytes",
				    "node_filesystem_avail_bytes" };
	static const char *loads[] = { "node_load1", "node_load5", "node_load15" };
	static const char *codes[] = { "200", "404", "500" };
	static const char *handlers[] = { "/api", "/login", "/static" };
	static const char *consts[] = { "node_memory_HugePages_Total", "node_boot_time_seconds",
					"node_cpu_count" };
	char inst[32], pool[32], cpu[12], buf[64], buf2[64];
	struct vg_series s;
	uint32_t n = 0;

	snprintf(inst, sizeof(inst), "host-%05u", hn);
	snprintf(pool, sizeof(pool), "pool-%03u", hn / 100);
#define START(name)                                   \
	do {                                          \
		vg_series_init(&s, (name));           \
		vg_series_add(&s, "instance", inst);  \
		vg_series_add(&s, "pool", pool);      \
	} while (0)
	for (int c = 0; c < 6; c++)
		for (int m = 0; m < 8; m++) {
			snprintf(cpu, sizeof(cpu), "%d", c);
			START("node_cpu_seconds_total");
			vg_series_add(&s, "cpu", cpu);
			vg_series_add(&s, "mode", modes[m]);
			create(h, x, &n, &s, m == 3 ? 9.0 : 1.0, floor(rnd(&x->rng) * 1e6) / 100);
		}
	for (int i = 0; i < 10; i++) {
		snprintf(buf, sizeof(buf), "node_memory_%s_bytes", mem[i]);
		START(buf);
		create(h, x, &n, &s, 0, floor(rnd(&x->rng) * 16e9 / 4096) * 4096);
	}
	for (int i = 0; i < 3; i++)
		for (int f = 0; f < 3; f++) {
			START(fs[f]);
			vg_series_add(&s, "mountpoint", mounts[i]);
			vg_series_add(&s, "device", i == 0 ? "/dev/sda1" : i == 1 ? "/dev/sda2" : "/dev/sdb1");
			vg_series_add(&s, "fstype", "ext4");
			create(h, x, &n, &s, f == 0 ? -1 : 0, floor(rnd(&x->rng) * 1e12 / 4096) * 4096);
		}
	for (int d = 0; d < 2; d++) {
		snprintf(buf, sizeof(buf), "sd%c", 'a' + d);
		snprintf(buf2, sizeof(buf2), "eth%d", d);
		START("node_disk_read_bytes_total");
		vg_series_add(&s, "device", buf);
		create(h, x, &n, &s, 4096 * 50, 0);
		START("node_disk_written_bytes_total");
		vg_series_add(&s, "device", buf);
		create(h, x, &n, &s, 4096 * 80, 0);
		START("node_network_receive_bytes_total");
		vg_series_add(&s, "device", buf2);
		create(h, x, &n, &s, 1e6, 0);
		START("node_network_transmit_bytes_total");
		vg_series_add(&s, "device", buf2);
		create(h, x, &n, &s, 8e5, 0);
	}
	for (int i = 0; i < 3; i++) {
		START(loads[i]);
		create(h, x, &n, &s, 0, floor(rnd(&x->rng) * 400) / 100);
	}
	for (int i = 0; i < 3; i++)
		for (int c = 0; c < 3; c++) {
			START("http_requests_total");
			vg_series_add(&s, "handler", handlers[i]);
			vg_series_add(&s, "code", codes[c]);
			create(h, x, &n, &s, c == 0 ? 500 : c == 1 ? 5 : 1, 0);
		}
	for (int q = 0; q < 10; q++) {
		snprintf(buf, sizeof(buf), "q%d", q);
		START("queue_depth");
		vg_series_add(&s, "queue", buf);
		create(h, x, &n, &s, 0, floor(rnd(&x->rng) * 100));
	}
	for (int i = 0; i < 3; i++) {
		START(consts[i]);
		create(h, x, &n, &s, -1, i == 1 ? 1764000000 : i == 2 ? 6 : 0);
	}
#undef START
	if (n != SERIES) {
		fprintf(stderr, "bench_head: %u series per host, expected %d\n", n, SERIES);
		exit(1);
	}
}

/* bench_ingest's host_batch, default (integer) dataset. */
static void host_batch(struct host *x, double *v)
{
	for (int i = 0; i < SERIES; i++) {
		int64_t c = x->c[i];
		if (x->incr[i] > 0)
			c += (int64_t)floor(rnd(&x->rng) * x->incr[i] * 100);
		else if (x->incr[i] == 0)
			c = llabs(c + (int64_t)floor((rnd(&x->rng) - 0.5) * 200) * (c > 100000000 ? 409600 : 1));
		x->c[i] = c;
		v[i] = (double)c / 100;
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "hosts", required_argument, NULL, 'h' },
		{ "samples", required_argument, NULL, 'n' },
		{ "seed", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	uint32_t hosts = 1000;
	size_t n = 720;
	uint64_t seed = 42;
	struct vg_head *h;
	struct vg_head_mem m;
	struct host *hs;
	double heap0, rss0, heap1, rss1, series, parts;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'h': hosts = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'n': n = strtoul(optarg, NULL, 10); break;
		case 's': seed = strtoull(optarg, NULL, 10); break;
		default:
			fprintf(stderr, "usage: bench_head [--hosts H] [--samples N] [--seed S]\n");
			return 2;
		}
	}
	if (hosts == 0 || n == 0) {
		fprintf(stderr, "bench_head: hosts and samples must be > 0\n");
		return 2;
	}
	if ((hs = calloc(hosts, sizeof(*hs))) == NULL || (h = vg_head_new()) == NULL) {
		fprintf(stderr, "bench_head: out of memory\n");
		return 1;
	}
	heap0 = heap_now();
	rss0 = rss_now();
	for (uint32_t i = 0; i < hosts; i++) {
		hs[i].rng = seed ^ (0x9E3779B97F4A7C15ULL * (i + 1));
		host_series(h, i, &hs[i]);
	}
	for (size_t t = 0; t < n; t++) {
		int64_t ts[SERIES];
		double v[SERIES];

		for (int i = 0; i < SERIES; i++)
			ts[i] = T0_MS + (int64_t)t * STEP_MS;
		for (uint32_t i = 0; i < hosts; i++) {
			host_batch(&hs[i], v);
			if (vg_head_append(h, SERIES, hs[i].ids, ts, v) != 0) {
				fprintf(stderr, "bench_head: append failed\n");
				return 1;
			}
		}
	}
	rss1 = rss_now();
	vg_head_memory(h, &m);
	heap1 = heap_now() + (double)m.alloc_resident;
	series = (double)hosts * SERIES;
	parts = (double)(m.series + m.keys + m.symbols + m.key_slack + m.series_index + m.postings +
			 m.chunk_bytes + m.chunk_headers + m.open_bytes + m.open_slack +
			 m.late + m.frozen + m.alloc_waste);

	printf("bench_head: %u hosts x %d series, %zu samples each, bytes per series\n", hosts, SERIES, n);
	printf("  series records        %7.1f\n", m.series / series);
	printf("  keys                  %7.1f\n", m.keys / series);
	printf("  symbols               %7.1f\n", m.symbols / series);
	printf("  key arena slack       %7.1f\n", m.key_slack / series);
	printf("  series hash table     %7.1f\n", m.series_index / series);
	printf("  postings              %7.1f\n", m.postings / series);
	printf("  chunk bytes           %7.1f (%.3f a sample; %.2f chunks a series)\n", m.chunk_bytes / series,
	       m.chunk_bytes / (series * (double)n), (double)m.chunks / series);
	printf("  chunk headers         %7.1f\n", m.chunk_headers / series);
	printf("  open chunk bytes      %7.1f (%.2f open chunks a series)\n", m.open_bytes / series,
	       (double)m.open_chunks / series);
	printf("  open chunk slack      %7.1f\n", m.open_slack / series);
	printf("  late samples          %7.1f\n", (m.late + m.frozen) / series);
	printf("  chunk allocator waste %7.1f (of %.1f resident in its slabs)\n", m.alloc_waste / series,
	       m.alloc_resident / series);
	printf("  = parts               %7.1f\n", parts / series);
	printf("  malloc headers, rounding and the rest of the heap %7.1f (%.2f allocations a series)\n",
	       (heap1 - heap0 - parts) / series, (double)m.allocs / series);
	printf("  heap and slabs        %7.1f\n", (heap1 - heap0) / series);
	printf("  rss                   %7.1f\n", (rss1 - rss0) / series);
	/* What of the RSS is heap malloc holds free (open chunks freed when
	 * they were cut, say), which malloc_trim gives back. */
	malloc_trim(0);
	printf("  rss after malloc_trim %7.1f\n", (rss_now() - rss0) / series);
	printf("RESULT heap_bytes_per_series=%.0f rss_bytes_per_series=%.0f parts_bytes_per_series=%.0f "
	       "chunk_bytes_per_series=%.0f\n", (heap1 - heap0) / series, (rss1 - rss0) / series,
	       parts / series, (m.chunk_bytes + m.open_bytes) / series);
	vg_head_free(h);
	free(hs);
	return 0;
}
