/*
 * tls.c: the agent listener's TLS (tls.h): an OpenSSL server context and
 * libevent's OpenSSL bufferevents over accepted sockets.
 *
 * Policy: TLS 1.2 or later with OpenSSL's default ciphers; with a client
 * CA file, a client certificate is required and verified (failing the
 * handshake otherwise). The token in HELLO is checked by ingest either
 * way: TLS proves the channel, the token the agent's right to write.
 */
#include "receiver/ingest/tls.h"
#include "common/err.h"

#include <stdio.h>
#include <stdlib.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "common/banned.h"

struct vg_tls_server {
	SSL_CTX *ctx;
};

static const char *reason(char *buf, size_t cap)
{
	unsigned long e = ERR_get_error(), next;

	if (e == 0)
		return "no reason given";
	while ((next = ERR_get_error()) != 0)
		e = next;
	ERR_error_string_n(e, buf, cap);
	return buf;
}

int vg_tls_server_new(const char *cert_file, const char *key_file, const char *client_ca_file,
		      struct vg_tls_server **out, struct vg_err *err)
{
	struct vg_tls_server *t = calloc(1, sizeof(*t));
	const char *key = key_file ? key_file : cert_file;
	char why[256];
	int rc;

	if (t == NULL)
		return vg_err_set(err, VG_ENOMEM, "out of memory");
	ERR_clear_error();
	if ((t->ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		rc = vg_err_set(err, VG_ENOMEM, "tls: cannot make a context: %s", reason(why, sizeof(why)));
		goto fail;
	}
	SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION);
	if (SSL_CTX_use_certificate_chain_file(t->ctx, cert_file) != 1) {
		rc = vg_err_set(err, VG_EINVAL, "tls_cert_file %s: %s", cert_file, reason(why, sizeof(why)));
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(t->ctx, key, SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(t->ctx) != 1) {
		rc = vg_err_set(err, VG_EINVAL, "tls_key_file %s: %s", key, reason(why, sizeof(why)));
		goto fail;
	}
	if (client_ca_file) {
		STACK_OF(X509_NAME) *names;
		if (SSL_CTX_load_verify_locations(t->ctx, client_ca_file, NULL) != 1 ||
		    (names = SSL_load_client_CA_file(client_ca_file)) == NULL) {
			rc = vg_err_set(err, VG_EINVAL, "tls_client_ca_file %s: %s", client_ca_file,
					reason(why, sizeof(why)));
			goto fail;
		}
		SSL_CTX_set_client_CA_list(t->ctx, names);
		SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	}
	*out = t;
	return 0;
fail:
	vg_tls_server_free(t);
	return rc;
}

void vg_tls_server_free(struct vg_tls_server *t)
{
	if (t == NULL)
		return;
	SSL_CTX_free(t->ctx);
	free(t);
}

struct bufferevent *vg_tls_server_bufferevent(struct vg_tls_server *t, struct event_base *base,
					      evutil_socket_t fd)
{
	SSL *ssl = SSL_new(t->ctx);
	struct bufferevent *bev;

	if (ssl == NULL)
		return NULL;
	bev = bufferevent_openssl_socket_new(base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		SSL_free(ssl);
		return NULL;
	}
	/* Agents that vanish without close_notify are ordinary closes. */
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}

size_t vg_tls_server_describe(struct bufferevent *bev, char *out, size_t cap)
{
	unsigned long e, best = 0;
	char why[256];
	int n;

	/* libevent queues the bare SSL_get_error() code (library 0) before
	 * OpenSSL's own errors: the last that names a library says most. */
	while ((e = bufferevent_get_openssl_error(bev)) != 0)
		if (ERR_GET_LIB(e) != 0 || best == 0)
			best = e;
	while ((e = ERR_get_error()) != 0)
		if (ERR_GET_LIB(e) != 0 || best == 0)
			best = e;
	if (best == 0)
		return 0;
	if (ERR_GET_LIB(best) == 0)
		n = snprintf(out, cap, "TLS handshake failed (SSL error %lu: not a TLS client?)", best);
	else
		n = snprintf(out, cap, "TLS: %s", (ERR_error_string_n(best, why, sizeof(why)), why));
	return n < 0 ? 0 : (size_t)n;
}
