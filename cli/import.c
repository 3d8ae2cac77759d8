/*
 * import.c: vigil import and vigil push (import.h).
 *
 * Owns: reading the input (a file, with its size for Content-Length and the
 * progress bar; stdin, sent chunked), the progress line, the summary, and
 * push's check of its arguments through the same parser the receiver uses
 * (common/exposition.c), so a typo costs no request. The transport is
 * http.c's vg_http_post. The answer is the endpoint's: 204 with counts in
 * X-Vigil-* headers when every line was stored; 200 with a JSON summary
 * (the first rejected lines and why) when some were not; an error envelope
 * with the same counts when the body or storage failed.
 */
#include "cli/import.h"
#include "cli/http.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/exposition.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "common/banned.h"

#define IMPORT_PATH "/api/v1/import/prometheus"
#define PROGRESS_EVERY_MS 100

enum { EXIT_OK = 0, EXIT_REFUSED = 1, EXIT_USAGE = 2, EXIT_UNREACHABLE = 3 };

struct source {
	int fd;
	const char *name;
	int64_t size_bytes; /* -1 unknown */
	int read_errno;
	/* The progress line. */
	FILE *progress;
	int64_t start_ms, last_ms;
	int64_t sent_bytes;
	bool has_drawn;
};

static long read_source(void *arg, char *buf, size_t cap)
{
	struct source *s = arg;

	for (;;) {
		ssize_t n = read(s->fd, buf, cap);
		if (n >= 0)
			return (long)n;
		if (errno == EINTR)
			continue;
		s->read_errno = errno;
		return -1;
	}
}

static void human_bytes(double b, char *out, size_t cap)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	size_t u = 0;

	while (b >= 1024 && u < 4) {
		b /= 1024;
		u++;
	}
	snprintf(out, cap, u ? "%.1f %s" : "%.0f %s", b, units[u]);
}

static void draw(struct source *s, bool is_final)
{
	int64_t now = vg_clock_mono_ms();
	double secs = (double)(now - s->start_ms) / 1000.0;
	char sent[32], total[32], rate[32];

	if (!is_final && now - s->last_ms < PROGRESS_EVERY_MS)
		return;
	s->last_ms = now;
	human_bytes((double)s->sent_bytes, sent, sizeof(sent));
	human_bytes(secs > 0 ? (double)s->sent_bytes / secs : 0, rate, sizeof(rate));
	if (s->size_bytes > 0) {
		int pct = (int)(s->sent_bytes * 100 / s->size_bytes), width = 30, fill = pct * width / 100;
		char bar[32];

		for (int i = 0; i < width; i++)
			bar[i] = i < fill ? '=' : (i == fill ? '>' : ' ');
		bar[width] = '\0';
		human_bytes((double)s->size_bytes, total, sizeof(total));
		fprintf(s->progress, "\r[%s] %3d%%  %s / %s  %s/s ", bar, pct, sent, total, rate);
	} else {
		fprintf(s->progress, "\r%s sent  %s/s ", sent, rate);
	}
	fflush(s->progress);
	s->has_drawn = true;
}

static void on_progress(void *arg, int64_t sent_bytes)
{
	struct source *s = arg;

	s->sent_bytes = sent_bytes;
	if (s->progress)
		draw(s, false);
}

/* The value of header name in raw response headers, as an integer. */
static bool header_u64(const struct vg_buf *h, const char *name, uint64_t *out)
{
	size_t nl = strlen(name);
	const char *p = vg_buf_cstr(h), *end = p + h->len;

	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		if (eol == NULL)
			eol = end;
		if ((size_t)(eol - p) > nl + 1 && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			char *e;
			unsigned long long v = strtoull(p + nl + 1, &e, 10);
			if (e != p + nl + 1) {
				*out = v;
				return true;
			}
		}
		p = eol + 1;
	}
	return false;
}

static uint64_t member_u64(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	return json_is_integer(v) ? (uint64_t)json_integer_value(v) : 0;
}

/* Prints control characters of server text as spaces. */
static void put_clean(FILE *f, const char *s)
{
	for (; *s; s++)
		fputc((unsigned char)*s < 0x20 || *s == 0x7f ? ' ' : *s, f);
}

static void print_counts(uint64_t samples, uint64_t series, uint64_t lines, uint64_t rejected)
{
	printf("%" PRIu64 " samples stored (%" PRIu64 " new series) from %" PRIu64 " lines", samples, series, lines);
	if (rejected)
		printf("; %" PRIu64 " lines rejected", rejected);
	putchar('\n');
}

/* Judges the endpoint's answer; returns the exit status. */
static int report(const char *url, long status, const struct vg_buf *body, const struct vg_buf *headers,
		  bool is_quiet)
{
	json_error_t jerr;
	json_t *doc, *data, *list, *e;
	const char *st;
	uint64_t samples = 0, series = 0, lines = 0, rejected = 0;
	size_t i;
	int rc;

	if (status == 204) {
		header_u64(headers, "X-Vigil-Samples", &samples);
		header_u64(headers, "X-Vigil-Series-Created", &series);
		header_u64(headers, "X-Vigil-Lines", &lines);
		if (!is_quiet)
			print_counts(samples, series, lines, 0);
		return EXIT_OK;
	}
	doc = json_loadb(vg_buf_cstr(body), body->len, 0, &jerr);
	st = json_string_value(json_object_get(doc, "status"));
	if (doc == NULL || st == NULL) {
		fprintf(stderr, "vigil: unexpected response from %s: HTTP %ld\n", url, status);
		json_decref(doc);
		return EXIT_UNREACHABLE;
	}
	data = json_object_get(doc, "data");
	if (strcmp(st, "error") == 0) {
		const char *type = json_string_value(json_object_get(doc, "errorType"));
		const char *msg = json_string_value(json_object_get(doc, "error"));

		fputs("vigil: server error (", stderr);
		put_clean(stderr, type ? type : "unknown");
		fputs("): ", stderr);
		put_clean(stderr, msg ? msg : "(no message)");
		fputc('\n', stderr);
		rc = EXIT_REFUSED;
	} else {
		rc = status == 200 ? EXIT_OK : EXIT_UNREACHABLE;
	}
	if (json_is_object(data)) {
		samples = member_u64(data, "samples");
		series = member_u64(data, "series_created");
		lines = member_u64(data, "lines");
		rejected = member_u64(data, "rejected_lines");
		print_counts(samples, series, lines, rejected);
		list = json_object_get(data, "rejected");
		json_array_foreach(list, i, e) {
			const char *why = json_string_value(json_object_get(e, "error"));
			printf("  line %" PRIu64 ": ", member_u64(e, "line"));
			put_clean(stdout, why ? why : "?");
			putchar('\n');
		}
		if (json_is_array(list) && rejected > json_array_size(list))
			printf("  (and %" PRIu64 " more)\n", rejected - (uint64_t)json_array_size(list));
		if (rejected && rc == EXIT_OK)
			rc = EXIT_REFUSED;
	}
	json_decref(doc);
	fflush(stdout);
	return rc;
}

static int post(const struct vg_http_client *client, const char *path_and_query, struct vg_http_upload *up,
		bool is_quiet)
{
	struct vg_buf body = VG_BUF_INIT, headers = VG_BUF_INIT, url = VG_BUF_INIT;
	struct vg_err err = { 0 };
	long status = 0;
	int rc;

	rc = vg_http_post(client, path_and_query, up, &status, &body, &headers, &err);
	if (rc != 0) {
		fprintf(stderr, "vigil: %s\n", err.msg);
		rc = rc == VG_EIO && strncmp(err.msg, "reading", 7) != 0 ? EXIT_UNREACHABLE : EXIT_REFUSED;
		goto out;
	}
	vg_buf_printf(&url, "%s%s", client->server, IMPORT_PATH);
	rc = report(vg_buf_cstr(&url), status, &body, &headers, is_quiet);
out:
	vg_buf_release(&body);
	vg_buf_release(&headers);
	vg_buf_release(&url);
	return rc;
}

int vg_cli_import(const struct vg_http_client *client, const char *path, FILE *progress)
{
	struct source src = { .fd = 0, .name = "stdin", .size_bytes = -1, .progress = progress };
	struct vg_http_upload up = { "text/plain; version=0.0.4", -1, read_source, on_progress, &src };
	struct stat st;
	int rc;

	if (strcmp(path, "-") != 0) {
		src.fd = open(path, O_RDONLY | O_CLOEXEC);
		src.name = path;
		if (src.fd < 0) {
			fprintf(stderr, "vigil: cannot open %s: %s\n", path, strerror(errno));
			return EXIT_REFUSED;
		}
	}
	if (fstat(src.fd, &st) == 0 && S_ISREG(st.st_mode))
		src.size_bytes = (int64_t)st.st_size;
	up.size_bytes = src.size_bytes;
	src.start_ms = src.last_ms = vg_clock_mono_ms();
	rc = post(client, IMPORT_PATH, &up, false);
	if (src.progress && src.has_drawn) {
		draw(&src, true);
		fputc('\n', src.progress);
	}
	if (src.read_errno)
		fprintf(stderr, "vigil: reading %s: %s\n", src.name, strerror(src.read_errno));
	if (src.fd != 0)
		close(src.fd);
	return rc;
}

/* push's one line, checked by the parser the receiver runs. */
struct one_line {
	int n_samples;
	char reason[VG_ERR_MSG_MAX];
};

static int push_sample(void *arg, const struct vg_exposition_sample *s)
{
	struct one_line *l = arg;

	(void)s;
	l->n_samples++;
	return 0;
}

static int push_error(void *arg, uint64_t line, int code, const char *reason)
{
	struct one_line *l = arg;

	(void)line;
	(void)code;
	snprintf(l->reason, sizeof(l->reason), "%s", reason);
	return 0;
}

struct mem {
	const struct vg_buf *b;
	size_t off;
};

static long read_mem(void *arg, char *buf, size_t cap)
{
	struct mem *m = arg;
	size_t n = m->b->len - m->off;

	if (n > cap)
		n = cap;
	memcpy(buf, m->b->data + m->off, n);
	m->off += n;
	return (long)n;
}

int vg_cli_push(const struct vg_http_client *client, int argc, char **argv)
{
	struct vg_exposition_config cfg = { 0 };
	struct vg_exposition *p = NULL;
	struct one_line chk = { 0, "" };
	struct vg_buf line = VG_BUF_INIT;
	struct vg_err err = { 0 };
	struct mem m = { &line, 0 };
	struct vg_http_upload up = { "text/plain; version=0.0.4", 0, read_mem, NULL, &m };
	double v;
	int64_t ts_ms = 0;
	int rc;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "vigil: push: %s\nTry 'vigil push --help'.\n",
			argc < 2 ? "needs SERIES and VALUE" : "unexpected argument after TIME");
		return EXIT_USAGE;
	}
	if (vg_exposition_parse_value(argv[1], strlen(argv[1]), &v) != 0) {
		fprintf(stderr, "vigil: push: invalid VALUE \"%s\" (a number, NaN, +Inf or -Inf)\n", argv[1]);
		return EXIT_USAGE;
	}
	if (argc == 3 && vg_time_parse(argv[2], &ts_ms, &err) != 0) {
		fprintf(stderr, "vigil: push: invalid TIME: %s\n", err.msg);
		return EXIT_USAGE;
	}
	vg_buf_puts(&line, argv[0]);
	vg_buf_printf(&line, " %s", argv[1]);
	if (argc == 3)
		vg_buf_printf(&line, " %" PRId64, ts_ms);
	vg_buf_putc(&line, '\n');
	if (vg_buf_failed(&line) || memchr(argv[0], '\n', strlen(argv[0])) != NULL) {
		fprintf(stderr, "vigil: push: %s\n", vg_buf_failed(&line) ? "out of memory" : "SERIES holds a newline");
		rc = vg_buf_failed(&line) ? EXIT_REFUSED : EXIT_USAGE;
		goto out;
	}
	cfg.on_sample = push_sample;
	cfg.on_error = push_error;
	cfg.ctx = &chk;
	if (vg_exposition_new(&cfg, &p, &err) != 0 || vg_exposition_feed(p, line.data, line.len) != 0 ||
	    vg_exposition_finish(p) != 0) {
		fputs("vigil: push: out of memory\n", stderr);
		rc = EXIT_REFUSED;
		goto out;
	}
	if (chk.n_samples != 1) {
		fprintf(stderr, "vigil: push: invalid SERIES \"%s\": %s\n", argv[0],
			chk.reason[0] ? chk.reason : "not one sample");
		rc = EXIT_USAGE;
		goto out;
	}
	up.size_bytes = (int64_t)line.len;
	rc = post(client, IMPORT_PATH, &up, true);
out:
	vg_exposition_free(p);
	vg_buf_release(&line);
	return rc;
}
