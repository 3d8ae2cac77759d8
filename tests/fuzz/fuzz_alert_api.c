/*
 * fuzz_alert_api.c: libFuzzer target for the notifier's JSON decoders
 * (receiver/alert/notifier_silence.c, payload.c): the first byte picks
 * POST /api/v2/silences (a postableSilence), POST /api/v2/alerts (a list
 * of postableAlerts), a stored webhook v4 message (the delivery queue's
 * payload) or one matcher's text; 'a' picks POST /api/v2/acks (an ack's
 * body, notifier_ack.c) and 'A' an ack as data_dir/alerting/acks.json
 * stores it. The rest is the input. It checks what the decoders promise:
 * anything accepted re-encodes to what decodes to the same thing (a
 * silence's or an ack's matchers and times, an ack's alerts, a message's
 * alerts and labels).
 * tests/fuzz/replay.c replays the corpus (tests/fuzz/corpus/alert_api/)
 * in `make check`.
 */
#include "common/buf.h"
#include "common/err.h"
#include "common/matchers.h"
#include "receiver/alert/notifier_int.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#ifdef VG_FUZZ_STUBS
/* The fuzzer links the decoders without the notifier around them. */
int64_t nt_now(const struct vg_notifier *n)
{
	(void)n;
	return 1796040000000LL;
}

int nt_publish_file(const char *path, const struct vg_buf *b, struct vg_err *err)
{
	(void)path;
	(void)b;
	return vg_err_set(err, VG_EIO, "no files here");
}

struct nt_alert *nt_alert_find(struct vg_notifier *n, uint64_t fp)
{
	(void)n;
	(void)fp;
	return NULL;
}

bool nt_alert_is_firing(const struct nt_alert *a, int64_t now_ms)
{
	(void)a;
	(void)now_ms;
	return true;
}
#endif

static void silence_case(const char *p, size_t n)
{
	struct nt_silence s, t;
	struct vg_buf b = VG_BUF_INIT;
	struct vg_err err;

	if (nt_silence_decode(p, n, &s, &err) != 0)
		return;
	if (s.n == 0 || s.ends_ms <= s.starts_ms)
		abort();
	nt_silence_encode(&s, 0, &b);
	if (vg_buf_failed(&b) || nt_silence_decode((const char *)b.data, b.len, &t, &err) != 0)
		abort();
	if (t.n != s.n || strcmp(t.id, s.id) != 0 || t.starts_ms != s.starts_ms || t.ends_ms != s.ends_ms)
		abort();
	for (size_t i = 0; i < s.n; i++)
		if (strcmp(s.m[i].name, t.m[i].name) != 0 || strcmp(s.m[i].value, t.m[i].value) != 0 ||
		    s.m[i].is_regex != t.m[i].is_regex || s.m[i].is_equal != t.m[i].is_equal)
			abort();
	nt_silence_release(&t);
	nt_silence_release(&s);
	vg_buf_release(&b);
}

static void ack_case(const char *p, size_t n, bool is_stored)
{
	struct nt_ack a, t;
	struct vg_buf b = VG_BUF_INIT;
	struct vg_err err;

	if (nt_ack_decode(p, n, is_stored, &a, &err) != 0)
		return;
	if (a.n == 0 || a.created_by == NULL || a.created_by[0] == '\0' || a.comment == NULL || a.expires_ms == 0)
		abort();
	if (!is_stored) {
		/* as the API completes it */
		snprintf(a.id, sizeof(a.id), "x");
		a.starts_ms = a.expires_ms - 1;
	} else if (a.starts_ms >= a.expires_ms || a.id[0] == '\0') {
		abort();
	}
	nt_ack_encode(&a, a.starts_ms, &b);
	if (vg_buf_failed(&b) || nt_ack_decode((const char *)b.data, b.len, true, &t, &err) != 0)
		abort();
	if (t.n != a.n || strcmp(t.id, a.id) != 0 || t.starts_ms != a.starts_ms || t.expires_ms != a.expires_ms ||
	    t.n_alerts != a.n_alerts || strcmp(t.created_by, a.created_by) != 0 || strcmp(t.comment, a.comment) != 0 ||
	    strcmp(nt_ack_state(&t, a.starts_ms), nt_ack_state(&a, a.starts_ms)) != 0)
		abort();
	for (size_t i = 0; i < a.n; i++)
		if (strcmp(a.m[i].name, t.m[i].name) != 0 || strcmp(a.m[i].value, t.m[i].value) != 0 ||
		    a.m[i].is_regex != t.m[i].is_regex || a.m[i].is_equal != t.m[i].is_equal)
			abort();
	for (size_t i = 0; i < a.n_alerts; i++)
		if (a.alerts[i].fp != t.alerts[i].fp || a.alerts[i].starts_ms != t.alerts[i].starts_ms ||
		    a.alerts[i].is_ended != t.alerts[i].is_ended)
			abort();
	nt_ack_release(&t);
	nt_ack_release(&a);
	vg_buf_release(&b);
}

static void alerts_case(const char *p, size_t n)
{
	struct vg_notify_alert *v;
	size_t count;
	struct vg_err err;

	if (nt_alerts_decode(p, n, &v, &count, &err) != 0)
		return;
	for (size_t i = 0; i < count; i++) {
		if (v[i].labels.n == 0)
			abort();
		for (size_t j = 1; j < v[i].labels.n; j++)
			if (strcmp(v[i].labels.names[j - 1], v[i].labels.names[j]) >= 0)
				abort(); /* sorted, no duplicates */
	}
	nt_alerts_free(v, count);
}

static void payload_case(const char *p, size_t n)
{
	struct vg_payload a, b;
	struct vg_buf e = VG_BUF_INIT;
	struct vg_err err;

	if (vg_payload_decode(p, n, &a, &err) != 0)
		return;
	vg_payload_encode(&a.n, &e);
	if (vg_buf_failed(&e) || vg_payload_decode((const char *)e.data, e.len, &b, &err) != 0)
		abort();
	if (a.n.n_alerts != b.n.n_alerts || a.n.is_firing != b.n.is_firing || strcmp(a.n.group_key, b.n.group_key) != 0)
		abort();
	for (size_t i = 0; i < a.n.n_alerts; i++)
		if (nt_labels_cmp(&a.alerts[i].labels, &b.alerts[i].labels) != 0 ||
		    a.alerts[i].starts_at_ms != b.alerts[i].starts_at_ms)
			abort();
	vg_payload_release(&a);
	vg_payload_release(&b);
	vg_buf_release(&e);
}

static void matcher_case(const char *p, size_t n)
{
	char *s = malloc(n + 1);
	struct vg_matcher_text m;
	struct vg_err err;

	if (s == NULL)
		abort();
	memcpy(s, p, n);
	s[n] = '\0';
	if (vg_matcher_text_parse(s, &m, &err) == 0) {
		if (m.name[0] == '\0')
			abort();
		vg_matcher_text_release(&m);
	}
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	if (data[0] == 'a' || data[0] == 'A') {
		ack_case((const char *)data + 1, size - 1, data[0] == 'A');
		return 0;
	}
	switch (data[0] % 4) {
	case 0: silence_case((const char *)data + 1, size - 1); break;
	case 1: alerts_case((const char *)data + 1, size - 1); break;
	case 2: payload_case((const char *)data + 1, size - 1); break;
	default: matcher_case((const char *)data + 1, size - 1); break;
	}
	return 0;
}
