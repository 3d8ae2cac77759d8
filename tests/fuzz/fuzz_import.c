/*
 * fuzz_import.c: libFuzzer target for the streamed import under evhttp
 * (receiver/http/import.c): its request-head reader, body framing
 * (Content-Length, chunked), gzip, the exposition parser behind them, and
 * its hand-over of every other request to evhttp. The input is the byte
 * stream of one client connection to a real evhttp server on loopback
 * (127.0.0.1, an ephemeral port) that uses vg_import_bevcb, with a
 * consumer on the same event base that completes every submitted batch at
 * once. The bytes are sent, the write side shut, and the loop run until the
 * server closes the connection or goes idle; whatever the bytes, nothing
 * may crash or hang. The server lives for the whole run. tests/fuzz/replay.c runs the corpus under make
 * check.
 *
 * One more oracle: the server is set up as http_api.c sets up its own
 * (the filter's limits equal to evhttp's, the same methods allowed), and
 * no answer may be one of evhttp's own HTML error pages, which the filter
 * exists to pre-empt (docs/http-errors.md). A JSON body escapes control
 * characters, so "\r\nContent-Type: text/html" can only be a header.
 */
#include "config.h" /* _GNU_SOURCE (memmem), before any system header */

#include "receiver/http/import.h"
#include "receiver/ingest/submit.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/http.h>

#include "common/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void consume(void *arg)
{
	struct vg_submit *q = arg;
	struct vg_submit_batch *b = vg_submit_take(q), *next;

	for (; b; b = next) {
		next = b->next;
		b->rc = b->n % 7 == 3 ? VG_EIO : 0; /* now and then storage says no */
		vg_submit_done(b);
	}
}

static void on_request(struct evhttp_request *req, void *arg)
{
	(void)arg;
	/* Not text/html, which evhttp would default to: the oracle below. */
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
	evhttp_send_reply(req, 200, "OK", NULL);
}

/* One server for the whole run (a new listener per input would use up
 * the ephemeral ports within a minute); reachable from here, so the leak
 * checker does not count it. */
struct world {
	struct event_base *base;
	struct evhttp *http;
	struct vg_submit *q;
	struct vg_import *imp;
	struct sockaddr_in sa;
	socklen_t sa_len;
};

static struct world *world;

static void world_make(void)
{
	struct evhttp_bound_socket *bound;
	/* The filter's limits are evhttp's, as the receiver sets them
	 * (http_api.c): the filter refuses first, in the API's shape. */
	struct vg_import_options o = { .max_headers_bytes = 4096, .max_body_bytes = 65536, .max_header_count = 100,
				       .timeout_s = 2 };

	signal(SIGPIPE, SIG_IGN);
	world = calloc(1, sizeof(*world));
	if (world == NULL || (world->base = event_base_new()) == NULL ||
	    (world->http = evhttp_new(world->base)) == NULL || vg_submit_new(world->base, 4, &world->q, NULL) != 0)
		abort();
	vg_submit_set_consumer(world->q, consume, world->q);
	o.base = world->base;
	o.submit = world->q;
	if (vg_import_new(&o, &world->imp, NULL) != 0)
		abort();
	evhttp_set_bevcb(world->http, vg_import_bevcb, world->imp);
	evhttp_set_gencb(world->http, on_request, NULL);
	evhttp_set_max_body_size(world->http, 65536);
	evhttp_set_max_headers_size(world->http, 4096);
	evhttp_set_allowed_methods(world->http, VG_IMPORT_EVHTTP_METHODS);
	bound = evhttp_bind_socket_with_handle(world->http, "127.0.0.1", 0);
	world->sa_len = sizeof(world->sa);
	if (bound == NULL ||
	    getsockname(evhttp_bound_socket_get_fd(bound), (struct sockaddr *)&world->sa, &world->sa_len) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char html[] = "\r\nContent-Type: text/html";
	struct linger no_linger = { 1, 0 };
	size_t off = 0;
	int fd, idle = 0;
	/* The end of what was read before, to find html across reads. */
	char tail[sizeof(html)];
	size_t tail_len = 0;

	if (world == NULL)
		world_make();
	/* Non-blocking from the start: libFuzzer's SIGALRM would interrupt
	 * a blocking connect. The server accepts in the loop below. */
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || (connect(fd, (struct sockaddr *)&world->sa, world->sa_len) != 0 && errno != EINPROGRESS)) {
		perror("fuzz_import: connect");
		abort();
	}
	/* Closed with a reset, so no TIME_WAIT piles up over a run. */
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &no_linger, sizeof(no_linger));
	/* Send while running the loop, then read until EOF or idle. */
	while (idle < 30) {
		char buf[65536];
		ssize_t n;
		bool progressed = false;

		if (off < size) {
			/* EAGAIN while connecting or while the server is full. */
			n = write(fd, data + off, size - off);
			if (n > 0) {
				off += (size_t)n;
				progressed = true;
			}
			if (off == size)
				shutdown(fd, SHUT_WR);
		} else if (size == 0 && off == 0) {
			shutdown(fd, SHUT_WR);
			off = 1;
		}
		event_base_loop(world->base, EVLOOP_NONBLOCK);
		n = read(fd, buf, sizeof(buf));
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
			break; /* the server closed */
		if (n > 0) {
			char seen[sizeof(tail) + sizeof(buf)];
			size_t k = tail_len + (size_t)n;

			memcpy(seen, tail, tail_len);
			memcpy(seen + tail_len, buf, (size_t)n);
			if (memmem(seen, k, html, sizeof(html) - 1) != NULL) {
				fprintf(stderr, "fuzz_import: evhttp answered on its own: %.*s\n", (int)k, seen);
				abort();
			}
			tail_len = k < sizeof(html) - 2 ? k : sizeof(html) - 2;
			memcpy(tail, seen + k - tail_len, tail_len);
			progressed = true;
		}
		idle = progressed ? 0 : idle + 1;
		if (!progressed) {
			struct pollfd p = { fd, POLLIN, 0 };
			poll(&p, 1, 1);
		}
	}
	close(fd);
	/* Let the server see the close and finish what it holds. */
	for (int i = 0; i < 50; i++)
		event_base_loop(world->base, EVLOOP_NONBLOCK);
	return 0;
}
