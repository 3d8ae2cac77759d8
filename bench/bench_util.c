/*
 * bench_util.c: what the benches share (bench_util.h). Everything here
 * is the measuring side: it runs in the bench, never in the programs
 * measured, and keeps no state between calls.
 */
#include "config.h"

#include "bench/bench_util.h"

#include "common/err.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <malloc.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/banned.h"

double vg_bench_now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double vg_bench_self_cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	       (double)ru.ru_stime.tv_usec / 1e6;
}

void vg_bench_sleep_s(double s)
{
	struct timespec ts = { (time_t)s, (long)((s - (double)(time_t)s) * 1e9) };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

uint64_t vg_bench_rng_u64(struct vg_bench_rng *r)
{
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return r->s * 0x2545F4914F6CDD1DULL;
}

double vg_bench_rng_double(struct vg_bench_rng *r)
{
	return (double)(vg_bench_rng_u64(r) >> 11) / 9007199254740992.0;
}

int vg_bench_proc_usage(pid_t pid, double *cpu_s, double *rss_bytes)
{
	char path[64], buf[2048], *p;
	unsigned long ut, st;
	long rss;
	FILE *f;
	size_t n;
	int rc = -1;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r")) != NULL) {
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[n] = '\0';
		/* after the name's ")": state(3) ... utime(14) stime(15) ... rss(24) */
		if ((p = strrchr(buf, ')')) != NULL &&
		    sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %*d %*d %*d %*d %*d %*d %*u %*u %ld",
			   &ut, &st, &rss) == 3)
			rc = 0;
	}
	if (cpu_s)
		*cpu_s = rc == 0 ? (double)(ut + st) / (double)sysconf(_SC_CLK_TCK) : -1;
	if (rss_bytes)
		*rss_bytes = rc == 0 ? (double)rss * (double)sysconf(_SC_PAGESIZE) : -1;
	return rc;
}

long vg_bench_proc_fds(pid_t pid)
{
	char path[64];
	struct dirent *e;
	DIR *d;
	long n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	if ((d = opendir(path)) == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

size_t vg_bench_heap_bytes(void)
{
	struct mallinfo2 m = mallinfo2();

	return m.uordblks + m.hblkhd;
}

pid_t vg_bench_spawn(char *const argv[], const char *log_path)
{
	pid_t pid = fork();

	if (pid == 0) {
		int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	return pid;
}

bool vg_bench_is_alive(pid_t pid)
{
	return pid > 0 && waitpid(pid, NULL, WNOHANG) == 0;
}

void vg_bench_stop(pid_t pid)
{
	int st;

	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	for (int i = 0; i < 600; i++) {
		if (waitpid(pid, &st, WNOHANG) != 0)
			return;
		vg_bench_sleep_s(0.05);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
}

int vg_bench_wait_ports(const char *path, pid_t pid, double timeout_s, uint16_t *port, uint16_t *http_port)
{
	double deadline = vg_bench_now_s() + timeout_s;

	do {
		FILE *f = fopen(path, "r");
		unsigned a, h;
		if (f != NULL) {
			int n = fscanf(f, "%u %u", &a, &h);
			fclose(f);
			if (n == 2 && a <= 65535 && h <= 65535) {
				*port = (uint16_t)a;
				*http_port = (uint16_t)h;
				return 0;
			}
		}
		if (!vg_bench_is_alive(pid))
			break;
		vg_bench_sleep_s(0.01);
	} while (vg_bench_now_s() < deadline);
	return -1;
}

void vg_bench_raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

uint16_t vg_bench_free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	uint16_t port = 0;

	if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
		port = ntohs(sa.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

int vg_bench_connect(unsigned src, uint16_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(0x7f000001) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0)
		return -1;
	if (src) {
		struct sockaddr_in from = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000000u | src) };
		if (bind(fd, (struct sockaddr *)&from, sizeof(from)) != 0)
			goto fail;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 && errno != EINPROGRESS)
		goto fail;
	return fd;
fail:
	close(fd);
	return -1;
}

int vg_bench_wait_fd(int fd, short events, double deadline)
{
	struct pollfd p = { fd, events, 0 };
	double left = deadline - vg_bench_now_s();

	return poll(&p, 1, left > 0 ? (int)(left * 1000) + 1 : 0) > 0;
}

int vg_bench_write_all(int fd, const void *buf, size_t n, double deadline)
{
	const uint8_t *p = buf;

	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w > 0) {
			p += w;
			n -= (size_t)w;
		} else if (w < 0 && errno == EAGAIN) {
			if (!vg_bench_wait_fd(fd, POLLOUT, deadline))
				return -1;
		} else {
			return -1;
		}
	}
	return 0;
}

/* The body_len bytes of body_fd from its start, to fd. */
static int send_body(int fd, int body_fd, off_t body_len, double deadline)
{
	static const size_t chunk = 1 << 20; /* as curl --data-binary writes */
	char *buf = malloc(chunk);
	off_t off = 0;
	int rc = -1;

	if (buf == NULL || lseek(body_fd, 0, SEEK_SET) != 0)
		goto out;
	while (off < body_len) {
		ssize_t n = read(body_fd, buf, chunk);
		if (n <= 0 || vg_bench_write_all(fd, buf, (size_t)n, deadline) != 0)
			goto out;
		off += n;
	}
	rc = 0;
out:
	free(buf);
	return rc;
}

int vg_bench_http(uint16_t port, const char *method, const char *path, int body_fd, off_t body_len,
		  double timeout_s, struct vg_buf *reply)
{
	double deadline = vg_bench_now_s() + timeout_s;
	struct vg_buf got = VG_BUF_INIT;
	char req[1024], buf[16384];
	int fd = vg_bench_connect(0, port), status = 0, n;

	if (fd < 0)
		return 0;
	if (strcmp(method, "GET") == 0 && body_fd < 0)
		n = snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", path);
	else
		n = snprintf(req, sizeof(req),
			     "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %lld\r\nConnection: close\r\n\r\n",
			     method, path, body_fd >= 0 ? (long long)body_len : 0LL);
	if (n < 0 || (size_t)n >= sizeof(req) || !vg_bench_wait_fd(fd, POLLOUT, deadline) ||
	    vg_bench_write_all(fd, req, (size_t)n, deadline) != 0 ||
	    (body_fd >= 0 && send_body(fd, body_fd, body_len, deadline) != 0))
		goto out;
	/* The status line is enough when the answer is not wanted. */
	while ((reply || got.len < 16) && vg_bench_wait_fd(fd, POLLIN, deadline)) {
		ssize_t r = recv(fd, buf, sizeof(buf), 0);
		if (r <= 0 && !(r < 0 && errno == EAGAIN))
			break;
		if (r > 0)
			vg_buf_append(&got, buf, (size_t)r);
	}
	if (got.len >= 12 && memcmp(got.data, "HTTP/1.", 7) == 0)
		status = (int)strtol((const char *)got.data + 9, NULL, 10);
	if (reply) {
		vg_buf_append(reply, got.data, got.len);
		vg_buf_append(reply, "", 1); /* a C string */
	}
out:
	vg_buf_release(&got);
	close(fd);
	return status;
}

double vg_bench_metric_value(const char *text, const char *sample)
{
	size_t n = strlen(sample);

	for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (strncmp(p, sample, n) == 0 && p[n] == ' ')
			return strtod(p + n + 1, NULL);
	return -1;
}

int vg_bench_tmpdir(const char *name, char *out, size_t cap)
{
	const char *t = getenv("TMPDIR");
	int n = snprintf(out, cap, "%s/vigil-bench-%s-XXXXXX", t && *t ? t : "/tmp", name);

	if (n < 0 || (size_t)n >= cap || mkdtemp(out) == NULL) {
		fprintf(stderr, "%s: cannot make a temporary directory: %s\n", program_invocation_short_name,
			strerror(errno));
		return -1;
	}
	return 0;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path) == 0 ? 0 : -1;
}

int vg_bench_rmdir(const char *dir)
{
	if (nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS) != 0) {
		fprintf(stderr, "%s: cannot remove %s: %s\n", program_invocation_short_name, dir, strerror(errno));
		return -1;
	}
	return 0;
}

uint64_t vg_bench_du_bytes(const char *dir, const char *prefix)
{
	struct vg_buf cmd = VG_BUF_INIT;
	unsigned long long v = 0;
	char line[4200];
	FILE *p;

	/* du itself, not a walk here: its apparent sizes count each inode
	 * once, directories too, as the figures of docs/performance.md did. */
	vg_buf_printf(&cmd, "du -sbc '%s'%s%s%s 2>/dev/null", dir, prefix ? "/'" : "", prefix ? prefix : "",
		      prefix ? "'*" : "");
	p = vg_buf_failed(&cmd) ? NULL : popen(vg_buf_cstr(&cmd), "r");
	vg_buf_release(&cmd);
	if (p == NULL)
		return 0;
	while (fgets(line, sizeof(line), p))
		(void)sscanf(line, "%llu", &v); /* the last line: the total */
	pclose(p);
	return v;
}

_Noreturn void vg_bench_die(const char *what, const struct vg_err *err)
{
	fprintf(stderr, "%s: %s: %s\n", program_invocation_short_name, what, err ? err->msg : "failed");
	exit(1);
}

void vg_bench_result_add(struct vg_bench_result *r, const char *fmt, ...)
{
	va_list ap;

	vg_buf_putc(&r->line, ' ');
	va_start(ap, fmt);
	vg_buf_vprintf(&r->line, fmt, ap);
	va_end(ap);
}

void vg_bench_result_print(struct vg_bench_result *r)
{
	printf("RESULT%s\n", vg_buf_cstr(&r->line));
	vg_buf_release(&r->line);
}
