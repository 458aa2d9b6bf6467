// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "files.h"
#include "log.h"
#include "webhook.h"

#define SECRET_FILE_MAX 4096
#define SIGNATURE_SIZE 48 /* "v1," + 44 base64 characters + NUL */

struct webhook {
	char *url;
	char *display_url;
	unsigned long long dropped;

	pthread_mutex_t lock;
	/* Under lock: webhook_set_key may change them while a record is sent. */
	unsigned char key[WEBHOOK_KEY_MAX];
	size_t key_length;
	bool has_key;
};

struct webhook *webhook_new(const char *url, const char *display_url)
{
	struct webhook *webhook = calloc(1, sizeof(*webhook));
	int err = -ENOMEM;

	if (!webhook)
		goto fail;
	webhook->url = strdup(url);
	webhook->display_url = strdup(display_url);
	if (!webhook->url || !webhook->display_url)
		goto free_webhook;
	err = -pthread_mutex_init(&webhook->lock, NULL);
	if (err)
		goto free_webhook;
	return webhook;

free_webhook:
	free(webhook->url);
	free(webhook->display_url);
	free(webhook);
fail:
	errno = -err;
	return NULL;
}

void webhook_free(struct webhook *webhook)
{
	if (!webhook)
		return;
	OPENSSL_cleanse(webhook->key, sizeof(webhook->key));
	pthread_mutex_destroy(&webhook->lock);
	free(webhook->url);
	free(webhook->display_url);
	free(webhook);
}

void webhook_set_key(struct webhook *webhook, const unsigned char *key, size_t length, bool has_key)
{
	pthread_mutex_lock(&webhook->lock);
	memcpy(webhook->key, key, length);
	webhook->key_length = length;
	webhook->has_key = has_key;
	pthread_mutex_unlock(&webhook->lock);
}

/* POSTs @record with its headers, signed when there is a key. */
static enum http_result post_record(struct webhook *webhook, struct http_client *client,
				    const struct spool_record *record, char *why, size_t why_size)
{
	char signature[SIGNATURE_SIZE], timestamp_text[24];
	struct http_header headers[3] = {
	    {"webhook-id", record->webhook_id},
	    {"webhook-timestamp", timestamp_text},
	    {"webhook-signature", signature},
	};
	unsigned char key[WEBHOOK_KEY_MAX];
	size_t key_length, header_count = 2;
	long long timestamp;
	bool has_key;
	int err = 0;

	pthread_mutex_lock(&webhook->lock);
	memcpy(key, webhook->key, webhook->key_length);
	key_length = webhook->key_length;
	has_key = webhook->has_key;
	pthread_mutex_unlock(&webhook->lock);

	timestamp = time(NULL);
	snprintf(timestamp_text, sizeof(timestamp_text), "%lld", timestamp);
	if (has_key) {
		err = webhook_sign(key, key_length, record->webhook_id, timestamp, record->text,
				   signature, sizeof(signature));
		header_count = 3;
	}
	OPENSSL_cleanse(key, sizeof(key));
	if (err) {
		snprintf(why, why_size, "out of memory");
		return HTTP_RETRY;
	}
	return http_post_json(client, webhook->url, headers, header_count, record->text, why,
			      why_size);
}

enum http_result webhook_send(struct webhook *webhook, struct http_client *client,
			      struct spool_list *queue, size_t *done, char *why, size_t why_size)
{
	enum http_result result;

	result = post_record(webhook, client, queue->head, why, why_size);
	if (result == HTTP_RETRY)
		return result;
	if (result == HTTP_DROP) {
		webhook->dropped++;
		pr_err("webhook %s refused record %s (%s); dropped it, %llu so far",
		       webhook->display_url, queue->head->webhook_id, why, webhook->dropped);
	}
	spool_record_free(spool_list_pop(queue));
	(*done)++;
	return result;
}

int webhook_new_id(char *out, size_t size)
{
	unsigned char bytes[16];
	size_t i;

	if (size < SPOOL_WEBHOOK_ID_SIZE || RAND_bytes(bytes, sizeof(bytes)) != 1)
		return -EIO;
	memcpy(out, "msg_", 4);
	for (i = 0; i < sizeof(bytes); i++)
		snprintf(out + 4 + 2 * i, 3, "%02x", bytes[i]);
	return 0;
}

void webhook_fill_ids(struct spool_list *list, size_t *skipped)
{
	struct spool_list named = {0};
	struct spool_record *record;

	while ((record = spool_list_pop(list))) {
		if (!record->webhook_id[0] &&
		    webhook_new_id(record->webhook_id, sizeof(record->webhook_id))) {
			spool_record_free(record);
			(*skipped)++;
			continue;
		}
		spool_list_push(&named, record);
	}
	*list = named;
}

int webhook_read_secret(const char *path, unsigned char *key, size_t size, size_t *length)
{
	char *text = NULL, why[128];
	size_t used = 0;
	int err;

	/* Whoever could write the secret could sign alerts: refused then. */
	err = files_read_trusted(path, SECRET_FILE_MAX, &text, &used, why, sizeof(why));
	if (err == -EPERM) {
		pr_err("webhook secret_file %s is %s: refused (chown root and chmod go-w it)", path,
		       why);
		return err;
	}
	if (err == -EFBIG)
		err = -EINVAL; /* too long for a key file */
	if (err)
		goto report;
	if (strlen(text) != used)
		err = -EINVAL; /* binary */
	else
		err = webhook_parse_secret(text, key, size, length);
	OPENSSL_cleanse(text, used);
	free(text);
report:
	/* Only ever why: never a byte of what was read. */
	if (err == -EINVAL)
		pr_err("webhook secret_file %s: not a secret (whsec_<base64>, or up to %d bytes of "
		       "text)",
		       path, WEBHOOK_KEY_MAX);
	else if (err)
		pr_err("webhook secret_file %s: %s", path, strerror(-err));
	return err;
}

int webhook_parse_secret(const char *text, unsigned char *key, size_t size, size_t *length)
{
	size_t text_length, encoded_length, padded_length, padding = 0;
	unsigned char *decoded = NULL;
	char *padded = NULL;
	int decoded_length, err = 0;

	if (!text || !key || !length)
		return -EINVAL;
	text_length = strlen(text);
	if (text_length && text[text_length - 1] == '\n') {
		text_length--;
		if (text_length && text[text_length - 1] == '\r')
			text_length--;
	}
	if (text_length < 6 || strncmp(text, "whsec_", 6) != 0) {
		if (!text_length)
			return -EINVAL;
		if (text_length > size)
			return -ENOSPC;
		memcpy(key, text, text_length);
		*length = text_length;
		return 0;
	}
	text += 6;
	encoded_length = text_length - 6;
	/* Padding is optional in some generators; EVP_DecodeBlock wants whole quads. */
	padded_length = (encoded_length + 3) / 4 * 4;
	if (!encoded_length || encoded_length % 4 == 1)
		return -EINVAL;
	padded = malloc(padded_length + 1);
	decoded = malloc(padded_length / 4 * 3 + 1);
	if (!padded || !decoded) {
		err = -ENOMEM;
		goto cleanup;
	}
	memcpy(padded, text, encoded_length);
	memset(padded + encoded_length, '=', padded_length - encoded_length);
	padded[padded_length] = '\0';
	decoded_length = EVP_DecodeBlock(decoded, (unsigned char *)padded, padded_length);
	if (decoded_length < 0) {
		err = -EINVAL;
		goto cleanup;
	}
	/* EVP_DecodeBlock counts the padding as zero bytes. */
	while (padding < 2 && padded[padded_length - 1 - padding] == '=')
		padding++;
	decoded_length -= padding;
	if (decoded_length <= 0) {
		err = -EINVAL;
		goto cleanup;
	}
	if ((size_t)decoded_length > size) {
		err = -ENOSPC;
		goto cleanup;
	}
	memcpy(key, decoded, decoded_length);
	*length = decoded_length;
cleanup:
	if (decoded)
		OPENSSL_cleanse(decoded, padded_length / 4 * 3 + 1);
	free(decoded);
	free(padded);
	return err;
}

int webhook_sign(const unsigned char *key, size_t key_length, const char *msg_id,
		 long long timestamp, const char *body, char *out, size_t size)
{
	static const unsigned char no_key[1];
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_length = 0;
	char *message = NULL;
	int length, err = 0;

	if (!msg_id || !body || !out)
		return -EINVAL;
	if (size < SIGNATURE_SIZE)
		return -ENOSPC;
	length = asprintf(&message, "%s.%lld.%s", msg_id, timestamp, body);
	if (length < 0)
		return -ENOMEM;
	if (!HMAC(EVP_sha256(), key_length ? key : no_key, key_length,
		  (const unsigned char *)message, length, mac, &mac_length)) {
		err = -EIO;
		goto cleanup;
	}
	memcpy(out, "v1,", 3);
	EVP_EncodeBlock((unsigned char *)out + 3, mac, mac_length);
cleanup:
	free(message);
	return err;
}
