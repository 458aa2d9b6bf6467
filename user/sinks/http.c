// SPDX-License-Identifier: GPL-2.0
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
	CURL *curl;

	pthread_mutex_t lock;
	/* Under lock: set by another thread while a request is under way. */
	bool has_deadline;
	double deadline; /* monotonic */
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result;

static void curl_init_once(void)
{
	curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

struct http_client *http_client_new(void)
{
	struct http_client *client;
	int err;

	pthread_once(&curl_once, curl_init_once);
	if (curl_init_result != CURLE_OK) {
		pr_err("cannot initialize libcurl: %s", curl_easy_strerror(curl_init_result));
		errno = EIO;
		return NULL;
	}
	client = calloc(1, sizeof(*client));
	if (!client) {
		errno = ENOMEM;
		return NULL;
	}
	err = -pthread_mutex_init(&client->lock, NULL);
	if (err)
		goto free_client;
	client->curl = curl_easy_init();
	if (!client->curl) {
		err = -ENOMEM;
		goto destroy_lock;
	}
	return client;

destroy_lock:
	pthread_mutex_destroy(&client->lock);
free_client:
	free(client);
	errno = -err;
	return NULL;
}

void http_client_free(struct http_client *client)
{
	if (!client)
		return;
	curl_easy_cleanup(client->curl);
	pthread_mutex_destroy(&client->lock);
	free(client);
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

	list = curl_slist_append(NULL, "Content-Type: application/json");
	/* No "Expect: 100-continue" round trip before larger bodies. */
	next = list ? curl_slist_append(list, "Expect:") : NULL;
	for (i = 0; next && i < count; i++) {
		if (asprintf(&line, "%s: %s", headers[i].name, headers[i].value) < 0) {
			next = NULL;
			break;
		}
		next = curl_slist_append(list, line);
		free(line);
	}
	if (!next) {
		curl_slist_free_all(list);
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
	CURL *curl = client->curl;
	struct curl_slist *list;
	CURLcode code;

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
	list = header_list(headers, header_count);
	if (!list) {
		snprintf(why, why_size, "out of memory");
		return HTTP_RETRY;
	}
	curl_easy_reset(curl);
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, total_ms);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard_body);
	curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, transfer_progress);
	curl_easy_setopt(curl, CURLOPT_XFERINFODATA, client);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
	code = curl_easy_perform(curl);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, NULL);
	if (code != CURLE_OK) {
		snprintf(why, why_size, "%s", error[0] ? error : curl_easy_strerror(code));
		goto free_list;
	}
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	snprintf(why, why_size, "HTTP %ld", status);
	result = classify_status(status);
free_list:
	curl_slist_free_all(list);
	return result;
}
