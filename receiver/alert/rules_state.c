/*
 * rules_state.c: one alerting rule's instances and their transitions
 * (rules_state.h).
 *
 * Instances live in an array in the order they first appeared, with an
 * open-addressing index on the fingerprint (rebuilt when positions move);
 * lookups compare the fingerprint, then the labels, so two label sets
 * with the same fingerprint stay distinct instances. Without an index (it
 * could not be allocated) lookups search the array.
 */
#include "receiver/alert/rules_state.h"
#include "receiver/alert/alert.h"

#include "common/err.h"

#include <stdlib.h>
#include <string.h>

#include "common/banned.h"

const char *vg_alert_state_name(enum vg_alert_state s)
{
	switch (s) {
	case VG_ALERT_PENDING: return "pending";
	case VG_ALERT_FIRING: return "firing";
	default: return "inactive";
	}
}

int vg_alert_labels_copy(const struct vg_conf_labels *from, struct vg_conf_labels *to)
{
	struct vg_conf_labels l = { 0, NULL, NULL };

	if (from->n) {
		l.names = calloc(from->n, sizeof(*l.names));
		l.values = calloc(from->n, sizeof(*l.values));
		if (l.names == NULL || l.values == NULL)
			goto fail;
		for (; l.n < from->n; l.n++) {
			l.names[l.n] = strdup(from->names[l.n]);
			l.values[l.n] = strdup(from->values[l.n]);
			if (l.names[l.n] == NULL || l.values[l.n] == NULL) {
				l.n++;
				goto fail;
			}
		}
	}
	*to = l;
	return 0;
fail:
	vg_conf_labels_release(&l);
	return VG_ENOMEM;
}

static bool labels_equal(const struct vg_conf_labels *a, const struct vg_conf_labels *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->names[i], b->names[i]) != 0 || strcmp(a->values[i], b->values[i]) != 0)
			return false;
	return true;
}

static void inst_release(struct vg_alert_inst *in)
{
	vg_conf_labels_release(&in->labels);
	vg_conf_labels_release(&in->annotations);
}

/* Puts instance i in the index (which has room). */
static void slot_put(struct vg_alert_table *t, size_t i)
{
	size_t mask = t->cap_slots - 1, h = (size_t)t->v[i].fp & mask;

	while (t->slots[h] != 0)
		h = (h + 1) & mask;
	t->slots[h] = (uint32_t)(i + 1);
}

/* An index for at least want instances at half load; 0 or VG_ENOMEM. */
static int reindex(struct vg_alert_table *t, size_t want)
{
	size_t cap = 16;

	while (cap < 2 * want)
		cap *= 2;
	if (cap != t->cap_slots) {
		uint32_t *s = realloc(t->slots, cap * sizeof(*s));
		if (s == NULL) {
			/* No index: lookups search the array. */
			free(t->slots);
			t->slots = NULL;
			t->cap_slots = 0;
			return VG_ENOMEM;
		}
		t->slots = s;
		t->cap_slots = cap;
	}
	memset(t->slots, 0, t->cap_slots * sizeof(*t->slots));
	for (size_t i = 0; i < t->n; i++)
		slot_put(t, i);
	return 0;
}

void vg_alert_table_begin(struct vg_alert_table *t)
{
	for (size_t i = 0; i < t->n; i++) {
		t->v[i].is_seen = false;
		t->v[i].is_held = false;
	}
	(void)reindex(t, t->n); /* without one, observe searches the array */
}

static struct vg_alert_inst *find(struct vg_alert_table *t, uint64_t fp, const struct vg_conf_labels *labels)
{
	if (t->slots != NULL && t->cap_slots >= 2 * t->n) {
		size_t mask = t->cap_slots - 1;
		for (size_t h = (size_t)fp & mask; t->slots[h] != 0; h = (h + 1) & mask) {
			struct vg_alert_inst *in = &t->v[t->slots[h] - 1];
			if (in->fp == fp && labels_equal(&in->labels, labels))
				return in;
		}
		return NULL;
	}
	for (size_t i = 0; i < t->n; i++)
		if (t->v[i].fp == fp && labels_equal(&t->v[i].labels, labels))
			return &t->v[i];
	return NULL;
}

static int grow(struct vg_alert_table *t)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 8;
		struct vg_alert_inst *v = realloc(t->v, cap * sizeof(*v));
		if (v == NULL)
			return VG_ENOMEM;
		t->v = v;
		t->cap = cap;
	}
	return 0;
}

int vg_alert_table_observe(struct vg_alert_table *t, const struct vg_conf_labels *labels,
			   const struct vg_conf_labels *annotations, double value, int64_t ts_ms,
			   struct vg_err *err)
{
	uint64_t fp = vg_alert_fingerprint(labels);
	struct vg_conf_labels ann;
	struct vg_alert_inst *in = NULL;

	in = find(t, fp, labels);
	if (in != NULL && in->is_seen)
		return vg_err_set(err, VG_EINVAL,
				  "vector contains metrics with the same labelset after applying alert labels");
	if (vg_alert_labels_copy(annotations, &ann) != 0)
		return vg_err_set(err, VG_ENOMEM, "out of memory");
	if (in == NULL) {
		if (grow(t) != 0) {
			vg_conf_labels_release(&ann);
			return vg_err_set(err, VG_ENOMEM, "out of memory");
		}
		in = &t->v[t->n];
		memset(in, 0, sizeof(*in));
		if (vg_alert_labels_copy(labels, &in->labels) != 0) {
			vg_conf_labels_release(&ann);
			return vg_err_set(err, VG_ENOMEM, "out of memory");
		}
		in->fp = fp;
		in->state = VG_ALERT_PENDING;
		in->active_at_ms = ts_ms;
		t->n++;
		if (t->slots != NULL && t->cap_slots >= 2 * t->n)
			slot_put(t, t->n - 1);
		else
			(void)reindex(t, 2 * t->n);
	} else if (in->state == VG_ALERT_INACTIVE) {
		/* A resolved alert that comes back is a new one; within its
		 * hold-down it keeps the last incident's times until it fires. */
		in->state = VG_ALERT_PENDING;
		in->active_at_ms = ts_ms;
		if (in->hold_until_ms <= ts_ms) {
			in->fired_at_ms = 0;
			in->resolved_at_ms = 0;
			in->hold_until_ms = 0;
		}
	}
	vg_conf_labels_release(&in->annotations);
	in->annotations = ann;
	in->value = value;
	in->keep_firing_since_ms = 0;
	in->is_seen = true;
	return 0;
}

bool vg_alert_table_hold(struct vg_alert_table *t, const struct vg_conf_labels *labels)
{
	struct vg_alert_inst *in = find(t, vg_alert_fingerprint(labels), labels);

	if (in == NULL || in->state != VG_ALERT_FIRING)
		return false;
	in->is_held = true;
	return true;
}

bool vg_alert_table_end(struct vg_alert_table *t, int64_t ts_ms, int64_t for_ms, int64_t keep_firing_for_ms)
{
	return vg_alert_table_end_flap(t, ts_ms, for_ms, keep_firing_for_ms, 0);
}

bool vg_alert_table_end_flap(struct vg_alert_table *t, int64_t ts_ms, int64_t for_ms, int64_t keep_firing_for_ms,
			     int64_t min_resolved_for_ms)
{
	bool is_changed = false;
	size_t o = 0;

	for (size_t i = 0; i < t->n; i++) {
		struct vg_alert_inst *in = &t->v[i];
		bool is_dropped = false;

		if (in->is_seen) {
			if (in->state == VG_ALERT_PENDING && in->active_at_ms == ts_ms)
				is_changed = true; /* new, or back */
			if (in->state == VG_ALERT_PENDING && ts_ms - in->active_at_ms >= for_ms &&
			    ts_ms >= in->hold_until_ms) {
				in->state = VG_ALERT_FIRING;
				in->fired_at_ms = ts_ms;
				in->resolved_at_ms = 0;
				in->hold_until_ms = 0;
				is_changed = true;
			}
		} else if (in->state == VG_ALERT_FIRING && in->is_held) {
			in->keep_firing_since_ms = 0; /* the resolve condition holds it */
		} else if (in->state == VG_ALERT_PENDING) {
			if (in->resolved_at_ms != 0) {
				/* Back within its hold-down and gone again. */
				in->state = VG_ALERT_INACTIVE;
				is_changed = true;
			} else {
				is_dropped = true;
			}
		} else if (in->state == VG_ALERT_FIRING) {
			if (keep_firing_for_ms > 0) {
				if (in->keep_firing_since_ms == 0)
					in->keep_firing_since_ms = ts_ms;
				if (ts_ms - in->keep_firing_since_ms < keep_firing_for_ms)
					goto keep;
			}
			in->state = VG_ALERT_INACTIVE;
			in->resolved_at_ms = ts_ms;
			in->keep_firing_since_ms = 0;
			in->hold_until_ms = min_resolved_for_ms > 0 ? ts_ms + min_resolved_for_ms : 0;
			is_changed = true;
		} else if (ts_ms - in->resolved_at_ms >= VG_ALERT_RESOLVED_RETENTION_MS && ts_ms >= in->hold_until_ms) {
			is_dropped = true;
		}
	keep:
		if (is_dropped) {
			inst_release(in);
			is_changed = true;
			continue;
		}
		if (o != i)
			t->v[o] = *in;
		o++;
	}
	t->n = o;
	if (t->slots != NULL)
		(void)reindex(t, t->n); /* positions moved */
	return is_changed;
}

void vg_alert_table_clear(struct vg_alert_table *t)
{
	for (size_t i = 0; i < t->n; i++)
		inst_release(&t->v[i]);
	t->n = 0;
	if (t->slots != NULL)
		memset(t->slots, 0, t->cap_slots * sizeof(*t->slots));
}

int vg_alert_table_put(struct vg_alert_table *t, struct vg_alert_inst *inst)
{
	if (grow(t) != 0)
		return VG_ENOMEM;
	t->v[t->n++] = *inst;
	memset(inst, 0, sizeof(*inst));
	if (t->slots != NULL)
		(void)reindex(t, t->n);
	return 0;
}

void vg_alert_table_release(struct vg_alert_table *t)
{
	vg_alert_table_clear(t);
	free(t->slots);
	free(t->v);
	memset(t, 0, sizeof(*t));
}
