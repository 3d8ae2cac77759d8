/*
 * notifier_int.h: what the notifier's parts (notifier*.c) share and
 * nothing outside receiver/alert/ may use. The struct vg_notifier fields
 * are guarded as written beside them.
 */
#ifndef VG_NOTIFIER_INT_H
#define VG_NOTIFIER_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "common/log.h"
#include "common/selector.h"
#include "receiver/alert/channel.h"
#include "receiver/alert/notifier.h"
#include "receiver/alert/payload.h"

struct vg_clock;

/* --- compiled configuration (notifier_config.c, notifier_route.c) ---- */

/* A channel kind: its operations and where a receiver holds its list. */
struct nt_kind {
	const struct vg_channel_ops *ops;
	size_t list_offset;          /* of a struct vg_conf_list in struct vg_receiver_conf */
	size_t item_size;
	size_t send_resolved_offset; /* of a bool in the item */
	size_t max_alerts_offset;    /* of a uint64_t in the item, or SIZE_MAX */
};
extern const struct nt_kind nt_kinds[];
extern const size_t nt_n_kinds;

struct nt_integration {
	size_t kind;      /* index in nt_kinds */
	const void *item; /* borrowed from the configuration */
	bool send_resolved;
	uint64_t max_alerts;
};

/* Delivery attempts of one integration, for /metrics (the only part of
 * a built tree that changes: atomics, bumped by the delivery thread). */
struct nt_int_counters {
	_Atomic uint64_t requests, failed;
};

struct nt_receiver {
	const char *name;
	size_t n;
	struct nt_integration *ints;
	struct nt_int_counters *counters; /* one per ints */
};

struct nt_range {
	int lo, hi; /* inclusive */
};

struct nt_ti_item {
	size_t n_times;
	struct nt_range *times; /* minutes of the day, hi exclusive */
	uint32_t weekdays;      /* bit 0 Sunday; 0: any */
	size_t n_days;
	struct nt_range *days;  /* days of the month; negative from the end */
	uint32_t months;        /* bit 1 January; 0: any */
	size_t n_years;
	struct nt_range *years;
};

struct nt_time_interval {
	const char *name;
	size_t n;
	struct nt_ti_item *items;
};

struct nt_route {
	const struct nt_route *parent;
	struct vg_selector matchers;
	char *key; /* Alertmanager's route key: {} then /{matchers} per level */
	const struct nt_receiver *receiver;
	bool is_group_by_all;
	const struct vg_conf_strlist *group_by; /* borrowed; sorted copy in group_by_sorted */
	char **group_by_sorted;
	size_t n_group_by;
	int64_t group_wait_ms, group_interval_ms, repeat_interval_ms;
	bool is_continue;
	size_t n_children;
	struct nt_route *children;
	size_t n_mute, n_active;
	const struct nt_time_interval **mute, **active;
	size_t n_escalate;                 /* escalate: (notifier_escalate.c) */
	struct nt_escalate_step *escalate; /* sorted by after_ms */
};

struct nt_inhibit {
	struct vg_selector source, target;
	const struct vg_conf_strlist *equal;
};

struct nt_tree {
	struct nt_route root;
	size_t n_receivers;
	struct nt_receiver *receivers;
	size_t n_inhibit;
	struct nt_inhibit *inhibit;
	size_t n_intervals;
	struct nt_time_interval *intervals;
};

int nt_tree_build(const struct vg_alerting_config *c, const char *file, struct nt_tree **out, struct vg_err *err);
void nt_tree_free(struct nt_tree *t);
const struct nt_receiver *nt_tree_receiver(const struct nt_tree *t, const char *name);

/* Parses each text of list into sel (matchers.h). */
int nt_matchers_compile(const struct vg_conf_strlist *list, struct vg_selector *sel, struct vg_err *err);
/* 1 if every matcher holds for labels (absent as ""), 0 if not. */
int nt_matchers_match(const struct vg_selector *sel, const struct vg_conf_labels *labels);
/* The value of name in labels, or "". */
const char *nt_label(const struct vg_conf_labels *labels, const char *name);
/* Leaf routes the labels go to, in order: up to cap into out; the count. */
size_t nt_route_match(const struct nt_route *r, const struct vg_conf_labels *labels, const struct nt_route **out,
		      size_t cap);
/* Whether a route is muted at now (its mute intervals, or outside its
 * active ones). */
bool nt_route_is_muted(const struct nt_route *r, int64_t now_ms);
/* Parses one time interval item's texts (also the field checks). */
int nt_ti_parse(const struct vg_time_interval_item *c, struct nt_ti_item *out, struct vg_err *err);
void nt_ti_release(struct nt_ti_item *t);
bool nt_ti_contains(const struct nt_ti_item *t, int64_t now_ms);

/* --- silences (notifier_silence.c) ----------------------------------- */

struct nt_silence_matcher {
	char *name, *value;
	bool is_regex, is_equal;
};

struct nt_escalate_step {
	int64_t after_ms;
	const struct nt_receiver *receiver;
};

struct nt_silence {
	char id[37];
	size_t n;
	struct nt_silence_matcher *m;
	struct vg_selector sel; /* compiled from m */
	int64_t starts_ms, ends_ms, updated_ms;
	char *created_by, *comment;
};

/* Decodes a postableSilence (the /api/v2/silences body). VG_EINVAL,
 * VG_ELIMIT, VG_ENOMEM with err. */
int nt_silence_decode(const char *body, size_t len, struct nt_silence *s, struct vg_err *err);
int nt_silence_from_json(const json_t *o, struct nt_silence *s, struct vg_err *err);
/* A postableSilence's matchers (also an ack's) into *m (n of them; free
 * with nt_matchers_release, also on failure) and sel. */
int nt_matchers_from_json(const json_t *ms, struct nt_silence_matcher **m, size_t *n, struct vg_selector *sel,
			  struct vg_err *err);
void nt_matchers_release(struct nt_silence_matcher *m, size_t n);
void nt_matchers_encode(const struct nt_silence_matcher *m, size_t n, struct vg_buf *out);
void nt_silence_release(struct nt_silence *s);
/* "pending", "active" or "expired" at now. */
const char *nt_silence_state(const struct nt_silence *s, int64_t now_ms);
void nt_silence_encode(const struct nt_silence *s, int64_t now_ms, struct vg_buf *out);
/* What a silence and an ack are encoded with alike (the API's gettable
 * form, in its field order), the object left open after startsAt. */
struct nt_record {
	const char *id, *state;
	int64_t updated_ms;
	const char *comment, *created_by;
	const char *ends_key; /* "endsAt", "expiresAt" */
	int64_t ends_ms;
	const struct nt_silence_matcher *m;
	size_t n;
	int64_t starts_ms;
};
void nt_record_encode(const struct nt_record *r, struct vg_buf *out);

/* Decodes a list of postableAlerts; *out and *n owned by the caller, free
 * with nt_alerts_free. */
int nt_alerts_decode(const char *body, size_t len, struct vg_notify_alert **out, size_t *n, struct vg_err *err);
void nt_alerts_free(struct vg_notify_alert *a, size_t n);

/* --- the notifier ---------------------------------------------------- */

struct nt_alert {
	struct vg_notify_alert a; /* owned copies; is_firing kept as pushed */
	uint64_t fp;
	int64_t updated_ms;
};

struct nt_group {
	const struct nt_route *route;
	struct vg_conf_labels labels; /* owned */
	char *key;                    /* groupKey */
	size_t n, cap;
	uint64_t *fps;
	int64_t next_flush_ms;
	bool has_flushed;
	int64_t next_escalate_ms; /* 0: none due (notifier_escalate.c) */
};

/* One (route+group, receiver, integration, alert) record of what was
 * notified: the notification log's unit (notifier_queue.c). */
struct nt_nlog_entry {
	char *group_key;
	char *receiver;
	uint32_t integration;
	uint64_t fp;
	bool is_firing;
	int64_t starts_ms;
	int64_t sent_ms;
};

struct nt_job; /* a queued notification (notifier_queue.c) */

struct nt_counters {
	_Atomic uint64_t sent, failed, retried;
};

struct vg_notifier {
	const struct vg_alerting_config *cfg;
	struct nt_tree *tree;
	struct vg_clock *clock;
	char *dir;           /* data_dir/alerting */
	char *external_url;
	int64_t retry_initial_ms, retry_max_ms, tick_ms;

	/* mu guards alerts, groups, silences and the notification log. */
	pthread_mutex_t mu;
	size_t n_alerts, cap_alerts;
	struct nt_alert *alerts;
	size_t n_groups, cap_groups;
	struct nt_group **groups;
	size_t n_silences, cap_silences;
	struct nt_silence *silences;
	size_t n_acks, cap_acks; /* mu; notifier_ack.c */
	struct nt_ack *acks;
	size_t n_nlog, cap_nlog;
	struct nt_nlog_entry *nlog;
	int nlog_fd;
	uint64_t next_job_seq;

	/* qmu guards the queue; qcond wakes the delivery thread. */
	pthread_mutex_t qmu;
	pthread_cond_t qcond;
	size_t n_jobs, cap_jobs;
	struct nt_job **jobs;
	_Atomic bool is_stopping; /* read by both threads */

	pthread_mutex_t tick_mu; /* with tick_cond: the dispatcher's sleep */
	pthread_cond_t tick_cond;
	pthread_t dispatcher, deliverer;
	bool has_threads;

	struct nt_counters *counters; /* one per nt_kinds entry */
	struct vg_complaint no_fallback; /* mu: an alert about a failing receiver had nowhere to go */
};

int64_t nt_now(const struct vg_notifier *n);

/* notifier_queue.c */
/* Writes b (failed: VG_ENOMEM) to path through a temporary file published
 * atomically (common/fs.h). */
int nt_publish_file(const char *path, const struct vg_buf *b, struct vg_err *err);
int nt_queue_open(struct vg_notifier *n, struct vg_err *err);
void nt_queue_close(struct vg_notifier *n);
void *nt_delivery_main(void *arg);
/* Under mu: the newest log entry for the key, or NULL. */
const struct nt_nlog_entry *nt_nlog_find(const struct vg_notifier *n, const char *group_key, const char *receiver,
					 uint32_t integration, uint64_t fp);
/* Under mu: queues notification nt for integration i of receiver rc and
 * records entries (n_e of them, fps and states of every alert of the
 * group) in the log as of now; when is_log_only, records without sending
 * (resolved with send_resolved off). */
int nt_enqueue(struct vg_notifier *n, const struct nt_receiver *rc, uint32_t i, const struct vg_notification *nt,
	       const struct nt_nlog_entry *e, size_t n_e, bool is_log_only, struct vg_err *err);

/* notifier_silence.c: the stores (silences.json, acks.json): a JSON list
 * of count items of item_size, each written by encode, published
 * atomically as dir/name; read back as a list of at most max items (*out
 * NULL when there is no file; path gets its name for messages). */
int nt_store_save(const struct vg_notifier *n, const char *name, const void *items, size_t item_size, size_t count,
		  void (*encode)(const void *item, int64_t now_ms, struct vg_buf *out), struct vg_err *err);
int nt_store_load(const struct vg_notifier *n, const char *name, size_t max, json_t **out, char path[4096],
		  struct vg_err *err);

/* notifier_silence.c: store, under mu */
int nt_silences_load(struct vg_notifier *n, struct vg_err *err);
int nt_silences_save(struct vg_notifier *n, struct vg_err *err);
/* The id of the first active silence muting labels, or NULL. */
const char *nt_silenced_by(const struct vg_notifier *n, const struct vg_conf_labels *labels, int64_t now_ms);

/* notifier_dispatch.c, under mu */
void *nt_dispatch_main(void *arg);
struct nt_alert *nt_alert_find(struct vg_notifier *n, uint64_t fp);
bool nt_alert_is_firing(const struct nt_alert *a, int64_t now_ms);
/* The fingerprint of a firing source alert inhibiting a, or 0 (false). */
bool nt_inhibited_by(const struct vg_notifier *n, const struct nt_alert *a, int64_t now_ms, uint64_t *by);

/* notifier_match.c: match/match_re maps (eq, re; either may be NULL)
 * added to sel as = and =~ matchers; the field check of a _re map; a
 * route's matchers in Alertmanager's order (name, value, operator). */
int nt_match_add(const struct vg_conf_labels *eq, const struct vg_conf_labels *re, struct vg_selector *sel,
		 struct vg_err *err);
int nt_check_match_re(const void *member, struct vg_err *err);
void nt_matchers_sort(struct vg_selector *sel);

/* notifier_global.c: global:'s smtp_* and pagerduty_url into the items
 * that lack them, before they are prepared. */
int nt_global_defaults_apply(struct vg_alerting_config *c, struct vg_err *err);
/* notifier_fallback.c, under mu: the routes an alert goes to, less
 * those whose receiver its label failing_receiver names (an alert about a
 * receiver that fails is never sent only to it); when none is left, the
 * root route if its receiver is another. routes[0..k) in, the count out. */
#define NT_FAILING_RECEIVER_LABEL "failing_receiver"
size_t nt_routes_avoid_failing(struct vg_notifier *n, const struct nt_alert *a, const struct nt_route **routes,
			       size_t k);
/* notifier_dispatch.c, under mu: the dedup decision for one stream of
 * notifications (a receiver under a group key, repeated every repeat_ms)
 * and integration ii, over the group's alerts (is_muted: left out;
 * is_acked: sent along but never the cause of a notification). */
struct nt_stream {
	const struct nt_receiver *receiver;
	const char *key;
	int64_t repeat_ms;
};
void nt_flush_integration(struct vg_notifier *n, const struct nt_group *g, const struct nt_stream *s, uint32_t ii,
			  struct nt_alert **all, size_t n_all, const bool *is_firing, const bool *is_muted,
			  const bool *is_acked, int64_t now);

/* --- acknowledgements (notifier_ack.c) ------------------------------- */

/* At most this many acks in the store, and alerts an ack covers. */
#define NT_MAX_ACKS 100000
#define NT_MAX_ACK_ALERTS 10000

/* One alert an ack covers: its fingerprint and the startsAt of the
 * incident acknowledged; ended once it resolved (or fired anew). */
struct nt_ack_alert {
	uint64_t fp;
	int64_t starts_ms;
	bool is_ended;
};

struct nt_ack {
	char id[37];
	size_t n;
	struct nt_silence_matcher *m;
	struct vg_selector sel;
	int64_t starts_ms, expires_ms, updated_ms;
	char *created_by, *comment;
	size_t n_alerts;
	struct nt_ack_alert *alerts;
};

/* Decodes an ack: is_stored, the store's form (id, startsAt and alerts
 * required); else a POST body (matchers, createdBy, optional comment,
 * expiresAt; the rest ignored). VG_EINVAL, VG_ELIMIT, VG_ENOMEM. */
int nt_ack_decode(const char *body, size_t len, bool is_stored, struct nt_ack *a, struct vg_err *err);
int nt_ack_from_json(const json_t *o, bool is_stored, struct nt_ack *a, struct vg_err *err);
void nt_ack_release(struct nt_ack *a);
/* "active", "resolved" (every alert it covers ended) or "expired". */
const char *nt_ack_state(const struct nt_ack *a, int64_t now_ms);
void nt_ack_encode(const struct nt_ack *a, int64_t now_ms, struct vg_buf *out);

/* Under mu */
int nt_acks_load(struct vg_notifier *n, struct vg_err *err);
int nt_acks_save(struct vg_notifier *n, struct vg_err *err);
/* The ack covering alert a at now (the same incident, not expired), or NULL. */
const struct nt_ack *nt_acked_by(const struct vg_notifier *n, const struct nt_alert *a, int64_t now_ms);
/* Ends the coverage of alerts that resolved or fired anew; saves on a change. */
void nt_acks_tick(struct vg_notifier *n, int64_t now_ms);
/* Drops the acks that ended more than 5 days before now; whether any. */
bool nt_acks_prune(struct vg_notifier *n, int64_t now_ms);
void nt_acks_free(struct vg_notifier *n);
/* /api/v2/acks and /api/v2/ack/{id} (notifier_ack_api.c); -1 if path is
 * neither. */
int nt_ack_http(struct vg_notifier *n, const char *method, const char *path, const char *body, size_t len,
		struct vg_buf *out);

/* notifier_api.c, for the other API files */
int nt_api_error(struct vg_buf *out, int status, const char *msg);
void nt_api_new_id(char out[37]);

/* --- escalation (notifier_escalate.c) -------------------------------- */

/* Under mu: notifies the steps of g's route that are due at now, once
 * per alert and step, over the group's alerts as a flush sees them (as
 * nt_flush_integration's); sets g->next_escalate_ms. */
void nt_escalate_group(struct vg_notifier *n, struct nt_group *g, struct nt_alert **all, size_t n_all,
		       const bool *is_firing, const bool *is_muted, const bool *is_acked, int64_t now);

/* Label set helpers */
int nt_labels_copy(struct vg_conf_labels *dst, const struct vg_conf_labels *src);
int nt_labels_cmp(const struct vg_conf_labels *a, const struct vg_conf_labels *b);

#endif
