/*
 * bench_statsd.c: StatsD packets per second into one real vigil-agent.
 *
 * Starts a vigil-receiver and a vigil-agent (1 s interval, StatsD on a
 * loopback port) in a temporary directory, warms the agent up with its
 * keys, then sends datagrams of one line each as fast as one thread can
 * (sendmmsg, 64 at a time) for --seconds, from --senders threads (1). The lines cycle over --keys
 * distinct keys: 70 % counters with tags, 20 % timers, 10 % gauges.
 *
 * Prints what was sent, what the agent took (its own
 * vigil_agent_statsd_packets_total, read back from the receiver), what
 * the kernel dropped at the agent's socket (the agent's own count, read
 * with SO_MEMINFO, and /proc/net/udp's drops column for the port) and the agent's
 * RSS idle, after the warm-up and at the end (flat memory: the last two
 * equal), then one RESULT line.
 *
 *   bench_statsd [--seconds S] [--keys K] [--senders N] [--agent PATH] [--receiver PATH]
 */
#define _GNU_SOURCE 1
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define MAX_SENDERS 8

struct sender {
	pthread_t thread;
	int fd;
	int keys, first;
	double seconds;
	char (*lines)[96];
	uint64_t sent, errors;
};

/* Sends the lines round-robin, BATCH a call, for s->seconds. */
static void *send_loop(void *arg)
{
	struct sender *s = arg;
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	struct timespec ts;
	double t0, t;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	t0 = (double)ts.tv_sec + ts.tv_nsec / 1e9;
	for (size_t k = (size_t)s->first;;) {
		int n;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		t = (double)ts.tv_sec + ts.tv_nsec / 1e9;
		if (t - t0 >= s->seconds)
			break;
		for (int i = 0; i < BATCH; i++, k++) {
			const char *l = s->lines[k % (size_t)s->keys];
			iov[i] = (struct iovec){ (void *)l, strlen(l) };
			msgs[i].msg_hdr.msg_iov = &iov[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
		}
		n = sendmmsg(s->fd, msgs, BATCH, 0);
		if (n > 0)
			s->sent += (uint64_t)n;
		else
			s->errors++;
	}
	return NULL;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static pid_t spawn(char *const argv[], const char *log_path)
{
	pid_t pid = fork();

	if (pid == 0) {
		int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

static void stop(pid_t pid)
{
	int st;

	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	for (int i = 0; i < 100; i++) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return;
		sleep_ms(50);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
}

static long rss_kib(pid_t pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

/* utime + stime of pid, in seconds. */
static double cpu_s(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut = 0, st = 0;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* The drops column of /proc/net/udp for the socket bound to port. */
static long proc_udp_drops(uint16_t port)
{
	char line[512], want[16];
	long drops = -1;
	FILE *f = fopen("/proc/net/udp", "r");

	if (f == NULL)
		return -1;
	snprintf(want, sizeof(want), ":%04X ", port);
	while (fgets(line, sizeof(line), f)) {
		char *loc = strchr(line, ':'); /* after "sl:" */
		if (loc && (loc = strchr(loc + 1, ':')) && strncmp(loc, want, strlen(want)) == 0) {
			/* sl local rem st tx:rx tr:when retrnsmt uid timeout inode ref pointer drops */
			char *save = NULL, *tok = strtok_r(line, " \t\n", &save);
			for (int i = 0; tok && i < 12; i++)
				tok = strtok_r(NULL, " \t\n", &save);
			if (tok)
				drops = strtol(tok, NULL, 10);
		}
	}
	fclose(f);
	return drops;
}

/* A tiny HTTP/1.0 GET of an instant query; the first value, or -1. */
static double query(uint16_t http_port, const char *q)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(http_port) };
	char req[1024], resp[65536];
	size_t len = 0;
	ssize_t n;
	const char *v;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	snprintf(req, sizeof(req), "GET /api/v1/query?query=%s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", q);
	if (write(fd, req, strlen(req)) < 0) {
		close(fd);
		return -1;
	}
	while (len < sizeof(resp) - 1 && (n = read(fd, resp + len, sizeof(resp) - 1 - len)) > 0)
		len += (size_t)n;
	close(fd);
	resp[len] = '\0';
	if ((v = strstr(resp, "\"value\":[")) == NULL || (v = strchr(v + 9, '"')) == NULL)
		return -1;
	return strtod(v + 1, NULL);
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
		sleep_ms(50);
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *agent_bin = VG_BUILDDIR "/vigil-agent", *receiver_bin = VG_BUILDDIR "/vigil-receiver";
	double seconds = 5;
	int keys = 1000, c;
	char dir[] = "/tmp/vigil-bench-statsd-XXXXXX", path[600], ports[600], log_a[600], log_r[600];
	char data[600], spool[600], server[64], conf[600];
	static char lines[BATCH * 1024][96];
	struct sender senders[MAX_SENDERS];
	int n_senders = 1;
	struct sockaddr_in sa = { .sin_family = AF_INET };
	unsigned rport = 0, hport = 0;
	uint16_t port;
	pid_t rpid, apid;
	long rss_idle, rss_warm, rss_end;
	uint64_t sent = 0, warm_sent = 0, send_errors = 0;
	double t0, t1, taken, agent_drops, agent_packets_warm, cpu0, cpu1;
	int fd, rc = 1;
	FILE *f;

	static const struct option opts[] = {
		{ "seconds", required_argument, NULL, 's' }, { "keys", required_argument, NULL, 'k' },
		{ "agent", required_argument, NULL, 'a' },   { "senders", required_argument, NULL, 'n' },   { "receiver", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's': seconds = atof(optarg); break;
		case 'k': keys = atoi(optarg); break;
		case 'a': agent_bin = optarg; break;
		case 'n': n_senders = atoi(optarg); break;
		case 'r': receiver_bin = optarg; break;
		default:
			fprintf(stderr, "usage: bench_statsd [--seconds S] [--keys K] [--senders N] [--agent PATH] [--receiver PATH]\n");
			return 2;
		}
	}
	if (keys < 1 || keys > BATCH * 1024 || seconds <= 0 || n_senders < 1 || n_senders > MAX_SENDERS) {
		fprintf(stderr, "bench_statsd: --keys 1..%d, --seconds > 0\n", BATCH * 1024);
		return 2;
	}
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(data, sizeof(data), "%s/data", dir);
	snprintf(ports, sizeof(ports), "%s/ports", dir);
	snprintf(log_r, sizeof(log_r), "%s/receiver.log", dir);
	snprintf(log_a, sizeof(log_a), "%s/agent.log", dir);
	snprintf(spool, sizeof(spool), "%s/spool", dir);
	snprintf(conf, sizeof(conf), "%s/agent.yaml", dir);
	char *rargv[] = { (char *)receiver_bin, "--data-dir", data, "--listen", "127.0.0.1:0", "--http-listen",
			  "127.0.0.1:0", "--port-file", ports, "--config", "/dev/null", NULL };
	rpid = spawn(rargv, log_r);
	for (int i = 0; i < 200 && rport == 0; i++) {
		if ((f = fopen(ports, "r")) != NULL) {
			if (fscanf(f, "%u %u", &rport, &hport) != 2)
				rport = 0;
			fclose(f);
		}
		sleep_ms(50);
	}
	if (rport == 0) {
		fprintf(stderr, "bench_statsd: the receiver did not start (see %s)\n", log_r);
		goto out_r;
	}
	if ((f = fopen(conf, "w")) == NULL)
		goto out_r;
	fprintf(f, "statsd_max_series: %d\n", keys + 10);
	fclose(f);
	snprintf(server, sizeof(server), "127.0.0.1:%u", rport);
	char *aargv[] = { (char *)agent_bin, "--server", server, "--interval", "1s", "--hostname", "bench",
			  "--config", conf, "--spool-dir", spool, "--statsd-listen", "127.0.0.1:0", NULL };
	apid = spawn(aargv, log_a);
	if ((port = statsd_port_from_log(log_a)) == 0) {
		fprintf(stderr, "bench_statsd: the agent did not listen (see %s)\n", log_a);
		goto out;
	}
	sleep_ms(1500);
	rss_idle = rss_kib(apid);

	for (int i = 0; i < keys; i++) {
		int kind = i % 10;
		if (kind < 7)
			snprintf(lines[i], sizeof(lines[i]), "bench.app%d.requests:1|c|#code:%d,method:get", i, 200 + i % 5);
		else if (kind < 9)
			snprintf(lines[i], sizeof(lines[i]), "bench.app%d.latency:%d|ms", i, 1 + i % 900);
		else
			snprintf(lines[i], sizeof(lines[i]), "bench.app%d.queue:%d|g", i, i % 100);
	}
	sa.sin_port = htons(port);
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	if ((fd = socket(AF_INET, SOCK_DGRAM, 0)) < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		perror("socket");
		goto out;
	}
	{
		int sz = 8 << 20;
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	}
	/* warm-up: every key once, slowly, so the agent's table is complete */
	for (int i = 0; i < keys; i++) {
		if (send(fd, lines[i], strlen(lines[i]), 0) > 0)
			warm_sent++;
		if (i % 64 == 63)
			sleep_ms(1);
	}
	sleep_ms(2500);
	rss_warm = rss_kib(apid);
	agent_packets_warm = query(hport, "vigil_agent_statsd_packets_total");

	cpu0 = cpu_s(apid);
	t0 = now_s();
	for (int i = 0; i < n_senders; i++) {
		senders[i] = (struct sender){ .keys = keys, .first = i * 97, .seconds = seconds, .lines = lines };
		senders[i].fd = socket(AF_INET, SOCK_DGRAM, 0);
		if (senders[i].fd < 0 || connect(senders[i].fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
		    pthread_create(&senders[i].thread, NULL, send_loop, &senders[i]) != 0) {
			perror("sender");
			goto out;
		}
	}
	for (int i = 0; i < n_senders; i++) {
		pthread_join(senders[i].thread, NULL);
		close(senders[i].fd);
		sent += senders[i].sent;
		send_errors += senders[i].errors;
	}
	t1 = now_s();
	close(fd);
	sleep_ms(200); /* what is queued at the socket is read */
	cpu1 = cpu_s(apid);
	sleep_ms(2300); /* two agent intervals: its counters reach the receiver */
	rss_end = rss_kib(apid);
	taken = query(hport, "vigil_agent_statsd_packets_total") - agent_packets_warm;
	agent_drops = query(hport, "vigil_agent_statsd_socket_drops_total");
	{
		long udp_drops = proc_udp_drops(port);
		double secs = t1 - t0;
		printf("sent         %llu datagrams in %.2f s: %.0f/s (%llu send errors)\n",
		       (unsigned long long)sent, secs, sent / secs, (unsigned long long)send_errors);
		printf("agent took   %.0f: %.0f packets/s\n", taken, taken / secs);
		printf("agent CPU    %.2f s: %.0f packets per CPU-second (%.2f us a packet)\n", cpu1 - cpu0,
		       taken / (cpu1 - cpu0), 1e6 * (cpu1 - cpu0) / taken);
		printf("socket drops %.0f (the agent's, sk_drops), /proc/net/udp %ld: %.2f %% of sent\n", agent_drops, udp_drops,
		       sent ? 100.0 * agent_drops / (double)sent : 0);
		printf("agent RSS    %ld KiB idle, %ld KiB after the warm-up with %d keys, %ld KiB at the end\n",
		       rss_idle, rss_warm, keys, rss_end);
		printf("RESULT packets_per_s=%.0f sent_per_s=%.0f packets_per_cpu_s=%.0f socket_drops=%.0f drop_pct=%.2f keys=%d "
		       "rss_idle_kib=%ld rss_warm_kib=%ld rss_end_kib=%ld\n",
		       taken / secs, sent / secs, taken / (cpu1 - cpu0), agent_drops, sent ? 100.0 * agent_drops / (double)sent : 0, keys,
		       rss_idle, rss_warm, rss_end);
	}
	(void)warm_sent;
	rc = taken > 0 ? 0 : 1;
out:
	stop(apid);
out_r:
	stop(rpid);
	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	if (system(path) != 0)
		fprintf(stderr, "bench_statsd: cannot remove %s\n", dir);
	return rc;
}
