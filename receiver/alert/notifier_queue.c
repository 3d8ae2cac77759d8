/*
 * notifier_queue.c: the delivery queue, the notification log and the
 * delivery thread.
 *
 * Files under data_dir/alerting (docs/notifier.md has their formats):
 *   queue/<id>.json  one decided notification: the receiver, the
 *                    integration, the webhook v4 message and the log
 *                    entries it stands for; published atomically when
 *                    the notification is decided;
 *   nlog.jsonl       the notification log: one JSON object a line,
 *                    {"id","groupKey","receiver","integration",
 *                    "fingerprint","state","startsAt","sentAt"}, appended
 *                    and fdatasynced when a notification is done; keyed
 *                    by (groupKey = route and group, receiver and
 *                    integration, fingerprint, state), independent of
 *                    this process, so a cluster could merge logs.
 *
 * Exactly once: a queue file is written before the decision counts; the
 * log lines are written after the peer answered, then the queue file is
 * removed. At start every queue file whose id is in the log is removed
 * unsent; every other one is sent. The window left is a crash between a
 * peer's 2xx and the log's fdatasync, which resends (at least once).
 * In memory the log also holds the entries of queued notifications, so
 * the dispatcher does not decide one twice.
 */
#include "receiver/alert/notifier_int.h"

#include "common/series.h"
#include "receiver/alert/payload_json.h"

#include "common/buf.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/banned.h"

#define NLOG_RETENTION_MS (5LL * 24 * 3600 * 1000)
#define MAX_RECORD (2u << 20)

struct nt_job {
	char id[40];
	char path[4600];
	const struct nt_receiver *receiver;
	uint32_t integration;
	struct vg_payload p;
	size_t n_log;
	struct nt_nlog_entry *log; /* owned strings */
	bool is_log_only;
	uint32_t attempts;
	int64_t next_mono_ms;
};

static void entry_release(struct nt_nlog_entry *e)
{
	free(e->group_key);
	free(e->receiver);
}

static void job_free(struct nt_job *j)
{
	if (j == NULL)
		return;
	vg_payload_release(&j->p);
	for (size_t i = 0; i < j->n_log; i++)
		entry_release(&j->log[i]);
	free(j->log);
	free(j);
}

/* --- the log in memory (under mu) ------------------------------------ */

const struct nt_nlog_entry *nt_nlog_find(const struct vg_notifier *n, const char *group_key, const char *receiver,
					 uint32_t integration, uint64_t fp)
{
	for (size_t i = n->n_nlog; i-- > 0;) {
		const struct nt_nlog_entry *e = &n->nlog[i];
		if (e->fp == fp && e->integration == integration && strcmp(e->group_key, group_key) == 0 &&
		    strcmp(e->receiver, receiver) == 0)
			return e;
	}
	return NULL;
}

/* Sets the entry for e's key to e (copied). */
static int nlog_put(struct vg_notifier *n, const struct nt_nlog_entry *e)
{
	struct nt_nlog_entry *old = (struct nt_nlog_entry *)nt_nlog_find(n, e->group_key, e->receiver, e->integration, e->fp);
	char *g = strdup(e->group_key), *r = strdup(e->receiver);

	if (!g || !r) {
		free(g);
		free(r);
		return VG_ENOMEM;
	}
	if (old) {
		entry_release(old);
		*old = *e;
		old->group_key = g;
		old->receiver = r;
		return 0;
	}
	if (n->n_nlog == n->cap_nlog) {
		size_t cap = n->cap_nlog ? n->cap_nlog * 2 : 64;
		struct nt_nlog_entry *v = realloc(n->nlog, cap * sizeof(*v));
		if (!v) {
			free(g);
			free(r);
			return VG_ENOMEM;
		}
		n->nlog = v;
		n->cap_nlog = cap;
	}
	n->nlog[n->n_nlog] = *e;
	n->nlog[n->n_nlog].group_key = g;
	n->nlog[n->n_nlog].receiver = r;
	n->n_nlog++;
	return 0;
}

static void entry_json(struct vg_buf *b, const char *id, const struct nt_nlog_entry *e)
{
	char fp[17];

	vg_alert_fingerprint_hex(e->fp, fp);
	vg_buf_puts(b, "{\"id\":");
	vg_payload_str(b, id);
	vg_buf_puts(b, ",\"groupKey\":");
	vg_payload_str(b, e->group_key);
	vg_buf_puts(b, ",\"receiver\":");
	vg_payload_str(b, e->receiver);
	vg_buf_printf(b, ",\"integration\":%" PRIu32 ",\"fingerprint\":\"%s\",\"state\":\"%s\",\"startsAt\":%" PRId64
			 ",\"sentAt\":%" PRId64 "}",
		      e->integration, fp, e->is_firing ? "firing" : "resolved", e->starts_ms, e->sent_ms);
}

static int entry_from_json(const json_t *o, struct nt_nlog_entry *e, const char **id)
{
	const json_t *fp = json_object_get(o, "fingerprint"), *st = json_object_get(o, "state");
	const json_t *gk = json_object_get(o, "groupKey"), *rc = json_object_get(o, "receiver");
	const json_t *in = json_object_get(o, "integration"), *sa = json_object_get(o, "startsAt");
	const json_t *se = json_object_get(o, "sentAt"), *jid = json_object_get(o, "id");
	char *end;

	memset(e, 0, sizeof(*e));
	if (!json_is_string(fp) || !json_is_string(st) || !json_is_string(gk) || !json_is_string(rc) ||
	    !json_is_integer(in) || !json_is_integer(sa) || !json_is_integer(se) || json_integer_value(in) < 0 ||
	    json_integer_value(in) > UINT32_MAX)
		return VG_EINVAL;
	e->fp = strtoull(json_string_value(fp), &end, 16);
	if (*end != '\0' || json_string_length(fp) != 16)
		return VG_EINVAL;
	e->is_firing = strcmp(json_string_value(st), "firing") == 0;
	e->group_key = (char *)json_string_value(gk); /* borrowed until nlog_put copies */
	e->receiver = (char *)json_string_value(rc);
	e->integration = (uint32_t)json_integer_value(in);
	e->starts_ms = json_integer_value(sa);
	e->sent_ms = json_integer_value(se);
	if (id)
		*id = json_is_string(jid) ? json_string_value(jid) : "";
	return 0;
}

/* --- files -------------------------------------------------------------- */

static int append_log(struct vg_notifier *n, const struct nt_job *j, struct vg_err *err)
{
	struct vg_buf b = VG_BUF_INIT;
	int r = 0;

	for (size_t i = 0; i < j->n_log; i++) {
		entry_json(&b, j->id, &j->log[i]);
		vg_buf_putc(&b, '\n');
	}
	if (vg_buf_failed(&b))
		r = vg_err_set(err, VG_ENOMEM, "out of memory");
	else if (vg_fs_write_all(NULL, n->nlog_fd, b.data, b.len) != 0 || vg_fs_fdatasync(NULL, n->nlog_fd) != 0)
		r = vg_err_set(err, VG_EIO, "%s/nlog.jsonl: %s", n->dir, strerror(errno));
	vg_buf_release(&b);
	return r;
}

int nt_publish_file(const char *path, const struct vg_buf *b, struct vg_err *err)
{
	char tmp[4700];
	int fd, r;

	if (vg_buf_failed(b))
		return vg_err_set(err, VG_ENOMEM, "out of memory");
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return vg_err_set(err, VG_EIO, "%s: %s", tmp, strerror(errno));
	if (vg_fs_write_all(NULL, fd, b->data, b->len) != 0) {
		r = vg_err_set(err, VG_EIO, "%s: %s", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		return r;
	}
	r = vg_fs_publish(NULL, fd, tmp, path, err);
	close(fd);
	return r;
}

static int write_job(const struct nt_job *j, const struct vg_notification *nt, struct vg_err *err)
{
	struct vg_buf b = VG_BUF_INIT;
	int r;

	vg_buf_puts(&b, "{\"id\":");
	vg_payload_str(&b, j->id);
	vg_buf_puts(&b, ",\"receiver\":");
	vg_payload_str(&b, j->receiver->name);
	vg_buf_printf(&b, ",\"integration\":%" PRIu32 ",\"logOnly\":%s,\"log\":[", j->integration,
		      j->is_log_only ? "true" : "false");
	for (size_t i = 0; i < j->n_log; i++) {
		if (i)
			vg_buf_putc(&b, ',');
		entry_json(&b, j->id, &j->log[i]);
	}
	vg_buf_puts(&b, "],\"payload\":");
	vg_payload_encode(nt, &b);
	vg_buf_puts(&b, "}\n");
	r = nt_publish_file(j->path, &b, err);
	vg_buf_release(&b);
	return r;
}

static int push_job(struct vg_notifier *n, struct nt_job *j)
{
	pthread_mutex_lock(&n->qmu);
	if (n->n_jobs == n->cap_jobs) {
		size_t cap = n->cap_jobs ? n->cap_jobs * 2 : 16;
		struct nt_job **v = realloc(n->jobs, cap * sizeof(*v));
		if (!v) {
			pthread_mutex_unlock(&n->qmu);
			return VG_ENOMEM;
		}
		n->jobs = v;
		n->cap_jobs = cap;
	}
	n->jobs[n->n_jobs++] = j;
	pthread_cond_signal(&n->qcond);
	pthread_mutex_unlock(&n->qmu);
	return 0;
}

int nt_enqueue(struct vg_notifier *n, const struct nt_receiver *rc, uint32_t integration,
	       const struct vg_notification *nt, const struct nt_nlog_entry *e, size_t n_e, bool is_log_only,
	       struct vg_err *err)
{
	struct nt_job *j = calloc(1, sizeof(*j));
	int r;

	if (j == NULL)
		return vg_err_set(err, VG_ENOMEM, "out of memory");
	snprintf(j->id, sizeof(j->id), "%016" PRIx64 "-%08" PRIx32, n->next_job_seq++, (uint32_t)vg_random_u64());
	snprintf(j->path, sizeof(j->path), "%s/queue/%s.json", n->dir, j->id);
	j->receiver = rc;
	j->integration = integration;
	j->is_log_only = is_log_only;
	j->log = calloc(n_e + 1, sizeof(*j->log));
	if (j->log == NULL) {
		job_free(j);
		return vg_err_set(err, VG_ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < n_e; i++) {
		j->log[i] = e[i];
		j->log[i].group_key = strdup(e[i].group_key);
		j->log[i].receiver = strdup(e[i].receiver);
		j->n_log = i + 1;
		if (!j->log[i].group_key || !j->log[i].receiver) {
			job_free(j);
			return vg_err_set(err, VG_ENOMEM, "out of memory");
		}
	}
	if ((r = write_job(j, nt, err)) != 0) {
		job_free(j);
		return r;
	}
	/* The decision is durable: it counts from now on. */
	for (size_t i = 0; i < j->n_log; i++)
		if (nlog_put(n, &j->log[i]) != 0) {
			job_free(j);
			return vg_err_set(err, VG_ENOMEM, "out of memory");
		}
	/* The message is sent as decoded from the file's own encoder, so
	 * what goes out after a restart is what would have gone out now. */
	{
		struct vg_buf b = VG_BUF_INIT;
		vg_payload_encode(nt, &b);
		r = vg_buf_failed(&b) ? vg_err_set(err, VG_ENOMEM, "out of memory")
				      : vg_payload_decode((const char *)b.data, b.len, &j->p, err);
		vg_buf_release(&b);
	}
	if (r != 0 || push_job(n, j) != 0) {
		/* Left on disk: sent at the next start. */
		job_free(j);
		return r ? r : vg_err_set(err, VG_ENOMEM, "out of memory");
	}
	return 0;
}

/* Reads one queue file into a job; VG_ENOENT when it is already logged. */
static int load_job(struct vg_notifier *n, const char *path, const json_t *done_ids, struct nt_job **out,
		    struct vg_err *err)
{
	json_error_t je;
	json_t *o = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
	const json_t *id, *rc, *in, *log, *lo;
	struct nt_job *j = NULL;
	int r = VG_EINVAL;

	*out = NULL;
	if (o == NULL)
		return vg_err_set(err, VG_EINVAL, "%s: %s", path, je.text);
	id = json_object_get(o, "id");
	rc = json_object_get(o, "receiver");
	in = json_object_get(o, "integration");
	log = json_object_get(o, "log");
	lo = json_object_get(o, "logOnly");
	if (!json_is_string(id) || json_string_length(id) >= sizeof(j->id) || !json_is_string(rc) ||
	    !json_is_integer(in) || !json_is_array(log) || json_array_size(log) > 100000) {
		r = vg_err_set(err, VG_EINVAL, "%s: not a queued notification", path);
		goto out;
	}
	if (json_object_get(done_ids, json_string_value(id)) != NULL) {
		r = VG_ENOENT;
		goto out;
	}
	j = calloc(1, sizeof(*j));
	if (j == NULL || (j->log = calloc(json_array_size(log) + 1, sizeof(*j->log))) == NULL) {
		r = vg_err_set(err, VG_ENOMEM, "out of memory");
		goto out;
	}
	snprintf(j->id, sizeof(j->id), "%s", json_string_value(id));
	snprintf(j->path, sizeof(j->path), "%s", path);
	j->receiver = nt_tree_receiver(n->tree, json_string_value(rc));
	j->integration = (uint32_t)json_integer_value(in);
	j->is_log_only = json_is_true(lo);
	if (j->receiver == NULL || json_integer_value(in) < 0 || (size_t)json_integer_value(in) >= j->receiver->n) {
		r = vg_err_set(err, VG_EINVAL, "%s: receiver \"%s\" (integration %lld) is no longer configured", path,
			       vg_conf_printable(json_string_value(rc), "?"), (long long)json_integer_value(in));
		goto out;
	}
	for (size_t i = 0; i < json_array_size(log); i++) {
		struct nt_nlog_entry e;
		if (entry_from_json(json_array_get(log, i), &e, NULL) != 0) {
			r = vg_err_set(err, VG_EINVAL, "%s: log entry %zu is damaged", path, i);
			goto out;
		}
		j->log[i] = e;
		j->log[i].group_key = strdup(e.group_key);
		j->log[i].receiver = strdup(e.receiver);
		j->n_log = i + 1;
		if (!j->log[i].group_key || !j->log[i].receiver) {
			r = vg_err_set(err, VG_ENOMEM, "out of memory");
			goto out;
		}
	}
	if ((r = vg_pj_payload(json_object_get(o, "payload"), &j->p, err)) != 0) {
		vg_err_prefix(err, "%s: payload", path);
		goto out;
	}
	*out = j;
	j = NULL;
	r = 0;
out:
	job_free(j);
	json_decref(o);
	return r;
}

int nt_queue_open(struct vg_notifier *n, struct vg_err *err)
{
	char path[4600], qdir[4200];
	json_t *done = json_object();
	FILE *f = NULL;
	DIR *d = NULL;
	struct dirent *de;
	char *line = NULL;
	size_t cap = 0;
	int64_t now = nt_now(n);
	struct nt_job **loaded = NULL;
	size_t n_loaded = 0;
	int r = 0;

	if (done == NULL)
		return vg_err_set(err, VG_ENOMEM, "out of memory");
	snprintf(qdir, sizeof(qdir), "%s/queue", n->dir);
	if ((r = vg_fs_mkdir_p(qdir, NULL, err)) != 0)
		goto out;
	/* The log: the newest entry per key, and the ids already done. */
	snprintf(path, sizeof(path), "%s/nlog.jsonl", n->dir);
	f = fopen(path, "re");
	while (f != NULL) {
		ssize_t len = getline(&line, &cap, f);
		json_t *o;
		struct nt_nlog_entry e;
		const char *id;

		if (len < 0)
			break;
		if ((size_t)len > MAX_RECORD)
			continue;
		o = json_loadb(line, (size_t)len, 0, NULL);
		/* A torn last line (a crash mid-append) is skipped: its
		 * notification's queue file is still there and is resent. */
		if (o != NULL && entry_from_json(o, &e, &id) == 0 && now - e.sent_ms < NLOG_RETENTION_MS) {
			json_object_set_new(done, id, json_true());
			if (nlog_put(n, &e) != 0) {
				json_decref(o);
				r = vg_err_set(err, VG_ENOMEM, "out of memory");
				goto out;
			}
		}
		json_decref(o);
	}
	if (f)
		fclose(f);
	f = NULL;
	/* Queue files logged as done go first: the compacted log below
	 * drops the ids that tell them apart. */
	d = opendir(qdir);
	while (d != NULL && (de = readdir(d)) != NULL) {
		struct nt_job *j;
		size_t len = strlen(de->d_name);
		struct vg_err jerr;

		if (len < 6 || strcmp(de->d_name + len - 5, ".json") != 0) {
			if (len > 4 && strcmp(de->d_name + len - 4, ".tmp") == 0) {
				snprintf(path, sizeof(path), "%s/%s", qdir, de->d_name);
				unlink(path); /* never published: never decided */
			}
			continue;
		}
		snprintf(path, sizeof(path), "%s/%s", qdir, de->d_name);
		r = load_job(n, path, done, &j, &jerr);
		if (r == VG_ENOENT) {
			unlink(path);
			continue;
		}
		if (r != 0) {
			vg_log(VG_LOG_ERROR, "notification queue: %s; left in place, not sent", jerr.msg);
			r = 0;
			continue;
		}
		{
			uint64_t seq = strtoull(j->id, NULL, 16);
			if (seq >= n->next_job_seq)
				n->next_job_seq = seq + 1;
		}
		{
			struct nt_job **v = realloc(loaded, (n_loaded + 1) * sizeof(*v));
			if (v == NULL) {
				job_free(j);
				r = vg_err_set(err, VG_ENOMEM, "out of memory");
				goto out;
			}
			loaded = v;
			loaded[n_loaded++] = j;
		}
	}
	snprintf(path, sizeof(path), "%s/nlog.jsonl", n->dir);
	/* Compact: rewrite the newest entries, publish, reopen to append. */
	{
		struct vg_buf b = VG_BUF_INIT;

		for (size_t i = 0; i < n->n_nlog; i++) {
			entry_json(&b, "", &n->nlog[i]);
			vg_buf_putc(&b, '\n');
		}
		r = nt_publish_file(path, &b, err);
		vg_buf_release(&b);
		if (r != 0)
			goto out;
	}
	n->nlog_fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (n->nlog_fd < 0) {
		r = vg_err_set(err, VG_EIO, "%s: %s", path, strerror(errno));
		goto out;
	}
	/* Pending notifications count as decided (their entries join the
	 * log in memory only) and are sent now. */
	for (; n_loaded > 0; n_loaded--) {
		struct nt_job *j = loaded[n_loaded - 1];
		for (size_t i = 0; i < j->n_log; i++)
			if (nlog_put(n, &j->log[i]) != 0) {
				r = vg_err_set(err, VG_ENOMEM, "out of memory");
				goto out;
			}
		vg_log(VG_LOG_INFO, "notification queue: %s for receiver %s is sent after the restart", j->id,
		       j->receiver->name);
		if (push_job(n, j) != 0) {
			r = vg_err_set(err, VG_ENOMEM, "out of memory");
			goto out;
		}
	}
out:
	for (size_t i = 0; i < n_loaded; i++)
		job_free(loaded[i]);
	free(loaded);
	if (d)
		closedir(d);
	if (f)
		fclose(f);
	free(line);
	json_decref(done);
	return r;
}

void nt_queue_close(struct vg_notifier *n)
{
	for (size_t i = 0; i < n->n_jobs; i++)
		job_free(n->jobs[i]);
	free(n->jobs);
	n->jobs = NULL;
	n->n_jobs = 0;
	for (size_t i = 0; i < n->n_nlog; i++)
		entry_release(&n->nlog[i]);
	free(n->nlog);
	n->nlog = NULL;
	n->n_nlog = 0;
	if (n->nlog_fd >= 0)
		close(n->nlog_fd);
	n->nlog_fd = -1;
}

/* --- the delivery thread ----------------------------------------------- */

static void finish(struct vg_notifier *n, struct nt_job *j)
{
	struct vg_err err;

	pthread_mutex_lock(&n->mu);
	if (append_log(n, j, &err) != 0)
		vg_log(VG_LOG_ERROR, "notification log: %s (the notification may be sent again after a restart)",
		       err.msg);
	pthread_mutex_unlock(&n->mu);
	if (unlink(j->path) != 0 && errno != ENOENT)
		vg_log(VG_LOG_WARN, "notification queue: cannot remove %s: %s", j->path, strerror(errno));
}

static int64_t backoff_ms(const struct vg_notifier *n, uint32_t attempts, int64_t retry_after_ms)
{
	int64_t d = n->retry_initial_ms;

	for (uint32_t i = 1; i < attempts && d < n->retry_max_ms; i++)
		d *= 2;
	if (d > n->retry_max_ms)
		d = n->retry_max_ms;
	if (retry_after_ms > d)
		d = retry_after_ms < 3600 * 1000 ? retry_after_ms : 3600 * 1000;
	return d;
}

void *nt_delivery_main(void *arg)
{
	struct vg_notifier *n = arg;

	pthread_mutex_lock(&n->qmu);
	while (!n->is_stopping) {
		int64_t now = vg_clock_mono_ms(), soonest = INT64_MAX;
		size_t pick = SIZE_MAX;

		for (size_t i = 0; i < n->n_jobs; i++)
			if (n->jobs[i]->next_mono_ms < soonest) {
				soonest = n->jobs[i]->next_mono_ms;
				pick = i;
			}
		if (pick == SIZE_MAX || soonest > now) {
			struct timespec ts;
			int64_t wait = pick == SIZE_MAX ? 1000 : soonest - now;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			ts.tv_sec += wait / 1000;
			ts.tv_nsec += (wait % 1000) * 1000000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			pthread_cond_timedwait(&n->qcond, &n->qmu, &ts);
			continue;
		}
		struct nt_job *j = n->jobs[pick];
		n->jobs[pick] = n->jobs[--n->n_jobs];
		pthread_mutex_unlock(&n->qmu);

		const struct nt_integration *in = &j->receiver->ints[j->integration];
		const struct vg_channel_ops *ops = nt_kinds[in->kind].ops;
		struct vg_channel_result res;
		struct vg_err err;
		bool is_done = true;

		memset(&res, 0, sizeof(res));
		if (j->is_log_only) {
			res.outcome = VG_CHANNEL_OK;
		} else {
			j->p.n.now_ms = nt_now(n); /* a Retry-After date is read against it */
			if (ops->send(in->item, &j->p.n, &res, &err) != 0) {
				res.outcome = VG_CHANNEL_RETRY;
				snprintf(res.detail, sizeof(res.detail), "%.200s", err.msg);
			}
		}
		j->attempts++;
		if (!j->is_log_only) {
			struct nt_int_counters *ic = &j->receiver->counters[j->integration];
			atomic_fetch_add(&ic->requests, 1);
			if (res.outcome != VG_CHANNEL_OK)
				atomic_fetch_add(&ic->failed, 1);
		}
		if (res.outcome == VG_CHANNEL_OK) {
			if (!j->is_log_only)
				atomic_fetch_add(&n->counters[in->kind].sent, 1);
		} else if (res.outcome == VG_CHANNEL_FAIL) {
			atomic_fetch_add(&n->counters[in->kind].failed, 1);
			vg_log(VG_LOG_ERROR, "notification %s to %s (%s): %s; not retried", j->id, j->receiver->name,
			       ops->name, res.detail);
		} else {
			atomic_fetch_add(&n->counters[in->kind].retried, 1);
			j->next_mono_ms = vg_clock_mono_ms() + backoff_ms(n, j->attempts, res.retry_after_ms);
			vg_log(VG_LOG_WARN, "notification %s to %s (%s): %s; retry %u in %lld ms", j->id,
			       j->receiver->name, ops->name, res.detail, j->attempts,
			       (long long)(j->next_mono_ms - vg_clock_mono_ms()));
			is_done = false;
		}
		if (is_done) {
			finish(n, j);
			job_free(j);
			pthread_mutex_lock(&n->qmu);
			continue;
		}
		if (push_job(n, j) != 0) {
			vg_log(VG_LOG_ERROR, "notification %s: out of memory; left for the next start", j->id);
			job_free(j);
		}
		pthread_mutex_lock(&n->qmu);
	}
	pthread_mutex_unlock(&n->qmu);
	return NULL;
}

/* Attempts per receiver and integration: what the default rule
 * VigilNotificationsFailing watches (vigil-rules(5)), so that the alert
 * names the receiver that fails. Every configured integration is listed
 * from the start, at 0, so increase() sees the first failure. */
static void render_requests(struct vg_notifier *n, struct vg_buf *out)
{
	static const char *const names[] = { "vigil_notification_requests_total",
					     "vigil_notification_requests_failed_total" };
	static const char *const help[] = {
		"Delivery attempts, by receiver and integration (channel kind).",
		"Delivery attempts that failed (to be retried, or given up), by receiver and integration.",
	};

	for (size_t k = 0; k < 2; k++) {
		vg_buf_printf(out, "# HELP %s %s\n# TYPE %s counter\n", names[k], help[k], names[k]);
		for (size_t r = 0; r < n->tree->n_receivers; r++) {
			const struct nt_receiver *rc = &n->tree->receivers[r];
			for (size_t i = 0; i < rc->n; i++) {
				uint64_t v = k == 0 ? atomic_load(&rc->counters[i].requests)
						    : atomic_load(&rc->counters[i].failed);
				vg_buf_printf(out, "%s{receiver=\"", names[k]);
				vg_label_value_escape(vg_str_c(rc->name), out);
				vg_buf_printf(out, "\",integration=\"%s\"} %llu\n", nt_kinds[rc->ints[i].kind].ops->name,
					      (unsigned long long)v);
			}
		}
	}
}

void vg_notifier_render_metrics(struct vg_notifier *n, struct vg_buf *out)
{
	static const char *const names[] = { "sent", "failed", "retried" };
	static const char *const help[] = { "Notifications delivered, by channel.",
					    "Notifications given up (a final refusal), by channel.",
					    "Delivery attempts that will be retried, by channel." };
	size_t queued;

	for (size_t k = 0; k < 3; k++) {
		vg_buf_printf(out, "# HELP vigil_notifications_%s_total %s\n# TYPE vigil_notifications_%s_total counter\n",
			      names[k], help[k], names[k]);
		for (size_t i = 0; i < nt_n_kinds; i++) {
			uint64_t v = k == 0 ? atomic_load(&n->counters[i].sent)
					    : k == 1 ? atomic_load(&n->counters[i].failed) : atomic_load(&n->counters[i].retried);
			vg_buf_printf(out, "vigil_notifications_%s_total{channel=\"%s\"} %llu\n", names[k],
				      nt_kinds[i].ops->name, (unsigned long long)v);
		}
	}
	render_requests(n, out);
	pthread_mutex_lock(&n->qmu);
	queued = n->n_jobs;
	pthread_mutex_unlock(&n->qmu);
	vg_buf_printf(out, "# HELP vigil_notifications_queued Notifications decided and not yet delivered.\n"
			   "# TYPE vigil_notifications_queued gauge\nvigil_notifications_queued %zu\n",
		      queued);
}
