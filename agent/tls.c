/*
 * tls.c: TLS toward a receiver through a dlopen()ed libevent_openssl
 * (tls.h says why the agent is not linked with it).
 *
 * The OpenSSL and libevent headers give the types: every function is
 * taken from the library into a pointer of its declared type
 * (__typeof__), so the compiler checks each call as if it were linked.
 * Macros of OpenSSL's (SSL_CTX_set_min_proto_version,
 * SSL_set_tlsext_host_name) are spelt out as the ctrl calls they expand
 * to.
 *
 * Invariant: a struct vg_tls_client exists only with every pointer of its
 * table set; nothing here is called before vg_tls_client_new succeeded.
 */
#include "agent/tls.h"
#include "common/dl.h"
#include "common/err.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "common/banned.h"

/* The library of Debian 12's libevent-openssl-2.1-7; it needs libssl3,
 * which brings libcrypto. */
#ifndef VG_LIBEVENT_OPENSSL_SONAME
#define VG_LIBEVENT_OPENSSL_SONAME "libevent_openssl-2.1.so.7"
#endif

struct tls_api {
	__typeof__(TLS_client_method) *client_method;
	__typeof__(SSL_CTX_new) *ctx_new;
	__typeof__(SSL_CTX_free) *ctx_free;
	__typeof__(SSL_CTX_ctrl) *ctx_ctrl;
	__typeof__(SSL_CTX_set_verify) *ctx_set_verify;
	__typeof__(SSL_CTX_load_verify_locations) *ctx_load_verify_locations;
	__typeof__(SSL_CTX_set_default_verify_paths) *ctx_set_default_verify_paths;
	__typeof__(SSL_CTX_use_certificate_chain_file) *ctx_use_certificate_chain_file;
	__typeof__(SSL_CTX_use_PrivateKey_file) *ctx_use_private_key_file;
	__typeof__(SSL_CTX_check_private_key) *ctx_check_private_key;
	__typeof__(SSL_new) *ssl_new;
	__typeof__(SSL_free) *ssl_free;
	__typeof__(SSL_ctrl) *ssl_ctrl;
	__typeof__(SSL_set1_host) *ssl_set1_host;
	__typeof__(SSL_get0_param) *ssl_get0_param;
	__typeof__(SSL_get_verify_result) *ssl_get_verify_result;
	__typeof__(X509_VERIFY_PARAM_set1_ip_asc) *param_set1_ip_asc;
	__typeof__(X509_verify_cert_error_string) *verify_error_string;
	__typeof__(ERR_get_error) *err_get_error;
	__typeof__(ERR_error_string_n) *err_error_string_n;
	__typeof__(bufferevent_openssl_socket_new) *bev_new;
	__typeof__(bufferevent_openssl_get_ssl) *bev_get_ssl;
	__typeof__(bufferevent_get_openssl_error) *bev_get_error;
	__typeof__(bufferevent_openssl_set_allow_dirty_shutdown) *bev_allow_dirty_shutdown;
};

struct vg_tls_client {
	struct tls_api api;
	SSL_CTX *ctx;
	char *server_name;
};

/* Loads the library into a's table: its handle, or NULL with err set. */
static void *load_api(struct tls_api *a, struct vg_err *err)
{
	const struct vg_dl_sym syms[] = {
		VG_DL_SYM(a->client_method, TLS_client_method),
		VG_DL_SYM(a->ctx_new, SSL_CTX_new),
		VG_DL_SYM(a->ctx_free, SSL_CTX_free),
		VG_DL_SYM(a->ctx_ctrl, SSL_CTX_ctrl),
		VG_DL_SYM(a->ctx_set_verify, SSL_CTX_set_verify),
		VG_DL_SYM(a->ctx_load_verify_locations, SSL_CTX_load_verify_locations),
		VG_DL_SYM(a->ctx_set_default_verify_paths, SSL_CTX_set_default_verify_paths),
		VG_DL_SYM(a->ctx_use_certificate_chain_file, SSL_CTX_use_certificate_chain_file),
		VG_DL_SYM(a->ctx_use_private_key_file, SSL_CTX_use_PrivateKey_file),
		VG_DL_SYM(a->ctx_check_private_key, SSL_CTX_check_private_key),
		VG_DL_SYM(a->ssl_new, SSL_new),
		VG_DL_SYM(a->ssl_free, SSL_free),
		VG_DL_SYM(a->ssl_ctrl, SSL_ctrl),
		VG_DL_SYM(a->ssl_set1_host, SSL_set1_host),
		VG_DL_SYM(a->ssl_get0_param, SSL_get0_param),
		VG_DL_SYM(a->ssl_get_verify_result, SSL_get_verify_result),
		VG_DL_SYM(a->param_set1_ip_asc, X509_VERIFY_PARAM_set1_ip_asc),
		VG_DL_SYM(a->verify_error_string, X509_verify_cert_error_string),
		VG_DL_SYM(a->err_get_error, ERR_get_error),
		VG_DL_SYM(a->err_error_string_n, ERR_error_string_n),
		VG_DL_SYM(a->bev_new, bufferevent_openssl_socket_new),
		VG_DL_SYM(a->bev_get_ssl, bufferevent_openssl_get_ssl),
		VG_DL_SYM(a->bev_get_error, bufferevent_get_openssl_error),
		VG_DL_SYM(a->bev_allow_dirty_shutdown, bufferevent_openssl_set_allow_dirty_shutdown),
	};

	return vg_dl_open(VG_LIBEVENT_OPENSSL_SONAME, "libevent-openssl-2.1-7", "tls", syms,
			  sizeof(syms) / sizeof(syms[0]), err);
}

/* OpenSSL's queued reason for a failure just seen, for a message. */
static const char *ssl_reason(const struct tls_api *a, char *buf, size_t cap)
{
	unsigned long e = a->err_get_error(), next;

	if (e == 0)
		return "no reason given";
	while ((next = a->err_get_error()) != 0)
		e = next; /* the last is the most specific */
	a->err_error_string_n(e, buf, cap);
	return buf;
}

bool vg_tls_is_loaded(void)
{
	void *h = dlopen(VG_LIBEVENT_OPENSSL_SONAME, RTLD_LAZY | RTLD_NOLOAD);

	if (h == NULL)
		return false;
	dlclose(h); /* drops the reference RTLD_NOLOAD took */
	return true;
}

int vg_tls_client_new(const struct vg_tls_client_options *opts, struct vg_tls_client **out,
		      struct vg_err *err)
{
	struct vg_tls_client *t = calloc(1, sizeof(*t));
	const struct tls_api *a = &t->api;
	char why[256];
	int rc;

	if (t == NULL)
		return vg_err_set(err, VG_ENOMEM, "out of memory");
	/* Never closed: see tls.h. */
	if (load_api(&t->api, err) == NULL) {
		rc = VG_ENOENT;
		goto fail;
	}
	if ((t->ctx = a->ctx_new(a->client_method())) == NULL) {
		rc = vg_err_set(err, VG_ENOMEM, "tls: cannot make a context: %s", ssl_reason(a, why, sizeof(why)));
		goto fail;
	}
	a->ctx_ctrl(t->ctx, SSL_CTRL_SET_MIN_PROTO_VERSION, TLS1_2_VERSION, NULL);
	a->ctx_set_verify(t->ctx, SSL_VERIFY_PEER, NULL);
	if (opts->ca_file ? a->ctx_load_verify_locations(t->ctx, opts->ca_file, NULL) != 1
			  : a->ctx_set_default_verify_paths(t->ctx) != 1) {
		rc = vg_err_set(err, VG_EINVAL, "tls_ca_file %s: %s", opts->ca_file ? opts->ca_file : "(system)",
				ssl_reason(a, why, sizeof(why)));
		goto fail;
	}
	if (opts->cert_file) {
		const char *key = opts->key_file ? opts->key_file : opts->cert_file;
		if (a->ctx_use_certificate_chain_file(t->ctx, opts->cert_file) != 1) {
			rc = vg_err_set(err, VG_EINVAL, "tls_cert_file %s: %s", opts->cert_file,
					ssl_reason(a, why, sizeof(why)));
			goto fail;
		}
		if (a->ctx_use_private_key_file(t->ctx, key, SSL_FILETYPE_PEM) != 1 ||
		    a->ctx_check_private_key(t->ctx) != 1) {
			rc = vg_err_set(err, VG_EINVAL, "tls_key_file %s: %s", key, ssl_reason(a, why, sizeof(why)));
			goto fail;
		}
	}
	if (opts->server_name && (t->server_name = strdup(opts->server_name)) == NULL) {
		rc = vg_err_set(err, VG_ENOMEM, "out of memory");
		goto fail;
	}
	*out = t;
	return 0;
fail:
	vg_tls_client_free(t);
	return rc;
}

void vg_tls_client_free(struct vg_tls_client *t)
{
	if (t == NULL)
		return;
	if (t->ctx)
		t->api.ctx_free(t->ctx);
	free(t->server_name);
	free(t);
}

static bool is_ip_literal(const char *s)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

struct bufferevent *vg_tls_client_bufferevent(struct vg_tls_client *t, struct event_base *base,
					      const char *host, struct vg_err *err)
{
	const struct tls_api *a = &t->api;
	const char *name = t->server_name ? t->server_name : host;
	struct bufferevent *bev;
	char why[256];
	SSL *ssl;

	if ((ssl = a->ssl_new(t->ctx)) == NULL) {
		vg_err_set(err, VG_ENOMEM, "tls: %s", ssl_reason(a, why, sizeof(why)));
		return NULL;
	}
	/* A name is sent in SNI and matched against the certificate's DNS
	 * names; an address is matched against its IP addresses only. */
	if (is_ip_literal(name)) {
		if (a->param_set1_ip_asc(a->ssl_get0_param(ssl), name) != 1)
			goto bad_name;
	} else if (a->ssl_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name, (void *)name) != 1 ||
		   a->ssl_set1_host(ssl, name) != 1) {
		goto bad_name;
	}
	/* The bufferevent owns ssl from here (BEV_OPT_CLOSE_ON_FREE). */
	bev = a->bev_new(base, -1, ssl, BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		a->ssl_free(ssl);
		vg_err_set(err, VG_ENOMEM, "tls: cannot make a bufferevent");
		return NULL;
	}
	/* A receiver closing without close_notify is an end of stream, not
	 * an error: frames are length-prefixed and checksummed, so a cut one
	 * is seen anyway. */
	a->bev_allow_dirty_shutdown(bev, 1);
	return bev;
bad_name:
	a->ssl_free(ssl);
	vg_err_set(err, VG_EINVAL, "tls: cannot verify against the name \"%s\": %s", name,
		   ssl_reason(a, why, sizeof(why)));
	return NULL;
}

bool vg_tls_client_describe(struct vg_tls_client *t, struct bufferevent *bev, char *out, size_t cap)
{
	const struct tls_api *a = &t->api;
	SSL *ssl = a->bev_get_ssl(bev);
	unsigned long e, best = 0;
	long verify;
	char reason[256];

	/* libevent queues OpenSSL's errors and, before them, the bare
	 * SSL_get_error() code (library 0): the most specific is the last
	 * one that names a library. */
	while ((e = a->bev_get_error(bev)) != 0)
		if (ERR_GET_LIB(e) != 0 || best == 0)
			best = e;
	while ((e = a->err_get_error()) != 0)
		if (ERR_GET_LIB(e) != 0 || best == 0)
			best = e;
	verify = ssl ? a->ssl_get_verify_result(ssl) : X509_V_OK;
	if (verify != X509_V_OK) {
		snprintf(out, cap, "TLS: the receiver's certificate did not verify: %s",
			 a->verify_error_string(verify));
		return true;
	}
	if (best == 0)
		return false;
	if (ERR_GET_LIB(best) == 0) {
		snprintf(out, cap, "TLS: the handshake failed (SSL error %lu)", best);
		return true;
	}
	a->err_error_string_n(best, reason, sizeof(reason));
	snprintf(out, cap, "TLS: %s", reason);
	return true;
}
