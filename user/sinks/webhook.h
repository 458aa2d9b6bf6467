/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The webhook sink: one POST per record, its body the record line itself,
 * with the Standard Webhooks headers: webhook-id (made once per record and
 * kept across retries and restarts, so that a receiver can drop
 * duplicates), webhook-timestamp and, when there is a secret,
 * webhook-signature (HMAC-SHA256 of id, timestamp and body).
 */
#ifndef ABUSEWATCH_WEBHOOK_H
#define ABUSEWATCH_WEBHOOK_H

#include <stdbool.h>
#include <stddef.h>

#include "http.h"
#include "spool.h"

#define WEBHOOK_KEY_MAX 1024

struct webhook;

/*
 * The sink for @url, exactly as configured (its path may need a trailing
 * slash); @display_url is for the logs (nothing secret in it). Unsigned until webhook_set_key.
 * NULL (errno set) on failure.
 */
struct webhook *webhook_new(const char *url, const char *display_url);
/* NULL is fine. */
void webhook_free(struct webhook *webhook);

/* Any thread, also while a send is under way (it keeps the key it began with). */
void webhook_set_key(struct webhook *webhook, const unsigned char *key, size_t length,
		     bool has_key);

/*
 * POSTs the oldest record of @queue. Once delivered, or refused for good
 * (logged and counted), it is taken off @queue and counted in *@done.
 */
enum http_result webhook_send(struct webhook *webhook, struct http_client *client,
			      struct spool_list *queue, size_t *done, char *why, size_t why_size);

/* "msg_" and 128 random bits: unique without coordination. 0 or -errno. */
int webhook_new_id(char *out, size_t size);

/*
 * Gives a new id to each record of @list spooled without one; a record
 * that cannot have one is dropped and counted in *@skipped.
 */
void webhook_fill_ids(struct spool_list *list, size_t *skipped);

/*
 * The key of the secret file at @path ("whsec_<base64>" or raw bytes;
 * trailing newline ignored). A file owned by another user than root or
 * this one, or writable by its group or others, is refused (-EPERM). 0 or
 * -errno, and then the reason is logged (never the file's content).
 */
int webhook_read_secret(const char *path, unsigned char *key, size_t size, size_t *length);

/* The key bytes of a secret file's text: base64-decoded after "whsec_", else as is. */
int webhook_parse_secret(const char *text, unsigned char *key, size_t size, size_t *length);

/*
 * Standard Webhooks signature of @body: "v1," + base64(HMAC-SHA256(key,
 * "@msg_id.@timestamp.@body")). 0 or -errno.
 */
int webhook_sign(const unsigned char *key, size_t key_length, const char *msg_id,
		 long long timestamp, const char *body, char *out, size_t size);

#endif
