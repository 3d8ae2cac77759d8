/*
 * statsd_listen.c: the StatsD UDP listener (statsd_listen.h).
 *
 * Owns the socket, the receive buffers and the datagram counters; the
 * lines go to the parser and on to the aggregate it was given. One
 * struct vg_statsd_line is the parser's scratch for every datagram, so a
 * datagram costs no allocation. Everything runs on the agent's one event
 * loop: no locks.
 *
 * Two modes. Idle, the socket's readability wakes the loop. When a
 * wakeup finds at least a full batch waiting the traffic is heavy, and a
 * wakeup per few datagrams would cost more than reading them (a sleep
 * and a wakeup are a third of the agent's time at 400,000 datagrams/s):
 * the listener then stops watching the socket and reads it every
 * VG_STATSD_POLL_US instead, which lets a whole batch or more gather
 * between reads, until a read finds less than a batch and it goes back
 * to waiting for readability. A datagram waits at most that long; the
 * receive buffer holds many times what arrives meanwhile.
 */
#define _GNU_SOURCE 1
#include "agent/collect/statsd_listen.h"
#include "agent/aggregate.h"
#include "common/config.h"
#include "common/err.h"
#include "common/log.h"

#include <errno.h>
#include <stdbool.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/banned.h"

#include <linux/sock_diag.h>

struct vg_statsd_listener {
	int fd;
	uint16_t port;
	struct event *ev;
	struct event *poll;            /* the timer of the heavy mode */
	bool is_polling;
	struct vg_aggregate *agg;
	uint8_t *bufs;                 /* VG_STATSD_BATCH datagrams */
	struct mmsghdr msgs[VG_STATSD_BATCH];
	struct iovec iov[VG_STATSD_BATCH];
	struct vg_statsd_line line;    /* the parser's scratch */
	struct vg_statsd_listener_stats stats;
	uint64_t drops_before;         /* sk_drops of the sockets this one replaced */
	struct vg_complaint complaint;
};

static void take(struct vg_statsd_listener *l, struct mmsghdr *m, uint8_t *data)
{
	size_t len = m->msg_len;

	l->stats.packets++;
	l->stats.bytes += len;
	if (m->msg_hdr.msg_flags & MSG_TRUNC) {
		const uint8_t *nl;
		l->stats.truncated++;
		len = len > VG_STATSD_DATAGRAM_BYTES ? VG_STATSD_DATAGRAM_BYTES : len;
		nl = memrchr(data, '\n', len);
		len = nl ? (size_t)(nl - data) : 0;
	}
	vg_statsd_parse_packet((const char *)data, len, &l->line, vg_aggregate_line_cb, l->agg, &l->stats.lines);
}

/* Reads what waits, at most VG_STATSD_MAX_ROUNDS batches; the number of
 * datagrams read. */
static size_t drain(struct vg_statsd_listener *l)
{
	size_t total = 0;

	for (int round = 0; round < VG_STATSD_MAX_ROUNDS; round++) {
		int n;
		for (int i = 0; i < VG_STATSD_BATCH; i++)
			l->msgs[i].msg_hdr.msg_flags = 0;
		n = recvmmsg(l->fd, l->msgs, VG_STATSD_BATCH, MSG_DONTWAIT, NULL);
		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
				l->stats.receive_errors++;
				vg_log_complain(&l->complaint, VG_LOG_WARN, "statsd: recvmmsg: %s", strerror(errno));
			}
			break;
		}
		for (int i = 0; i < n; i++)
			take(l, &l->msgs[i], l->bufs + (size_t)i * VG_STATSD_DATAGRAM_BYTES);
		total += (size_t)n;
		if (n < VG_STATSD_BATCH)
			break;
	}
	return total;
}

/* Heavy (a full batch or more read) or not: polls, or waits for the
 * socket. A read that stopped at the round limit polls again at once. */
static void choose_mode(struct vg_statsd_listener *l, size_t n)
{
	static const struct timeval now = { 0, 0 }, later = { 0, VG_STATSD_POLL_US };

	if (n >= VG_STATSD_BATCH) {
		if (!l->is_polling) {
			if (event_del(l->ev) != 0)
				return; /* keeps waiting for readability */
			l->is_polling = true;
		}
		if (evtimer_add(l->poll, n >= (size_t)VG_STATSD_BATCH * VG_STATSD_MAX_ROUNDS ? &now : &later) == 0)
			return;
		/* no timer: back to readability */
	}
	if (l->is_polling && event_add(l->ev, NULL) == 0)
		l->is_polling = false;
}

static void read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct vg_statsd_listener *l = arg;

	(void)fd;
	(void)what;
	choose_mode(l, drain(l));
}

static int bind_socket(struct vg_statsd_listener *l, const char *listen, uint64_t rcvbuf, struct vg_err *err)
{
	char host[256], portstr[8];
	uint16_t port;
	struct addrinfo hints, *res = NULL;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int rc;

	if ((rc = vg_conf_split_hostport(listen, host, sizeof(host), &port, err)) < 0) {
		vg_err_prefix(err, "statsd_listen");
		return rc;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_DGRAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(portstr, sizeof(portstr), "%u", port);
	if ((rc = getaddrinfo(host[0] ? host : NULL, portstr, &hints, &res)) != 0)
		return vg_err_set(err, VG_EINVAL, "statsd_listen %s: %s", listen, gai_strerror(rc));
	l->fd = socket(res->ai_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (l->fd < 0 || bind(l->fd, res->ai_addr, res->ai_addrlen) != 0) {
		rc = vg_err_set(err, VG_EIO, "statsd: cannot listen on %s: %s", listen, strerror(errno));
		freeaddrinfo(res);
		return rc;
	}
	freeaddrinfo(res);
	vg_statsd_listener_set_receive_buffer(l, rcvbuf);
	{
		uint32_t mi[SK_MEMINFO_VARS];
		socklen_t mil = sizeof(mi);
		if (getsockopt(l->fd, SOL_SOCKET, SO_MEMINFO, mi, &mil) != 0)
			vg_warn("statsd: SO_MEMINFO: %s; drops at the socket will not be counted", strerror(errno));
	}
	if (getsockname(l->fd, (struct sockaddr *)&ss, &sl) == 0)
		l->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
							  : ((struct sockaddr_in *)&ss)->sin_port);
	return 0;
}

void vg_statsd_listener_set_receive_buffer(struct vg_statsd_listener *l, uint64_t bytes)
{
	socklen_t ol;
	int size;

	if (bytes > 0) {
		size = bytes > INT32_MAX / 2 ? INT32_MAX / 2 : (int)bytes;
		/* the kernel doubles what it is given; FORCE needs CAP_NET_ADMIN */
		if (setsockopt(l->fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) != 0)
			setsockopt(l->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	}
	ol = sizeof(size);
	if (getsockopt(l->fd, SOL_SOCKET, SO_RCVBUF, &size, &ol) == 0)
		l->stats.receive_buffer_bytes = (uint64_t)size;
}

void vg_statsd_listener_continue(struct vg_statsd_listener *l, const struct vg_statsd_listener_stats *from)
{
	uint64_t granted = l->stats.receive_buffer_bytes;

	l->stats = *from;
	l->stats.receive_buffer_bytes = granted;
	l->drops_before = from->socket_drops;
}

int vg_statsd_listener_new(const struct vg_statsd_listener_options *opts, struct vg_statsd_listener **out,
			   struct vg_err *err)
{
	struct vg_statsd_listener *l;
	int rc;

	*out = NULL;
	if ((l = calloc(1, sizeof(*l))) == NULL)
		return vg_err_set(err, VG_ENOMEM, "out of memory");
	l->fd = -1;
	l->agg = opts->aggregate;
	l->bufs = malloc((size_t)VG_STATSD_BATCH * VG_STATSD_DATAGRAM_BYTES);
	if (l->bufs == NULL) {
		rc = vg_err_set(err, VG_ENOMEM, "out of memory");
		goto fail;
	}
	for (int i = 0; i < VG_STATSD_BATCH; i++) {
		l->iov[i] = (struct iovec){ l->bufs + (size_t)i * VG_STATSD_DATAGRAM_BYTES, VG_STATSD_DATAGRAM_BYTES };
		l->msgs[i].msg_hdr = (struct msghdr){ .msg_iov = &l->iov[i], .msg_iovlen = 1 };
	}
	if ((rc = bind_socket(l, opts->listen, opts->receive_buffer_bytes, err)) != 0)
		goto fail;
	l->ev = event_new(opts->base, l->fd, EV_READ | EV_PERSIST, read_cb, l);
	l->poll = evtimer_new(opts->base, read_cb, l);
	if (l->ev == NULL || l->poll == NULL || event_add(l->ev, NULL) != 0) {
		rc = vg_err_set(err, VG_ENOMEM, "statsd: cannot add the socket to the event loop");
		goto fail;
	}
	*out = l;
	return 0;
fail:
	vg_statsd_listener_free(l);
	return rc;
}

void vg_statsd_listener_free(struct vg_statsd_listener *l)
{
	if (l == NULL)
		return;
	if (l->ev)
		event_free(l->ev);
	if (l->poll)
		event_free(l->poll);
	if (l->fd >= 0)
		close(l->fd);
	free(l->bufs);
	free(l);
}

void vg_statsd_listener_drain(struct vg_statsd_listener *l)
{
	drain(l);
}

uint16_t vg_statsd_listener_port(const struct vg_statsd_listener *l)
{
	return l->port;
}

void vg_statsd_listener_get_stats(const struct vg_statsd_listener *l, struct vg_statsd_listener_stats *out)
{
	uint32_t mi[SK_MEMINFO_VARS];
	socklen_t len = sizeof(mi);

	*out = l->stats;
	out->socket_drops = l->drops_before;
	/* the socket's own count (sk_drops, what SO_RXQ_OVFL and the drops
	 * column of /proc/net/udp show), read once per interval rather than
	 * as a control message on every datagram, which cost 8 % of a
	 * datagram's time in the kernel */
	if (getsockopt(l->fd, SOL_SOCKET, SO_MEMINFO, mi, &len) == 0 && len > SK_MEMINFO_DROPS * sizeof(uint32_t))
		out->socket_drops += mi[SK_MEMINFO_DROPS];
}
