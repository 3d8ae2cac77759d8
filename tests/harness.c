/* harness.c: see harness.h. */
#include "config.h"

#include "tests/harness.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/frame.h"
#include "common/mpack.h"
#include "common/series.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <check.h>
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int vg_t_make_certs(const char *d)
{
	char script[4096], *out = NULL, *err = NULL;
	int rc;

	snprintf(script, sizeof(script),
		 "set -e; cd '%s'\n"
		 "key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out \"$1\" 2>/dev/null; }\n"
		 "key ca.key; key other-ca.key; key server.key; key client.key\n"
		 "openssl req -x509 -new -key ca.key -subj /CN=vigil-test-ca -days 2 -out ca.crt\n"
		 "openssl req -x509 -new -key other-ca.key -subj /CN=vigil-other-ca -days 2 -out other-ca.crt\n"
		 "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > server.ext\n"
		 "openssl req -new -key server.key -subj /CN=localhost -out server.csr\n"
		 "openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 "
		 "-extfile server.ext -out server.crt 2>/dev/null\n"
		 "printf 'extendedKeyUsage=clientAuth\\n' > client.ext\n"
		 "openssl req -new -key client.key -subj /CN=tls-agent -out client.csr\n"
		 "openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 "
		 "-extfile client.ext -out client.crt 2>/dev/null\n",
		 d);
	char *argv[] = { "/bin/sh", "-c", script, NULL };
	rc = vg_t_run(argv, &out, &err, 20000);
	if (rc != 0)
		fprintf(stderr, "making certificates failed (%d): %s%s\n", rc, out ? out : "", err ? err : "");
	free(out);
	free(err);
	return rc;
}

int vg_t_write_clock(const char *path, int64_t ms)
{
	char tmp[1100];
	FILE *f;
	int rc;

	snprintf(tmp, sizeof(tmp), "%s.new", path);
	if ((f = fopen(tmp, "w")) == NULL)
		return -1;
	rc = fprintf(f, "%lld\n", (long long)ms) > 0 ? 0 : -1;
	if (fclose(f) != 0 || rc != 0)
		return -1;
	return rename(tmp, path) == 0 ? 0 : -1;
}

int vg_t_write_rules(const char *dir, const char *name, const char *text)
{
	char path[1100];
	FILE *f;
	int rc;

	snprintf(path, sizeof(path), "%s/rules", dir);
	if (mkdir(path, 0755) != 0 && errno != EEXIST)
		return -1;
	snprintf(path, sizeof(path), "%s/rules/%s", dir, name);
	if ((f = fopen(path, "w")) == NULL)
		return -1;
	rc = fputs(text, f) >= 0 ? 0 : -1;
	if (fclose(f) != 0)
		rc = -1;
	return rc;
}

int vg_t_wait_rule_evaluation(uint16_t http_port, int64_t ms, int timeout_ms)
{
	char want[64];
	int64_t deadline = vg_t_now_ms() + timeout_ms;

	vg_time_format_rfc3339(ms, want, sizeof(want));
	while (vg_t_now_ms() < deadline) {
		long status = 0;
		json_t *doc = vg_t_http_json(http_port, "/api/v1/rules", &status);
		json_t *groups = json_object_get(json_object_get(doc, "data"), "groups"), *g;
		size_t i, n_done = 0;
		bool is_done;

		json_array_foreach(groups, i, g) {
			const char *last = json_string_value(json_object_get(g, "lastEvaluation"));
			n_done += last && strcmp(last, want) == 0;
		}
		is_done = groups && n_done == json_array_size(groups);
		json_decref(doc);
		if (is_done)
			return 0;
		vg_t_sleep_ms(5); /* the engine ticks every 50 ms */
	}
	return -1;
}

int vg_t_sink_start(struct vg_t_sink *s, const char *dir, const char *responses, const char *delay,
		    const char *retry_after)
{
	char *extra[5];
	int n = 0;

	if (delay) {
		extra[n++] = "--delay";
		extra[n++] = (char *)delay;
	}
	if (retry_after) {
		extra[n++] = "--retry-after";
		extra[n++] = (char *)retry_after;
	}
	extra[n] = NULL;
	return vg_t_sink_start_argv(s, dir, responses, extra);
}

int vg_t_sink_start_argv(struct vg_t_sink *s, const char *dir, const char *responses, char *const *extra)
{
	char pf[600], out[600];
	char *argv[32] = { "/usr/bin/python3", VG_TEST_DATA "/../http_sink.py", "--port-file", pf, "--log", s->log,
			   "--responses", (char *)responses, NULL };
	int n = 8;
	int64_t deadline = vg_t_now_ms() + 10000;

	for (size_t i = 0; extra && extra[i] && n < 31; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	snprintf(pf, sizeof(pf), "%s/sink.port", dir);
	snprintf(out, sizeof(out), "%s/sink.out", dir);
	snprintf(s->log, sizeof(s->log), "%s/sink.jsonl", dir);
	unlink(pf);
	if (vg_t_spawn(&s->proc, out, argv) != 0)
		return -1;
	while (vg_t_now_ms() < deadline) {
		FILE *f = fopen(pf, "r");
		unsigned p;
		if (f && fscanf(f, "%u", &p) == 1) {
			fclose(f);
			s->port = (uint16_t)p;
			return 0;
		}
		if (f)
			fclose(f);
		vg_t_sleep_ms(20);
	}
	vg_t_stop(&s->proc, SIGKILL, 1000);
	return -1;
}

json_t *vg_t_sink_requests(const struct vg_t_sink *s)
{
	json_t *all = json_array();
	FILE *f = fopen(s->log, "r");
	char *line = NULL;
	size_t cap = 0;

	while (f && getline(&line, &cap, f) > 0) {
		json_t *o = json_loads(line, 0, NULL);
		if (o)
			json_array_append_new(all, o);
	}
	if (f)
		fclose(f);
	free(line);
	return all;
}

size_t vg_t_sink_wait(const struct vg_t_sink *s, size_t n, int timeout_ms)
{
	int64_t deadline = vg_t_now_ms() + timeout_ms;
	size_t got = 0;

	for (;;) {
		json_t *r = vg_t_sink_requests(s);
		got = json_array_size(r);
		json_decref(r);
		if (got >= n || vg_t_now_ms() >= deadline)
			return got;
		vg_t_sleep_ms(50);
	}
}

int vg_t_count_files(const char *dir, const char *suffix)
{
	size_t m = strlen(suffix);
	struct dirent *de;
	DIR *d = opendir(dir);
	int n = 0;

	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);
		n += l > m && strcmp(de->d_name + l - m, suffix) == 0;
	}
	closedir(d);
	return n;
}

void vg_t_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

int64_t vg_t_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

char *vg_t_tmpdir(const char *prefix)
{
	const char *base = getenv("TMPDIR");
	char path[512];

	snprintf(path, sizeof(path), "%s/%s-XXXXXX", base && base[0] ? base : "/tmp", prefix);
	if (mkdtemp(path) == NULL)
		return NULL;
	return strdup(path);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void vg_t_rmrf(const char *path)
{
	if (path && getenv("VG_TEST_KEEP") == NULL)
		nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

const char *vg_t_bin(const char *name)
{
	static char slots[4][512];
	static int next;
	const char *dir = getenv("VG_BUILDDIR");
	char *out = slots[next++ % 4];

	snprintf(out, 512, "%s/%s", dir && dir[0] ? dir : VG_BUILDDIR, name);
	return out;
}

int vg_t_spawn(struct vg_t_proc *p, const char *log_path, char *const argv[])
{
	pid_t pid;

	sigset_t all, old;

	snprintf(p->log_path, sizeof(p->log_path), "%s", log_path);
	/* Until exec the child runs the test's signal handlers (Check's
	 * SIGTERM handler kills the whole process group): block signals
	 * across fork and reset the handlers in the child first. */
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	pid = fork();
	if (pid < 0) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		return -1;
	}
	if (pid == 0) {
		int fd;
		for (int sig = 1; sig < NSIG; sig++)
			signal(sig, SIG_DFL);
		sigprocmask(SIG_SETMASK, &old, NULL);
		fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (fd >= 0) {
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
			close(fd);
		}
		execv(argv[0], argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	p->pid = pid;
	return 0;
}

static int wait_status(pid_t pid, int timeout_ms)
{
	int64_t deadline = vg_t_now_ms() + timeout_ms;
	int st;

	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		if (r < 0)
			return -1;
		if (vg_t_now_ms() >= deadline)
			return -2;
		vg_t_sleep_ms(10);
	}
}

/* Prints to stderr what a process that outlived its stop signal is doing:
 * per thread its name, state, kernel wait channel and signal masks (a
 * signal pending but blocked everywhere, or a thread stuck in one call),
 * then each thread's stack from gdb when it is installed. */
static void report_stuck(pid_t pid, int sig, int timeout_ms)
{
	char path[512];
	DIR *d;
	struct dirent *e;

	fprintf(stderr, "vg_t_stop: pid %ld still running %d ms after signal %d; its threads:\n", (long)pid,
		timeout_ms, sig);
	fprintf(stderr, "  (masks: SigPnd/ShdPnd pending for the thread/process, SigBlk blocked, SigCgt caught)\n");
	snprintf(path, sizeof(path), "/proc/%ld/task", (long)pid);
	d = opendir(path);
	while (d != NULL && (e = readdir(d)) != NULL) {
		char line[256], wchan[128] = "";
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/task/%s/wchan", (long)pid, e->d_name);
		if ((f = fopen(path, "r")) != NULL) {
			if (fgets(wchan, sizeof(wchan), f) == NULL)
				wchan[0] = '\0';
			fclose(f);
		}
		fprintf(stderr, "  task %s wchan %s:", e->d_name, wchan[0] ? wchan : "?");
		snprintf(path, sizeof(path), "/proc/%ld/task/%s/status", (long)pid, e->d_name);
		if ((f = fopen(path, "r")) == NULL) {
			fprintf(stderr, " (gone)\n");
			continue;
		}
		while (fgets(line, sizeof(line), f) != NULL) {
			if (strncmp(line, "Name:", 5) == 0 || strncmp(line, "State:", 6) == 0 ||
			    strncmp(line, "SigPnd:", 7) == 0 || strncmp(line, "ShdPnd:", 7) == 0 ||
			    strncmp(line, "SigBlk:", 7) == 0 || strncmp(line, "SigCgt:", 7) == 0) {
				line[strcspn(line, "\n")] = '\0';
				fprintf(stderr, " %s", line);
			}
		}
		fclose(f);
		fputc('\n', stderr);
	}
	if (d != NULL)
		closedir(d);
	if (access("/usr/bin/gdb", X_OK) == 0) {
		char pidtext[32];
		pid_t g;

		snprintf(pidtext, sizeof(pidtext), "%ld", (long)pid);
		fflush(stderr);
		g = fork();
		if (g == 0) {
			dup2(STDERR_FILENO, STDOUT_FILENO);
			execl("/usr/bin/gdb", "gdb", "-nx", "-batch", "-p", pidtext, "-ex", "thread apply all bt",
			      (char *)NULL);
			_exit(127);
		}
		if (g > 0 && wait_status(g, 60000) == -2) {
			kill(g, SIGKILL);
			(void)wait_status(g, 5000);
		}
	}
}

int vg_t_stop(struct vg_t_proc *p, int sig, int timeout_ms)
{
	int st;

	if (p->pid <= 0)
		return -1;
	kill(p->pid, sig);
	st = wait_status(p->pid, timeout_ms);
	if (st == -2) {
		if (sig != SIGKILL)
			report_stuck(p->pid, sig, timeout_ms);
		kill(p->pid, SIGKILL);
		st = wait_status(p->pid, 5000);
	}
	p->pid = 0;
	return st;
}

bool vg_t_alive(struct vg_t_proc *p)
{
	int st;

	if (p->pid <= 0)
		return false;
	return waitpid(p->pid, &st, WNOHANG) == 0;
}

bool vg_t_log_contains(const struct vg_t_proc *p, const char *s)
{
	FILE *f = fopen(p->log_path, "r");
	char *buf;
	long n;
	bool found;

	if (f == NULL)
		return false;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = calloc(1, (size_t)n + 1);
	if (buf == NULL || fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		fclose(f);
		return false;
	}
	fclose(f);
	found = strstr(buf, s) != NULL;
	free(buf);
	return found;
}

bool vg_t_wait_log(const struct vg_t_proc *p, const char *s, int timeout_ms)
{
	int64_t deadline = vg_t_now_ms() + timeout_ms;

	while (!vg_t_log_contains(p, s)) {
		if (vg_t_now_ms() >= deadline)
			return false;
		vg_t_sleep_ms(50);
	}
	return true;
}

int vg_t_receiver_start(struct vg_t_receiver *r, const char *data_dir, const char *extra_arg)
{
	char log_path[600];
	int64_t deadline;

	snprintf(r->data_dir, sizeof(r->data_dir), "%s", data_dir);
	snprintf(r->port_file, sizeof(r->port_file), "%s.ports", data_dir);
	snprintf(log_path, sizeof(log_path), "%s.log", data_dir);
	unlink(r->port_file);
	char *argv[] = { (char *)vg_t_bin("vigil-receiver"), "--data-dir", r->data_dir, "--listen",
			 "127.0.0.1:0", "--http-listen", "127.0.0.1:0", "--port-file", r->port_file,
			 "--config", "/dev/null", "--no-default-rules", "--self-metrics-interval=0",
			 (char *)extra_arg, NULL };
	if (vg_t_spawn(&r->proc, log_path, argv) != 0)
		return -1;
	deadline = vg_t_now_ms() + 10000;
	while (vg_t_now_ms() < deadline) {
		FILE *f = fopen(r->port_file, "r");
		unsigned a, h;
		if (f) {
			int n = fscanf(f, "%u %u", &a, &h);
			fclose(f);
			if (n == 2) {
				r->port = (uint16_t)a;
				r->http_port = (uint16_t)h;
				return 0;
			}
		}
		if (!vg_t_alive(&r->proc))
			return -1;
		vg_t_sleep_ms(20);
	}
	return -1;
}

int vg_t_agent_start(struct vg_t_proc *p, const char *dir, uint16_t port, const char *interval,
		     const char *hostname)
{
	char server[64], log_path[600], spool[600];

	snprintf(server, sizeof(server), "127.0.0.1:%u", port);
	snprintf(log_path, sizeof(log_path), "%s/agent-%s.log", dir, hostname);
	/* Per agent and kept across restarts of it in one test. */
	snprintf(spool, sizeof(spool), "%s/spool-%s", dir, hostname);
	char *argv[] = { (char *)vg_t_bin("vigil-agent"), "--server", server, "--interval",
			 (char *)interval, "--hostname", (char *)hostname, "--config", "/dev/null",
			 "--spool-dir", spool, NULL };
	return vg_t_spawn(p, log_path, argv);
}

static size_t curl_write(char *p, size_t size, size_t n, void *arg)
{
	FILE *f = arg;

	return fwrite(p, size, n, f);
}

/* GET, or POST of body[0..len) when body is not NULL; the reply's body
 * (caller frees) or NULL. */
static char *http_request(uint16_t port, const char *path_and_query, const void *body_in,
			  size_t len_in, long timeout_s, long *status)
{
	char url[8192];
	char *body = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&body, &len);
	CURL *c = curl_easy_init();
	CURLcode rc;

	snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", port, path_and_query);
	curl_easy_setopt(c, CURLOPT_URL, url);
	if (body_in != NULL) {
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body_in);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len_in);
	}
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, curl_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, f);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout_s);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	rc = curl_easy_perform(c);
	*status = 0;
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	curl_easy_cleanup(c);
	fclose(f);
	if (rc != CURLE_OK) {
		free(body);
		return NULL;
	}
	return body;
}

char *vg_t_http_get(uint16_t port, const char *path_and_query, long *status)
{
	return http_request(port, path_and_query, NULL, 0, 10L, status);
}

char *vg_t_http_post(uint16_t port, const char *path_and_query, const void *body, size_t len,
		     long *status)
{
	return http_request(port, path_and_query, body ? body : "", len, 60L, status);
}

size_t vg_t_count_samples(uint16_t port, const char *sel, long start, long end, long step)
{
	char *q = vg_t_urlencode(sel);
	char path[1024];
	long status;
	json_t *doc, *res, *s;
	size_t n = 0, i;

	snprintf(path, sizeof(path), "/api/v1/query_range?query=%s&start=%ld&end=%ld&step=%ld", q, start,
		 end, step);
	free(q);
	doc = vg_t_http_json(port, path, &status);
	ck_assert_msg(doc != NULL && status == 200, "query_range %s: HTTP %ld", sel, status);
	res = json_object_get(json_object_get(doc, "data"), "result");
	json_array_foreach(res, i, s)
		n += json_array_size(json_object_get(s, "values"));
	json_decref(doc);
	return n;
}

json_t *vg_t_http_json(uint16_t port, const char *path_and_query, long *status)
{
	char *body = vg_t_http_get(port, path_and_query, status);
	json_t *doc;

	if (body == NULL)
		return NULL;
	doc = json_loads(body, 0, NULL);
	free(body);
	return doc;
}

char *vg_t_urlencode(const char *s)
{
	CURL *c = curl_easy_init();
	char *e = curl_easy_escape(c, s, 0);
	char *out = strdup(e);

	curl_free(e);
	curl_easy_cleanup(c);
	return out;
}

/* Reads everything from both pipes until they close or the deadline. */
int vg_t_run(char *const argv[], char **out, char **err, int timeout_ms)
{
	int po[2], pe[2];
	char *bufs[2] = { NULL, NULL };
	size_t lens[2] = { 0, 0 };
	FILE *mem[2];
	int64_t deadline = vg_t_now_ms() + timeout_ms;
	pid_t pid;
	int st;

	if (pipe(po) != 0 || pipe(pe) != 0)
		return -1;
	sigset_t all, old;

	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	pid = fork();
	if (pid < 0) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		return -1;
	}
	if (pid == 0) {
		for (int sig = 1; sig < NSIG; sig++)
			signal(sig, SIG_DFL);
		sigprocmask(SIG_SETMASK, &old, NULL);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(po[1], STDOUT_FILENO);
		dup2(pe[1], STDERR_FILENO);
		close(po[0]);
		close(pe[0]);
		close(po[1]);
		close(pe[1]);
		execv(argv[0], argv);
		_exit(127);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(po[1]);
	close(pe[1]);
	mem[0] = open_memstream(&bufs[0], &lens[0]);
	mem[1] = open_memstream(&bufs[1], &lens[1]);
	struct pollfd fds[2] = { { po[0], POLLIN, 0 }, { pe[0], POLLIN, 0 } };
	int open_fds = 2;
	while (open_fds > 0 && vg_t_now_ms() < deadline) {
		if (poll(fds, 2, 100) <= 0)
			continue;
		for (int i = 0; i < 2; i++) {
			char buf[4096];
			ssize_t n;
			if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP)))
				continue;
			n = read(fds[i].fd, buf, sizeof(buf));
			if (n <= 0) {
				close(fds[i].fd);
				fds[i].fd = -1;
				open_fds--;
			} else {
				fwrite(buf, 1, (size_t)n, mem[i]);
			}
		}
	}
	for (int i = 0; i < 2; i++)
		if (fds[i].fd >= 0)
			close(fds[i].fd);
	fclose(mem[0]);
	fclose(mem[1]);
	st = wait_status(pid, open_fds > 0 ? 0 : (int)(deadline - vg_t_now_ms() > 0 ? deadline - vg_t_now_ms() : 0));
	if (st == -2) {
		kill(pid, SIGKILL);
		wait_status(pid, 5000);
		st = -1;
	}
	if (out)
		*out = bufs[0];
	else
		free(bufs[0]);
	if (err)
		*err = bufs[1];
	else
		free(bufs[1]);
	return st;
}

int vg_t_connect(uint16_t port)
{
	struct sockaddr_in sa;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons(port);
	sa.sin_addr.s_addr = htonl(0x7f000001);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

void vg_t_http_read_reply(int fd, int wait_ms, bool until_close, struct vg_buf *out)
{
	int64_t deadline = vg_t_now_ms() + wait_ms;
	size_t start = out->len;
	char chunk[16384];

	for (;;) {
		struct pollfd p = { fd, POLLIN, 0 };
		int wait = (int)(deadline - vg_t_now_ms());
		const char *in, *end, *cl;
		ssize_t n;

		if (wait <= 0 || poll(&p, 1, wait) <= 0)
			break;
		n = recv(fd, chunk, sizeof(chunk), 0);
		if (n <= 0)
			break;
		vg_buf_append(out, chunk, (size_t)n);
		in = vg_buf_cstr(out) + start;
		if (until_close || (end = strstr(in, "\r\n\r\n")) == NULL)
			continue;
		if (strncmp(in, "HTTP/1.1 204 ", 13) == 0)
			break;
		cl = strcasestr(in, "\r\nContent-Length: ");
		if (cl && cl < end && out->len - start >= (size_t)(end + 4 - in) + strtoul(cl + 18, NULL, 10))
			break;
	}
}

int vg_t_write_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n > 0) {
		ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Reads exactly n bytes by the deadline: 0, 1 on EOF, -1 on timeout. */
static int read_exact(int fd, uint8_t *p, size_t n, int64_t deadline)
{
	while (n > 0) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		int64_t left = deadline - vg_t_now_ms();
		ssize_t r;

		if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
			return -1;
		r = recv(fd, p, n, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return 1; /* EOF or reset: the peer closed */
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

int vg_t_read_frame(int fd, int timeout_ms, struct vg_frame_header *h, struct vg_buf *payload)
{
	int64_t deadline = vg_t_now_ms() + timeout_ms;
	uint8_t hdr[VG_FRAME_HEADER_SIZE];
	struct vg_buf wire = VG_BUF_INIT;
	struct vg_frame_codec *codec;
	const uint8_t *raw;
	size_t raw_len;
	int rc;

	if ((rc = read_exact(fd, hdr, sizeof(hdr), deadline)) != 0)
		return rc;
	if (vg_frame_header_decode(hdr, h, NULL) != 0)
		return -1;
	vg_buf_grow(&wire, h->payload_len);
	if ((rc = read_exact(fd, wire.data, h->payload_len, deadline)) != 0) {
		vg_buf_release(&wire);
		return rc;
	}
	codec = vg_frame_codec_new(1);
	rc = vg_frame_open(codec, h, wire.data, &raw, &raw_len, NULL);
	if (rc == 0) {
		vg_buf_reset(payload);
		vg_buf_append(payload, raw, raw_len);
	}
	vg_frame_codec_free(codec);
	vg_buf_release(&wire);
	return rc == 0 ? 0 : -1;
}

int vg_t_hello(int fd, const char *agent, uint64_t epoch, uint64_t *acked)
{
	struct vg_hello hello = { VG_PROTO_VERSION, vg_str_c(agent), epoch, vg_str_c(""), vg_str_c("test") };
	struct vg_buf raw = VG_BUF_INIT, wire = VG_BUF_INIT, payload = VG_BUF_INIT;
	struct vg_frame_codec *codec = vg_frame_codec_new(1);
	struct vg_frame_header h;
	int rc = -1;

	vg_hello_pack(&hello, &raw);
	if (vg_frame_encode(codec, VG_FRAME_HELLO, 0, raw.data, raw.len, &wire, NULL) == 0 &&
	    vg_t_write_all(fd, wire.data, wire.len) == 0 &&
	    vg_t_read_frame(fd, 5000, &h, &payload) == 0 && h.type == VG_FRAME_ACK) {
		if (acked)
			*acked = h.seq;
		rc = 0;
	}
	vg_frame_codec_free(codec);
	vg_buf_release(&raw);
	vg_buf_release(&wire);
	vg_buf_release(&payload);
	return rc;
}

void vg_t_send_frame(int fd, enum vg_frame_type type, uint64_t seq, const struct vg_buf *raw)
{
	struct vg_frame_codec *c = vg_frame_codec_new(1);
	struct vg_buf wire = VG_BUF_INIT;

	ck_assert_int_eq(vg_frame_encode(c, type, seq, raw->data, raw->len, &wire, NULL), 0);
	ck_assert_int_eq(vg_t_write_all(fd, wire.data, wire.len), 0);
	vg_buf_release(&wire);
	vg_frame_codec_free(c);
}

void vg_t_send_frame_v2(int fd, enum vg_frame_type type, uint64_t seq, const struct vg_buf *raw)
{
	struct vg_frame_codec *c = vg_frame_codec_new(1);
	struct vg_buf wire = VG_BUF_INIT;

	ck_assert_int_eq(vg_frame_encode_version(c, VG_PROTO_V2, type, seq, raw->data, raw->len, &wire, NULL), 0);
	ck_assert_int_eq(vg_t_write_all(fd, wire.data, wire.len), 0);
	vg_buf_release(&wire);
	vg_frame_codec_free(c);
}

void vg_t_define_series(int fd, const char *name, const char *job)
{
	struct vg_buf raw = VG_BUF_INIT;
	struct vg_series s;
	msgpack_packer pk;

	vg_series_init(&s, name);
	vg_series_add(&s, "job", job);
	vg_mp_packer_init(&pk, &raw);
	vg_series_pack_begin(&pk, 1);
	vg_series_pack_entry(&pk, 0, &s);
	vg_t_send_frame(fd, VG_FRAME_SERIES, 0, &raw);
	vg_buf_release(&raw);
}

void vg_t_send_sample(int fd, uint64_t seq, int64_t ts, double v)
{
	struct vg_buf raw = VG_BUF_INIT;
	msgpack_packer pk;

	vg_mp_packer_init(&pk, &raw);
	vg_samples_pack_begin(&pk, 1);
	vg_samples_pack_group(&pk, ts, 1);
	vg_samples_pack_sample(&pk, 0, v);
	vg_t_send_frame(fd, VG_FRAME_SAMPLES, seq, &raw);
	vg_buf_release(&raw);
}

uint64_t vg_t_wait_ack(int fd, uint64_t seq)
{
	struct vg_frame_header h;
	struct vg_buf payload = VG_BUF_INIT;
	uint64_t best = 0;

	while (best < seq) {
		ck_assert_int_eq(vg_t_read_frame(fd, 5000, &h, &payload), 0);
		ck_assert_uint_eq(h.type, VG_FRAME_ACK);
		if (h.seq > best)
			best = h.seq;
	}
	vg_buf_release(&payload);
	return best;
}

int vg_t_receiver_start_config(struct vg_t_receiver *r, const char *dir, const char *config, unsigned nofile)
{
	char conf[600], log_path[600], cfg_arg[640], limit[32];
	int64_t deadline;
	FILE *f;

	snprintf(r->data_dir, sizeof(r->data_dir), "%s/data", dir);
	snprintf(conf, sizeof(conf), "%s/receiver.yaml", dir);
	snprintf(log_path, sizeof(log_path), "%s/receiver.log", dir);
	snprintf(r->port_file, sizeof(r->port_file), "%s/ports", dir);
	snprintf(cfg_arg, sizeof(cfg_arg), "--config=%s", conf);
	snprintf(limit, sizeof(limit), "--nofile=%u:%u", nofile, nofile);
	unlink(r->port_file);
	if ((f = fopen(conf, "w")) == NULL)
		return -1;
	fputs(config ? config : "", f);
	fclose(f);
	/* The default rules and the self metrics stay off unless the test's
	 * configuration speaks of them (harness.h). */
	char *no_rules = config && strstr(config, "default_rules") ? NULL : "--no-default-rules";
	char *no_self = config && strstr(config, "self_metrics_interval") ? NULL : "--self-metrics-interval=0";
	char *plain[] = { (char *)vg_t_bin("vigil-receiver"), "--data-dir", r->data_dir, "--listen",
			  "127.0.0.1:0", "--http-listen", "127.0.0.1:0", "--port-file", r->port_file, cfg_arg,
			  no_rules ? no_rules : no_self, no_rules ? no_self : NULL, NULL };
	char *limited[] = { "/usr/bin/prlimit", limit, "--", (char *)vg_t_bin("vigil-receiver"), "--data-dir",
			    r->data_dir, "--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0", "--port-file",
			    r->port_file, cfg_arg, no_rules ? no_rules : no_self, no_rules ? no_self : NULL, NULL };
	if (vg_t_spawn(&r->proc, log_path, nofile ? limited : plain) != 0)
		return -1;
	deadline = vg_t_now_ms() + 10000;
	while (vg_t_now_ms() < deadline) {
		unsigned a, h;
		if ((f = fopen(r->port_file, "r")) != NULL) {
			int n = fscanf(f, "%u %u", &a, &h);
			fclose(f);
			if (n == 2) {
				r->port = (uint16_t)a;
				r->http_port = (uint16_t)h;
				return 0;
			}
		}
		if (!vg_t_alive(&r->proc))
			return -1;
		vg_t_sleep_ms(20);
	}
	return -1;
}

long vg_t_rss_kb(pid_t pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "VmRSS:", 6) == 0)
			kb = strtol(line + 6, NULL, 10);
	fclose(f);
	return kb;
}

int vg_t_maps_contain(pid_t pid, const char *s)
{
	char path[64], line[1024];
	int found = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, s) != NULL;
	fclose(f);
	return found;
}

int vg_t_thread_stop(pid_t tid)
{
	int st;

	if (ptrace(PTRACE_SEIZE, tid, NULL, NULL) != 0)
		return -1;
	if (ptrace(PTRACE_INTERRUPT, tid, NULL, NULL) != 0 || waitpid(tid, &st, __WALL) != tid || !WIFSTOPPED(st)) {
		int e = errno;
		(void)ptrace(PTRACE_DETACH, tid, NULL, NULL);
		errno = e;
		return -1;
	}
	return 0;
}

int vg_t_thread_resume(pid_t tid)
{
	return ptrace(PTRACE_DETACH, tid, NULL, NULL) == 0 ? 0 : -1;
}

int vg_t_free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int port = -1;

	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 && getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	close(fd);
	return port;
}

int vg_t_alertmanager_start(struct vg_t_proc *p, const char *dir, const char *cfg)
{
	char listen[64], cfg_arg[800], st_arg[800], log_path[700];
	long status = 0;

	snprintf(cfg_arg, sizeof(cfg_arg), "--config.file=%s", cfg);
	snprintf(st_arg, sizeof(st_arg), "--storage.path=%s/am-data", dir);
	snprintf(log_path, sizeof(log_path), "%s/am.log", dir);
	for (int attempt = 0; attempt < 3; attempt++) {
		int port = vg_t_free_port();
		if (port < 0)
			return -1;
		snprintf(listen, sizeof(listen), "--web.listen-address=127.0.0.1:%d", port);
		char *argv[] = { "/usr/bin/prometheus-alertmanager", cfg_arg, st_arg, listen, "--cluster.listen-address=",
				 NULL };
		if (vg_t_spawn(p, log_path, argv) != 0)
			return -1;
		for (int i = 0; i < 300 && vg_t_alive(p); i++) {
			free(vg_t_http_get((uint16_t)port, "/-/ready", &status));
			if (status == 200)
				return port;
			vg_t_sleep_ms(50);
		}
		vg_t_stop(p, SIGTERM, 5000);
	}
	return -1;
}

double vg_t_metric(uint16_t http_port, const char *sample)
{
	long status = 0;
	char *text = vg_t_http_get(http_port, "/metrics", &status), *p;
	size_t n = strlen(sample);
	double v = -1;

	for (p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, sample, n) == 0 && p[n] == ' ') {
			v = strtod(p + n + 1, NULL);
			break;
		}
	free(text);
	return v;
}

void vg_t_check_receiver_config(const char *dir, const char *text, const char *want)
{
	char path[700], *out = NULL, *err = NULL, arg[720];
	FILE *f;
	int rc;

	snprintf(path, sizeof(path), "%s/bad.yaml", dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
	snprintf(arg, sizeof(arg), "--config=%s", path);
	char *argv[] = { (char *)vg_t_bin("vigil-receiver"), arg, "--check-config", NULL };
	rc = vg_t_run(argv, &out, &err, 10000);
	if (want == NULL)
		ck_assert_msg(rc == 0, "refused: %s", err);
	else
		ck_assert_msg(rc != 0 && strstr(err, want) != NULL, "rc %d, wanted \"%s\" in: %s", rc, want, err);
	free(out);
	free(err);
}
