/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The HTTP client of the sinks: one libcurl handle, kept across requests
 * so that its connections are reused, that POSTs a JSON body and sorts the
 * answer into delivered, refused for good, or worth a retry. One thread
 * sends; any thread may set a deadline that cuts requests short, so that
 * a shutdown waits on the network for a bounded time.
 */
#ifndef ABUSEWATCH_HTTP_H
#define ABUSEWATCH_HTTP_H

#include <stddef.h>

/* Room for any reason http_post_json gives (libcurl's error text and more). */
#define HTTP_WHY_SIZE 288

enum http_result {
	HTTP_OK,
	HTTP_DROP, /* refused for good (4xx): retrying cannot help */
	HTTP_RETRY,
};

/* One request header beyond Content-Type; both strings borrowed. */
struct http_header {
	const char *name;
	const char *value;
};

struct http_client;

/* NULL (errno set) on failure; the first call also initializes libcurl. */
struct http_client *http_client_new(void);

/* NULL is fine. */
void http_client_free(struct http_client *client);

/*
 * The CA certificates (a PEM file) that the servers of the next requests
 * must chain to, instead of the system's; NULL or "": the system's. Set by
 * the thread that sends. 0 or -ENOMEM.
 */
int http_client_set_ca_file(struct http_client *client, const char *ca_file);

/*
 * From now on requests end by @deadline (monotonic seconds): timeouts
 * shrink to fit and a request under way is aborted once it passes.
 */
void http_client_set_deadline(struct http_client *client, double deadline);

/*
 * POSTs @body as application/json to @url with @headers added. @why gets
 * what happened ("HTTP 503", a libcurl error, ...), for the logs.
 */
enum http_result http_post_json(struct http_client *client, const char *url,
				const struct http_header *headers, size_t header_count,
				const char *body, char *why, size_t why_size);

#endif
