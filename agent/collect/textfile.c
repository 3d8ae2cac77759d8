/*
 * textfile.c: the textfile collector, node_exporter's: every *.prom file
 * of a directory, in the Prometheus text format, read through the one
 * parser of that format (common/exposition.h).
 *
 * A file is taken whole or not at all: it is parsed once to check it (a
 * malformed line, a line with a client-side timestamp, or a last line
 * without its newline, as when a writer did not rename into place, all
 * reject it) and only then parsed again into the sink. A rejected file is
 * named with its line and reason in the error the collector returns, and
 * the others are still read. Per file node_textfile_mtime_seconds{file};
 * node_textfile_scrape_error is 1 when any file was rejected, as in
 * node_exporter.
 *
 * Files larger than VG_COLLECT_MAX_FILE_BYTES are rejected; names are
 * taken in byte order so a round's series come in a stable order.
 */
#include "agent/collect/collect.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/exposition.h"
#include "common/series.h"

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/banned.h"

/* A directory with more files than this is read up to it. */
#define MAX_FILES 1024

struct check {
	uint64_t bad_line;
	char reason[160];
};

static int check_sample(void *ctx, const struct vg_exposition_sample *s)
{
	struct check *c = ctx;

	if (s->has_timestamp && c->bad_line == 0) {
		c->bad_line = s->line;
		snprintf(c->reason, sizeof(c->reason), "client-side timestamps are not supported");
	}
	return 0;
}

static int check_error(void *ctx, uint64_t line, int code, const char *reason)
{
	struct check *c = ctx;

	(void)code;
	if (c->bad_line == 0) {
		c->bad_line = line;
		snprintf(c->reason, sizeof(c->reason), "%s", reason);
	}
	return 0;
}

struct emit {
	struct vg_sample_sink *sink;
	struct vg_err *err;
	int rc;
};

static int emit_sample(void *ctx, const struct vg_exposition_sample *s)
{
	struct emit *e = ctx;
	struct vg_series copy = *s->series;

	/* The sink adds the agent's labels to its argument: a copy. */
	e->rc = vg_collect_emit(e->sink, &copy, s->value, e->err);
	return e->rc;
}

/* Parses data with the callbacks of cfg; 0 or what a callback returned. */
static int parse(struct vg_exposition_config *cfg, const char *data, size_t len, struct vg_err *err)
{
	struct vg_exposition *p;
	int rc;

	cfg->needs_final_newline = true;
	if ((rc = vg_exposition_new(cfg, &p, err)) != 0)
		return rc;
	rc = vg_exposition_feed(p, data, len);
	if (rc == 0)
		rc = vg_exposition_finish(p);
	vg_exposition_free(p);
	return rc;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The *.prom names in dir, sorted; caller frees each and the array. */
static int list_files(const char *dir, char ***out, size_t *n, struct vg_err *err)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **v;

	*n = 0;
	if (d == NULL)
		return vg_err_set(err, VG_ENOENT, "cannot open textfile directory %s", dir);
	if ((v = calloc(MAX_FILES, sizeof(*v))) == NULL) {
		closedir(d);
		return vg_err_set(err, VG_ENOMEM, "out of memory");
	}
	while ((e = readdir(d)) != NULL && *n < MAX_FILES) {
		size_t len = strlen(e->d_name);
		if (len <= 5 || strcmp(e->d_name + len - 5, ".prom") != 0 || e->d_name[0] == '.')
			continue;
		if ((v[*n] = strdup(e->d_name)) == NULL)
			break;
		(*n)++;
	}
	closedir(d);
	qsort(v, *n, sizeof(*v), cmp_names);
	*out = v;
	return 0;
}

static int collect_textfile(const struct vg_collect_env *env, struct vg_sample_sink *sink,
			    struct vg_err *err)
{
	char **files = NULL, path[PATH_MAX];
	struct vg_err first_bad; /* the first rejected file, for the returned error */
	size_t n = 0;
	bool has_error = false;
	struct vg_series s;
	int rc = 0;

	if (env->textfile_dir == NULL || env->textfile_dir[0] == '\0')
		return 0;
	if ((rc = list_files(env->textfile_dir, &files, &n, err)) != 0) {
		has_error = true;
		n = 0;
		vg_err_set(&first_bad, rc, "%s", err->msg);
		rc = 0;
	}
	for (size_t i = 0; i < n && rc == 0; i++) {
		struct vg_collect_file f;
		struct check chk = { 0, "" };
		struct vg_exposition_config cfg;
		struct emit em = { sink, err, 0 };
		struct stat st;
		struct vg_err ferr;

		if (vg_collect_path(path, sizeof(path), env->textfile_dir, files[i], &ferr) != 0 ||
		    vg_collect_file_read(&f, path, &ferr) != 0) {
			vg_collect_file_release(&f);
			if (!has_error)
				vg_err_set(&first_bad, VG_EINVAL, "%s", ferr.msg);
			has_error = true;
			continue;
		}
		memset(&cfg, 0, sizeof(cfg));
		cfg.on_sample = check_sample;
		cfg.on_error = check_error;
		cfg.ctx = &chk;
		rc = parse(&cfg, f.data, f.len, &ferr);
		if (rc != 0 || chk.bad_line != 0) {
			if (!has_error)
				vg_err_set(&first_bad, VG_EINVAL, "%s:%llu: %s; the file is skipped", path,
					   (unsigned long long)chk.bad_line, rc != 0 ? ferr.msg : chk.reason);
			has_error = true;
			rc = rc == VG_ENOMEM ? rc : 0;
			vg_collect_file_release(&f);
			continue;
		}
		memset(&cfg, 0, sizeof(cfg));
		cfg.on_sample = emit_sample;
		cfg.ctx = &em;
		rc = parse(&cfg, f.data, f.len, err);
		vg_collect_file_release(&f);
		if (rc != 0)
			break;
		if (stat(path, &st) == 0) {
			vg_series_init(&s, "node_textfile_mtime_seconds");
			vg_series_add(&s, "file", files[i]);
			rc = vg_collect_emit(sink, &s, (double)st.st_mtim.tv_sec + st.st_mtim.tv_nsec / 1e9, err);
		}
	}
	if (rc == 0) {
		vg_series_init(&s, "node_textfile_scrape_error");
		rc = vg_collect_emit(sink, &s, has_error ? 1 : 0, err);
	}
	for (size_t i = 0; i < n; i++)
		free(files[i]);
	free(files);
	if (rc == 0 && has_error)
		rc = vg_err_set(err, VG_EINVAL, "%s", first_bad.msg);
	return rc;
}

const struct vg_collector vg_collector_textfile = { "textfile", collect_textfile };
