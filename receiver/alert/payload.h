/*
 * payload.h: Alertmanager's webhook message, version "4", as one codec:
 * the webhook channel sends it, the delivery queue stores notifications in
 * it, and a later channel (Alertmanager's own API aside) may reuse it.
 *
 * Encoding is byte for byte what Alertmanager's Go encoder writes
 * (json.Encoder: struct field order receiver, status, alerts, groupLabels,
 * commonLabels, commonAnnotations, externalURL, version, groupKey,
 * truncatedAlerts; map keys sorted; <, > and & as \u003c \u003e \u0026;
 * a final newline); times as Go's time.Time (RFC 3339, fraction without
 * trailing zeros; a firing alert's endsAt the zero time
 * "0001-01-01T00:00:00Z"). See ../shared/interfaces/notifications.md (a).
 */
#ifndef VG_PAYLOAD_H
#define VG_PAYLOAD_H

#include <stddef.h>
#include <stdint.h>

#include "receiver/alert/channel.h"

struct vg_buf;
struct vg_err;

/* Appends the message for n (n->alerts already cut by max_alerts). */
void vg_payload_encode(const struct vg_notification *n, struct vg_buf *out);

/* Appends a time as Go's time.Time JSON (with quotes); 0 is the zero time. */
void vg_payload_time(struct vg_buf *out, int64_t ms);
/* Appends s as Go's encoder quotes a string. */
void vg_payload_str(struct vg_buf *out, const char *s);
/* Appends a label map {"a":"x",...} of sorted labels. */
void vg_payload_labels(struct vg_buf *out, const struct vg_conf_labels *l);

/*
 * A decoded message: the notification and everything it points to, owned.
 * Decoding checks every field's type and bounds (at most 10,000 alerts, 256
 * labels an alert, 1 MiB input), so a stored or received message that is
 * damaged is refused whole with a reason.
 */
struct vg_payload {
	struct vg_notification n;
	/* storage behind n's pointers */
	char *receiver, *group_key, *external_url;
	struct vg_notify_alert *alerts;
};

/* Decodes text[0..len) (a JSON object as encode writes it, or an object
 * value already parsed: see notifier internals). VG_EINVAL, VG_ELIMIT,
 * VG_ENOMEM with err. */
int vg_payload_decode(const char *text, size_t len, struct vg_payload *out, struct vg_err *err);
void vg_payload_release(struct vg_payload *p);

/* Frees a label set built by these decoders (names and values owned). */
void vg_payload_labels_release(struct vg_conf_labels *l);

#endif
