// SPDX-License-Identifier: GPL-2.0
/*
 * libcurl is loaded (dlopen) at the first request, not linked: linked, it
 * brings two dozen libraries (GnuTLS, Kerberos, LDAP, ...) whose loading
 * and constructors keep some 4 MB resident in an agent that may never send
 * anything (no sink configured, no alert yet).
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "clock.h"
#include "http.h"
#include "log.h"

#define CONNECT_TIMEOUT_MS 2000
#define REQUEST_TIMEOUT_MS 5000

_Static_assert(HTTP_WHY_SIZE >= CURL_ERROR_SIZE, "HTTP_WHY_SIZE cuts libcurl errors short");

struct http_client {
	CURL *curl;    /* made at the first request */
	char *ca_file; /* NULL: libcurl's default CAs (the system's) */

	pthread_mutex_t lock;
	/* Under lock: set by another thread while a request is under way. */
	bool has_deadline;
	double deadline; /* monotonic */
};

/* The libcurl functions used here, from the library loaded at the first request. */
static struct {
	CURLcode (*global_init)(long flags);
	CURL *(*easy_init)(void);
	void (*easy_cleanup)(CURL *curl);
	void (*easy_reset)(CURL *curl);
	CURLcode (*easy_setopt)(CURL *curl, CURLoption option, ...);
	CURLcode (*easy_perform)(CURL *curl);
	CURLcode (*easy_getinfo)(CURL *curl, CURLINFO info, ...);
	const char *(*easy_strerror)(CURLcode code);
	struct curl_slist *(*slist_append)(struct curl_slist *list, const char *text);
	void (*slist_free_all)(struct curl_slist *list);
} curl;

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
/* Why libcurl cannot be used; "" once it is loaded and initialized. */
static char curl_failure[HTTP_WHY_SIZE] = "not loaded";

/* Each function by name; false (with curl_failure set) if one is missing. */
static bool resolve(void *library)
{
	static const struct {
		const char *name;
		size_t offset;
	} symbols[] = {
#define SYMBOL(field, name) { name, offsetof(__typeof__(curl), field) }
		SYMBOL(global_init, "curl_global_init"),
		SYMBOL(easy_init, "curl_easy_init"),
		SYMBOL(easy_cleanup, "curl_easy_cleanup"),
		SYMBOL(easy_reset, "curl_easy_reset"),
		SYMBOL(easy_setopt, "curl_easy_setopt"),
		SYMBOL(easy_perform, "curl_easy_perform"),
		SYMBOL(easy_getinfo, "curl_easy_getinfo"),
		SYMBOL(easy_strerror, "curl_easy_strerror"),
		SYMBOL(slist_append, "curl_slist_append"),
		SYMBOL(slist_free_all, "curl_slist_free_all"),
#undef SYMBOL
	};
	size_t i;

	for (i = 0; i < sizeof(symbols) / sizeof(symbols[0]); i++) {
		void *function = dlsym(library, symbols[i].name);

		if (!function) {
			snprintf(curl_failure, sizeof(curl_failure), "libcurl has no %s",
				 symbols[i].name);
			return false;
		}
		memcpy((char *)&curl + symbols[i].offset, &function, sizeof(function));
	}
	return true;
}

static void curl_load_once(void)
{
	/* The ABI of libcurl 7.16 and later, which CURLOPT_PROTOCOLS_STR (7.85) narrows. */
	void *library = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
	CURLcode code;

	if (!library) {
		snprintf(curl_failure, sizeof(curl_failure), "cannot load libcurl: %s", dlerror());
		goto fail;
	}
	if (!resolve(library))
		goto fail;
	code = curl.global_init(CURL_GLOBAL_DEFAULT);
	if (code != CURLE_OK) {
		snprintf(curl_failure, sizeof(curl_failure), "cannot initialize libcurl: %s",
			 curl.easy_strerror(code));
		goto fail;
	}
	curl_failure[0] = '\0';
	return;
fail:
	/* Stays loaded if it was: a half-initialized library is not unloaded. */
	pr_err("%s: no alert can be sent", curl_failure);
}

/* The client's handle, libcurl loaded first; NULL with @why set when it cannot be. */
static CURL *client_handle(struct http_client *client, char *why, size_t why_size)
{
	pthread_once(&curl_once, curl_load_once);
	if (curl_failure[0]) {
		snprintf(why, why_size, "%s", curl_failure);
		return NULL;
	}
	if (!client->curl)
		client->curl = curl.easy_init();
	if (!client->curl)
		snprintf(why, why_size, "out of memory");
	return client->curl;
}

struct http_client *http_client_new(void)
{
	struct http_client *client;
	int err;

	client = calloc(1, sizeof(*client));
	if (!client) {
		errno = ENOMEM;
		return NULL;
	}
	err = -pthread_mutex_init(&client->lock, NULL);
	if (err)
		goto free_client;
	return client;

free_client:
	free(client);
	errno = -err;
	return NULL;
}

void http_client_free(struct http_client *client)
{
	if (!client)
		return;
	if (client->curl)
		curl.easy_cleanup(client->curl);
	free(client->ca_file);
	pthread_mutex_destroy(&client->lock);
	free(client);
}

int http_client_set_ca_file(struct http_client *client, const char *ca_file)
{
	char *copy = NULL;

	if (ca_file && *ca_file) {
		copy = strdup(ca_file);
		if (!copy)
			return -ENOMEM;
	}
	free(client->ca_file);
	client->ca_file = copy;
	return 0;
}

void http_client_set_deadline(struct http_client *client, double deadline)
{
	pthread_mutex_lock(&client->lock);
	client->has_deadline = true;
	client->deadline = deadline;
	pthread_mutex_unlock(&client->lock);
}

/* 0 when there is none. */
static double client_deadline(struct http_client *client)
{
	double deadline = 0;

	pthread_mutex_lock(&client->lock);
	if (client->has_deadline)
		deadline = client->deadline;
	pthread_mutex_unlock(&client->lock);
	return deadline;
}

static size_t discard_body(char *data, size_t size, size_t count, void *user)
{
	return size * count;
}

/* Lets http_client_set_deadline cut a request short once the deadline is past. */
static int transfer_progress(void *user, curl_off_t download_total, curl_off_t downloaded,
			     curl_off_t upload_total, curl_off_t uploaded)
{
	struct http_client *client = user;
	bool abort_transfer;

	pthread_mutex_lock(&client->lock);
	abort_transfer = client->has_deadline && clock_monotonic() >= client->deadline;
	pthread_mutex_unlock(&client->lock);
	return abort_transfer;
}

/* Content-Type and @headers as libcurl takes them; NULL when out of memory. */
static struct curl_slist *header_list(const struct http_header *headers, size_t count)
{
	struct curl_slist *list, *next;
	char *line = NULL;
	size_t i;

	list = curl.slist_append(NULL, "Content-Type: application/json");
	/* No "Expect: 100-continue" round trip before larger bodies. */
	next = list ? curl.slist_append(list, "Expect:") : NULL;
	for (i = 0; next && i < count; i++) {
		if (asprintf(&line, "%s: %s", headers[i].name, headers[i].value) < 0) {
			next = NULL;
			break;
		}
		next = curl.slist_append(list, line);
		free(line);
	}
	if (!next) {
		curl.slist_free_all(list);
		return NULL;
	}
	return list;
}

/* What an answer means for the record: delivered, refused for good, or retry. */
static enum http_result classify_status(long status)
{
	if (status >= 200 && status < 300)
		return HTTP_OK;
	/* 408 and 429 ask for a later retry; other 4xx will never take this body. */
	if (status >= 400 && status < 500 && status != 408 && status != 429)
		return HTTP_DROP;
	return HTTP_RETRY;
}

enum http_result http_post_json(struct http_client *client, const char *url,
				const struct http_header *headers, size_t header_count,
				const char *body, char *why, size_t why_size)
{
	long connect_ms = CONNECT_TIMEOUT_MS, total_ms = REQUEST_TIMEOUT_MS, status = 0;
	double remaining_ms, deadline = client_deadline(client);
	char error[CURL_ERROR_SIZE] = "";
	enum http_result result = HTTP_RETRY;
	struct curl_slist *list;
	CURLcode code;
	CURL *handle;

	if (deadline) {
		remaining_ms = (deadline - clock_monotonic()) * 1000;
		if (remaining_ms < 1) {
			snprintf(why, why_size, "shutting down");
			return HTTP_RETRY;
		}
		/* 0 would mean no limit to libcurl, hence at least 1 ms. */
		if (remaining_ms < total_ms)
			total_ms = remaining_ms;
		if (total_ms < connect_ms)
			connect_ms = total_ms;
	}
	handle = client_handle(client, why, why_size);
	if (!handle)
		return HTTP_RETRY;
	list = header_list(headers, header_count);
	if (!list) {
		snprintf(why, why_size, "out of memory");
		return HTTP_RETRY;
	}
	curl.easy_reset(handle);
	curl.easy_setopt(handle, CURLOPT_URL, url);
	curl.easy_setopt(handle, CURLOPT_PROTOCOLS_STR, "http,https");
	/*
	 * Certificates are always verified (libcurl's default, said again so
	 * that no later edit loses it): the peer must chain to the system's
	 * CAs, or to ca_file's alone, and match the URL's host.
	 */
	curl.easy_setopt(handle, CURLOPT_SSL_VERIFYPEER, 1L);
	curl.easy_setopt(handle, CURLOPT_SSL_VERIFYHOST, 2L);
	if (client->ca_file) {
		curl.easy_setopt(handle, CURLOPT_CAINFO, client->ca_file);
		curl.easy_setopt(handle, CURLOPT_CAPATH, NULL);
	}
	curl.easy_setopt(handle, CURLOPT_POSTFIELDS, body);
	curl.easy_setopt(handle, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
	curl.easy_setopt(handle, CURLOPT_HTTPHEADER, list);
	curl.easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);
	curl.easy_setopt(handle, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
	curl.easy_setopt(handle, CURLOPT_TIMEOUT_MS, total_ms);
	curl.easy_setopt(handle, CURLOPT_WRITEFUNCTION, discard_body);
	curl.easy_setopt(handle, CURLOPT_NOPROGRESS, 0L);
	curl.easy_setopt(handle, CURLOPT_XFERINFOFUNCTION, transfer_progress);
	curl.easy_setopt(handle, CURLOPT_XFERINFODATA, client);
	curl.easy_setopt(handle, CURLOPT_ERRORBUFFER, error);
	code = curl.easy_perform(handle);
	curl.easy_setopt(handle, CURLOPT_ERRORBUFFER, NULL);
	if (code != CURLE_OK) {
		snprintf(why, why_size, "%s", error[0] ? error : curl.easy_strerror(code));
		goto free_list;
	}
	curl.easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &status);
	snprintf(why, why_size, "HTTP %ld", status);
	result = classify_status(status);
free_list:
	curl.slist_free_all(list);
	return result;
}
