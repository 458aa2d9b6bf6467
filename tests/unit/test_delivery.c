// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests for user/sinks/delivery.c against a real HTTP server on 127.0.0.1,
 * run in a thread of this test: it records every request and answers 200,
 * 400 or 500, never answers, or is not there at all (connection refused).
 * ABUSEWATCH_TEST_BACKOFF_MS and ABUSEWATCH_TEST_RESEND_MS shorten the
 * backoff and the re-send interval so that outages take milliseconds.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "alert.h"
#include "delivery.h"
#include "log.h"

#define MAX_REQUESTS 512
#define MAX_HELD 64
#define REQUEST_MAX (1 << 20)

/* ---- the test's HTTP server ---- */

struct request {
	char method[16];
	char path[256];
	char *headers; /* the raw header block */
	char *body;
};

struct server {
	int listen_fd;
	int port;
	int wake_pipe[2];
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t changed;
	int status; /* the answer; 0: read the request and never answer */
	struct request requests[MAX_REQUESTS];
	size_t count;
	int held[MAX_HELD];
	size_t held_count;
};

static double now_seconds(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec + now.tv_nsec / 1e9;
}

static void sleep_ms(long ms)
{
	struct timespec pause = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&pause, NULL);
}

/* Reads one request from @fd; 0 or -1 when it is cut short or never completes. */
static int read_request(int fd, struct request *request)
{
	size_t size = 0, header_length = 0, body_length = 0;
	struct pollfd poll_fd = {.fd = fd, .events = POLLIN};
	char *buffer = malloc(REQUEST_MAX + 1), *end, *field;
	ssize_t got;

	assert_non_null(buffer);
	for (;;) {
		buffer[size] = '\0';
		end = strstr(buffer, "\r\n\r\n");
		if (end && !header_length) {
			header_length = end - buffer + 4;
			field = strcasestr(buffer, "\r\ncontent-length:");
			if (field)
				body_length = strtoul(field + 17, NULL, 10);
		}
		if (header_length && size >= header_length + body_length)
			break;
		if (size == REQUEST_MAX || poll(&poll_fd, 1, 3000) <= 0)
			goto fail;
		got = recv(fd, buffer + size, REQUEST_MAX - size, 0);
		if (got <= 0)
			goto fail;
		size += got;
	}
	if (sscanf(buffer, "%15s %255s", request->method, request->path) != 2)
		goto fail;
	request->headers = strndup(buffer, header_length);
	request->body = strndup(buffer + header_length, body_length);
	free(buffer);
	return 0;
fail:
	free(buffer);
	return -1;
}

static void *server_main(void *data)
{
	struct server *server = data;
	struct pollfd fds[2] = {
	    {.fd = server->listen_fd, .events = POLLIN},
	    {.fd = server->wake_pipe[0], .events = POLLIN},
	};
	struct request request;
	char answer[128];
	int fd, status;

	for (;;) {
		if (poll(fds, 2, -1) < 0)
			continue;
		if (fds[1].revents)
			break;
		fd = accept(server->listen_fd, NULL, NULL);
		if (fd < 0)
			continue;
		memset(&request, 0, sizeof(request));
		if (read_request(fd, &request)) {
			close(fd);
			continue;
		}
		pthread_mutex_lock(&server->lock);
		status = server->status;
		if (server->count < MAX_REQUESTS)
			server->requests[server->count++] = request;
		else
			fail_msg("too many requests");
		pthread_cond_broadcast(&server->changed);
		if (!status && server->held_count < MAX_HELD) {
			server->held[server->held_count++] = fd;
			fd = -1;
		}
		pthread_mutex_unlock(&server->lock);
		if (fd < 0)
			continue;
		snprintf(answer, sizeof(answer),
			 "HTTP/1.1 %d Test\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
			 status);
		if (write(fd, answer, strlen(answer)) < 0)
			fprintf(stderr, "test server: write: %s\n", strerror(errno));
		close(fd);
	}
	return NULL;
}

/* Listens on 127.0.0.1:@port (0: any free one). */
static struct server *server_start(int port, int status)
{
	struct sockaddr_in address = {.sin_family = AF_INET};
	socklen_t length = sizeof(address);
	struct server *server;
	int one = 1;

	server = calloc(1, sizeof(*server));
	assert_non_null(server);
	server->status = status;
	pthread_mutex_init(&server->lock, NULL);
	pthread_cond_init(&server->changed, NULL);
	server->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(server->listen_fd >= 0);
	setsockopt(server->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	address.sin_port = htons(port);
	assert_int_equal(bind(server->listen_fd, (struct sockaddr *)&address, sizeof(address)), 0);
	assert_int_equal(listen(server->listen_fd, 128), 0);
	assert_int_equal(getsockname(server->listen_fd, (struct sockaddr *)&address, &length), 0);
	server->port = ntohs(address.sin_port);
	assert_int_equal(pipe2(server->wake_pipe, O_CLOEXEC), 0);
	assert_int_equal(pthread_create(&server->thread, NULL, server_main, server), 0);
	return server;
}

/* Stops and frees @server; its port refuses connections from now on. */
static void server_stop(struct server *server)
{
	size_t i;

	if (!server)
		return;
	assert_int_equal(write(server->wake_pipe[1], "x", 1), 1);
	pthread_join(server->thread, NULL);
	close(server->listen_fd);
	close(server->wake_pipe[0]);
	close(server->wake_pipe[1]);
	for (i = 0; i < server->held_count; i++)
		close(server->held[i]);
	for (i = 0; i < server->count; i++) {
		free(server->requests[i].headers);
		free(server->requests[i].body);
	}
	pthread_mutex_destroy(&server->lock);
	pthread_cond_destroy(&server->changed);
	free(server);
}

/* A port with nothing listening: connections to it are refused. */
static int closed_port(void)
{
	struct server *server = server_start(0, 200);
	int port = server->port;

	server_stop(server);
	return port;
}

static void server_set_status(struct server *server, int status)
{
	pthread_mutex_lock(&server->lock);
	server->status = status;
	pthread_mutex_unlock(&server->lock);
}

static size_t server_count(struct server *server)
{
	size_t count;

	pthread_mutex_lock(&server->lock);
	count = server->count;
	pthread_mutex_unlock(&server->lock);
	return count;
}

/* Waits up to @timeout_s for @count requests; returns how many came. */
static size_t server_wait(struct server *server, size_t count, double timeout_s)
{
	double deadline = now_seconds() + timeout_s;
	size_t got;

	while ((got = server_count(server)) < count && now_seconds() < deadline)
		sleep_ms(10);
	return got;
}

/* The value of header @name in @request (copied to @out), or NULL. */
static const char *request_header(const struct request *request, const char *name, char *out,
				  size_t size)
{
	char pattern[128];
	const char *field, *end;

	snprintf(pattern, sizeof(pattern), "\r\n%s:", name);
	field = strcasestr(request->headers, pattern);
	if (!field)
		return NULL;
	field += strlen(pattern);
	while (*field == ' ')
		field++;
	end = strstr(field, "\r\n");
	snprintf(out, size, "%.*s", (int)(end - field), field);
	return out;
}

static bool wait_pending(struct delivery *delivery, size_t pending, double timeout_s)
{
	double deadline = now_seconds() + timeout_s;

	while (delivery_pending(delivery) != pending && now_seconds() < deadline)
		sleep_ms(10);
	return delivery_pending(delivery) == pending;
}

/* ---- fixtures ---- */

struct fixture {
	char state_dir[64];
	char url[64];
	char secret_file[128];
	const char *alertmanager[1];
	struct delivery_targets targets;
};

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int setup(void **state)
{
	struct fixture *fixture = calloc(1, sizeof(*fixture));

	if (!fixture)
		return -1;
	strcpy(fixture->state_dir, "/tmp/abusewatch-test-XXXXXX");
	if (!mkdtemp(fixture->state_dir))
		return -1;
	/* Under the temporary directory, so that delivery_new has to create it. */
	strcat(fixture->state_dir, "/state");
	*state = fixture;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fixture = *state;

	*strrchr(fixture->state_dir, '/') = '\0';
	nftw(fixture->state_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(fixture);
	return 0;
}

static void use_url(struct fixture *fixture, int port)
{
	snprintf(fixture->url, sizeof(fixture->url), "http://127.0.0.1:%d", port);
}

static const struct delivery_targets *alertmanager_only(struct fixture *fixture)
{
	fixture->alertmanager[0] = fixture->url;
	fixture->targets = (struct delivery_targets){
	    .alertmanager = fixture->alertmanager,
	    .alertmanager_count = 1,
	};
	return &fixture->targets;
}

static const struct delivery_targets *webhook_only(struct fixture *fixture, const char *secret)
{
	FILE *file;

	fixture->targets = (struct delivery_targets){.webhook_url = fixture->url};
	if (secret) {
		*strrchr(fixture->state_dir, '/') = '\0';
		snprintf(fixture->secret_file, sizeof(fixture->secret_file), "%s/secret",
			 fixture->state_dir);
		strcat(fixture->state_dir, "/state");
		file = fopen(fixture->secret_file, "w");
		assert_non_null(file);
		fputs(secret, file);
		fclose(file);
		fixture->targets.webhook_secret_file = fixture->secret_file;
	}
	return &fixture->targets;
}

static struct alert test_alert(const char *tenant, bool firing)
{
	struct alert alert = {
	    .kind = ALERT_OVERUSE,
	    .firing = firing,
	    .time = 1795462230.5,
	    .started_at = 1795462200,
	    .host = "node1",
	    .tenant = tenant,
	    .plan = "default",
	    .cgroup = "/ci/web",
	    .resource = "cpu",
	    .value = 1.02,
	    .limit = 0.5,
	    .window_s = 60,
	    .rule = "plan",
	};

	return alert;
}

/* Lines of the spool file of the target named @prefix...@suffix; -1 if there is none. */
static int spool_lines(struct fixture *fixture, const char *prefix, const char *suffix,
		       char ***lines)
{
	char path[512], *line = NULL;
	size_t capacity = 0, length;
	struct dirent *entry;
	int count = -1;
	FILE *file;
	DIR *dir;

	snprintf(path, sizeof(path), "%s/spool", fixture->state_dir);
	dir = opendir(path);
	if (!dir)
		return -1;
	while ((entry = readdir(dir))) {
		length = strlen(entry->d_name);
		if (strncmp(entry->d_name, prefix, strlen(prefix)) != 0 ||
		    length < strlen(suffix) ||
		    strcmp(entry->d_name + length - strlen(suffix), suffix) != 0)
			continue;
		snprintf(path, sizeof(path), "%s/spool/%s", fixture->state_dir, entry->d_name);
		file = fopen(path, "r");
		assert_non_null(file);
		count = 0;
		while (getline(&line, &capacity, file) > 0) {
			if (lines) {
				*lines = realloc(*lines, (count + 1) * sizeof(**lines));
				(*lines)[count] = strdup(line);
			}
			count++;
		}
		fclose(file);
		break;
	}
	free(line);
	closedir(dir);
	return count;
}

static void free_lines(char **lines, int count)
{
	int i;

	for (i = 0; i < count; i++)
		free(lines[i]);
	free(lines);
}

/* ---- signatures and secrets ---- */

static void base64_decode(const char *text, unsigned char *out, size_t *length)
{
	int decoded = EVP_DecodeBlock(out, (const unsigned char *)text, strlen(text));

	assert_true(decoded > 0);
	*length = decoded - (text[strlen(text) - 1] == '=') - (text[strlen(text) - 2] == '=');
}

/* The signature as the test computes it, with OpenSSL directly. */
static void expected_signature(const unsigned char *key, size_t key_length, const char *id,
			       const char *timestamp, const char *body, char *out)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_length;
	char *message;

	assert_true(asprintf(&message, "%s.%s.%s", id, timestamp, body) > 0);
	assert_non_null(HMAC(EVP_sha256(), key, key_length, (unsigned char *)message,
			     strlen(message), mac, &mac_length));
	strcpy(out, "v1,");
	EVP_EncodeBlock((unsigned char *)out + 3, mac, mac_length);
	free(message);
}

static void test_sign_standard_webhooks_example(void **state)
{
	unsigned char key[64], independent_key[64];
	size_t length, independent_length;
	char signature[64], expected[64];

	assert_int_equal(delivery_parse_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", key,
					       sizeof(key), &length),
			 0);
	base64_decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", independent_key, &independent_length);
	assert_int_equal(length, independent_length);
	assert_memory_equal(key, independent_key, length);
	assert_int_equal(delivery_sign_webhook(key, length, "msg_p5jXN8AQM9LWM0D4loKWxJek",
					       1614265330, "{\"test\": 2432232314}", signature,
					       sizeof(signature)),
			 0);
	assert_string_equal(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
	expected_signature(key, length, "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330",
			   "{\"test\": 2432232314}", expected);
	assert_string_equal(signature, expected);
}

static void test_sign_fixed_vector(void **state)
{
	static const unsigned char key[] = "not so secret";
	char signature[64], expected[64];

	expected_signature(key, sizeof(key) - 1, "msg_1", "1700000000", "{\"kind\":\"overuse\"}",
			   expected);
	assert_int_equal(delivery_sign_webhook(key, sizeof(key) - 1, "msg_1", 1700000000,
					       "{\"kind\":\"overuse\"}", signature,
					       sizeof(signature)),
			 0);
	assert_string_equal(signature, expected);
	/* Any change to id, time or body changes it. */
	assert_int_equal(delivery_sign_webhook(key, sizeof(key) - 1, "msg_1", 1700000001,
					       "{\"kind\":\"overuse\"}", signature,
					       sizeof(signature)),
			 0);
	assert_string_not_equal(signature, expected);
	assert_int_equal(
	    delivery_sign_webhook(key, sizeof(key) - 1, "msg_1", 1700000000, "{}", signature, 20),
	    -ENOSPC);
}

static void check_secret(const char *text, const char *expected, size_t expected_length)
{
	unsigned char key[64];
	size_t length = 0;

	if (delivery_parse_secret(text, key, sizeof(key), &length) != 0)
		fail_msg("\"%s\" was refused", text);
	assert_int_equal(length, expected_length);
	assert_memory_equal(key, expected, length);
}

static void test_parse_secret(void **state)
{
	unsigned char key[64];
	size_t length;

	check_secret("whsec_YWJjZGVm\n", "abcdef", 6);
	check_secret("whsec_YWJjZA==", "abcd", 4);
	check_secret("whsec_YWJjZA", "abcd", 4); /* padding left out */
	check_secret("whsec_AAEC", "\0\1\2", 3);
	check_secret("hunter2\n", "hunter2", 7);
	check_secret("hunter2\r\n", "hunter2", 7);
	check_secret("two\n\n", "two\n", 4); /* only one newline is the file's */
	check_secret("whsec", "whsec", 5);
	assert_int_equal(delivery_parse_secret("", key, sizeof(key), &length), -EINVAL);
	assert_int_equal(delivery_parse_secret("\n", key, sizeof(key), &length), -EINVAL);
	assert_int_equal(delivery_parse_secret("whsec_", key, sizeof(key), &length), -EINVAL);
	assert_int_equal(delivery_parse_secret("whsec_!!!!", key, sizeof(key), &length), -EINVAL);
	assert_int_equal(delivery_parse_secret("whsec_YWJjZ", key, sizeof(key), &length), -EINVAL);
	assert_int_equal(delivery_parse_secret("whsec_YWJjZGVm", key, 3, &length), -ENOSPC);
	assert_int_equal(delivery_parse_secret("hunter2", key, 3, &length), -ENOSPC);
}

/* ---- delivery ---- */

static struct json_object *member(struct json_object *object, const char *key)
{
	struct json_object *value = NULL;

	json_object_object_get_ex(object, key, &value);
	return value;
}

/* The elements of an Alertmanager POST, checked for shape; the caller puts it. */
static struct json_object *alertmanager_body(const struct request *request)
{
	struct json_object *body;

	assert_string_equal(request->method, "POST");
	assert_string_equal(request->path, "/api/v2/alerts");
	body = json_tokener_parse(request->body);
	assert_non_null(body);
	assert_true(json_object_is_type(body, json_type_array));
	return body;
}

static void test_alertmanager(void **state)
{
	struct fixture *fixture = *state;
	struct server *server = server_start(0, 200);
	struct json_object *body, *element, *labels;
	struct delivery *delivery;
	struct alert alert;
	char type[64], soon[32], later[32];
	size_t count, seen;
	bool ended;

	use_url(fixture, server->port);
	delivery = delivery_new(fixture->state_dir, alertmanager_only(fixture));
	assert_non_null(delivery);
	alert = test_alert("web", true);
	assert_int_equal(delivery_enqueue(delivery, &alert), 0);
	assert_int_equal(server_wait(server, 1, 5), 1);
	assert_true(wait_pending(delivery, 0, 2));

	body = alertmanager_body(&server->requests[0]);
	assert_non_null(request_header(&server->requests[0], "content-type", type, sizeof(type)));
	assert_string_equal(type, "application/json");
	assert_int_equal(json_object_array_length(body), 1);
	element = json_object_array_get_idx(body, 0);
	labels = member(element, "labels");
	assert_string_equal(json_object_get_string(member(labels, "alertname")),
			    "AbusewatchOveruse");
	assert_string_equal(json_object_get_string(member(labels, "tenant")), "web");
	assert_string_equal(json_object_get_string(member(labels, "resource")), "cpu");
	assert_string_equal(json_object_get_string(member(element, "startsAt")),
			    "2026-11-23T19:30:00.000Z");
	/* Firing: endsAt about two minutes from now (RFC 3339 compares as text). */
	alert_format_time(time(NULL) + 100, soon, sizeof(soon));
	alert_format_time(time(NULL) + 140, later, sizeof(later));
	assert_true(strcmp(json_object_get_string(member(element, "endsAt")), soon) > 0);
	assert_true(strcmp(json_object_get_string(member(element, "endsAt")), later) < 0);
	json_object_put(body);

	/* Re-sent while it fires, with nothing new queued. */
	assert_true(server_wait(server, 3, 5) >= 3);
	body = alertmanager_body(&server->requests[2]);
	element = json_object_array_get_idx(body, 0);
	assert_string_equal(json_object_get_string(member(member(element, "labels"), "tenant")),
			    "web");
	json_object_put(body);
	assert_int_equal(spool_lines(fixture, "alertmanager-http___127.0.0.1_", ".firing", NULL),
			 1);

	/* Resolved: endsAt is its time, and the re-sends stop. */
	alert.firing = false;
	assert_int_equal(delivery_enqueue(delivery, &alert), 0);
	for (seen = 0;; seen++) {
		count = server_wait(server, seen + 1, 5);
		assert_true(count > seen);
		body = alertmanager_body(&server->requests[seen]);
		element = json_object_array_get_idx(body, 0);
		ended = strcmp(json_object_get_string(member(element, "endsAt")),
			       "2026-11-23T19:30:30.500Z") == 0;
		json_object_put(body);
		if (ended)
			break;
	}
	assert_true(wait_pending(delivery, 0, 2));
	sleep_ms(200);
	count = server_count(server);
	sleep_ms(1000);
	assert_int_equal(server_count(server), count);
	assert_int_equal(spool_lines(fixture, "alertmanager-http___127.0.0.1_", ".firing", NULL),
			 0);
	assert_int_equal(spool_lines(fixture, "alertmanager-http___127.0.0.1_", ".queue", NULL), 0);
	delivery_free(delivery, 1);
	server_stop(server);
}

static void test_webhook(void **state)
{
	struct fixture *fixture = *state;
	struct server *server = server_start(0, 200);
	char id[64], timestamp[32], signature[128], expected[128], type[64];
	struct json_object *record, *sent;
	const struct request *request;
	struct delivery *delivery;
	unsigned char key[64];
	struct alert alert, back;
	size_t key_length;
	long long when;

	use_url(fixture, server->port);
	delivery = delivery_new(fixture->state_dir,
				webhook_only(fixture, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n"));
	assert_non_null(delivery);
	alert = test_alert("web", true);
	assert_int_equal(delivery_enqueue(delivery, &alert), 0);
	assert_int_equal(server_wait(server, 1, 5), 1);
	assert_true(wait_pending(delivery, 0, 2));

	request = &server->requests[0];
	assert_string_equal(request->method, "POST");
	assert_string_equal(request->path, "/");
	assert_non_null(request_header(request, "content-type", type, sizeof(type)));
	assert_string_equal(type, "application/json");
	assert_non_null(request_header(request, "webhook-id", id, sizeof(id)));
	assert_non_null(request_header(request, "webhook-timestamp", timestamp, sizeof(timestamp)));
	assert_non_null(request_header(request, "webhook-signature", signature, sizeof(signature)));
	assert_true(strncmp(id, "msg_", 4) == 0 && strlen(id) > 4);
	when = strtoll(timestamp, NULL, 10);
	assert_true(when > time(NULL) - 60 && when <= time(NULL));
	base64_decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", key, &key_length);
	expected_signature(key, key_length, id, timestamp, request->body, expected);
	assert_string_equal(signature, expected);

	/* The body is the record itself. */
	record = alert_to_json(&alert);
	sent = json_tokener_parse(request->body);
	assert_non_null(sent);
	assert_int_equal(alert_from_json(sent, &back), 0);
	assert_string_equal(json_object_to_json_string(sent), json_object_to_json_string(record));
	json_object_put(sent);
	json_object_put(record);
	delivery_free(delivery, 1);
	server_stop(server);
}

static void test_unreadable_secret(void **state)
{
	struct fixture *fixture = *state;
	struct delivery *delivery;

	use_url(fixture, closed_port());
	fixture->targets = (struct delivery_targets){
	    .webhook_url = fixture->url,
	    .webhook_secret_file = "/nonexistent/abusewatch-secret",
	};
	errno = 0;
	delivery = delivery_new(fixture->state_dir, &fixture->targets);
	assert_null(delivery);
	assert_int_equal(errno, ENOENT);
}

/*
 * Found by `make sanitize` (UBSan, in every end-to-end test): with no
 * sink configured the worker copied its NULL list of targets with
 * memcpy(), which must not be given NULL even for no bytes. Nothing to
 * deliver, nothing kept; under UBSan the worker would abort here.
 */
static void test_no_targets(void **state)
{
	struct fixture *fixture = *state;
	struct alert alert = test_alert("web", true);
	struct delivery *delivery;

	delivery = delivery_new(fixture->state_dir, &(struct delivery_targets){ 0 });
	assert_non_null(delivery);
	assert_int_equal(delivery_enqueue(delivery, &alert), 0);
	/* The worker has run at least once: nothing is pending once it has looked. */
	for (int i = 0; i < 100 && delivery_pending(delivery); i++)
		usleep(10000);
	assert_int_equal(delivery_pending(delivery), 0);
	delivery_free(delivery, 1);
}

static void test_down_then_up(void **state)
{
	struct fixture *fixture = *state;
	int port = closed_port();
	struct delivery *delivery;
	struct server *server;
	struct alert alert;

	use_url(fixture, port);
	delivery = delivery_new(fixture->state_dir, webhook_only(fixture, "raw secret\n"));
	assert_non_null(delivery);
	alert = test_alert("web", true);
	assert_int_equal(delivery_enqueue(delivery, &alert), 0);
	/* Refused a few times over (backoff 50, 100, 200 ms), and still waiting. */
	sleep_ms(400);
	assert_int_equal(delivery_pending(delivery), 1);

	server = server_start(port, 200);
	assert_int_equal(server_wait(server, 1, 5), 1);
	assert_true(wait_pending(delivery, 0, 2));
	sleep_ms(500);
	assert_int_equal(server_count(server), 1);
	delivery_free(delivery, 1);
	server_stop(server);
}

static void test_spool_survives_restart(void **state)
{
	struct fixture *fixture = *state;
	static const char *const tenants[] = {"web", "api", "ci"};
	const char *alertmanager[1];
	struct delivery_targets targets;
	char **lines = NULL, id[64];
	struct json_object *line, *body;
	size_t i, j, k, elements, requests, webhooks = 0;
	struct json_object *element;
	const char *tenant;
	struct delivery *delivery;
	int port = closed_port(), count;
	struct server *server;
	struct alert alert;

	use_url(fixture, port);
	alertmanager[0] = fixture->url;
	targets = *webhook_only(fixture, NULL);
	targets.alertmanager = alertmanager;
	targets.alertmanager_count = 1;
	delivery = delivery_new(fixture->state_dir, &targets);
	assert_non_null(delivery);
	for (i = 0; i < 3; i++) {
		alert = test_alert(tenants[i], true);
		assert_int_equal(delivery_enqueue(delivery, &alert), 0);
	}
	assert_int_equal(delivery_pending(delivery), 6);
	delivery_free(delivery, 0.2);

	/* One line a record, oldest first, the webhook's with its id. */
	count = spool_lines(fixture, "webhook-http___127.0.0.1_", ".queue", &lines);
	assert_int_equal(count, 3);
	for (i = 0; i < 3; i++) {
		line = json_tokener_parse(lines[i]);
		assert_non_null(line);
		assert_int_equal(
		    strncmp(json_object_get_string(member(line, "webhook_id")), "msg_", 4), 0);
		assert_string_equal(
		    json_object_get_string(member(member(line, "record"), "tenant")), tenants[i]);
		json_object_put(line);
	}
	assert_int_equal(spool_lines(fixture, "alertmanager-http___127.0.0.1_", ".queue", NULL), 3);

	delivery = delivery_new(fixture->state_dir, &targets);
	assert_non_null(delivery);
	assert_int_equal(delivery_pending(delivery), 6);
	server = server_start(port, 200);
	assert_true(wait_pending(delivery, 0, 5));
	sleep_ms(100);
	requests = server_count(server);
	elements = 0;
	for (i = 0; i < requests; i++) {
		if (strcmp(server->requests[i].path, "/api/v2/alerts") == 0) {
			body = alertmanager_body(&server->requests[i]);
			for (j = 0; j < json_object_array_length(body); j++) {
				element = json_object_array_get_idx(body, j);
				tenant = json_object_get_string(
				    member(member(element, "labels"), "tenant"));
				for (k = 0; k < 3; k++)
					if (strcmp(tenant, tenants[k]) == 0)
						elements |= 1u << k;
			}
			json_object_put(body);
			continue;
		}
		/* Delivered with the id it was spooled with. */
		assert_non_null(request_header(&server->requests[i], "webhook-id", id, sizeof(id)));
		assert_true(strstr(lines[0], id) || strstr(lines[1], id) || strstr(lines[2], id));
		webhooks++;
	}
	assert_int_equal(webhooks, 3);
	/* Every tenant's alert reached Alertmanager (a re-send may have come too). */
	assert_int_equal(elements, 7);
	assert_int_equal(spool_lines(fixture, "webhook-http___127.0.0.1_", ".queue", NULL), 0);
	assert_int_equal(spool_lines(fixture, "alertmanager-http___127.0.0.1_", ".queue", NULL), 0);
	assert_int_equal(spool_lines(fixture, "alertmanager-http___127.0.0.1_", ".firing", NULL),
			 3);
	delivery_free(delivery, 1);
	free_lines(lines, count);

	/* The firing set came back too: re-sent at start, with nothing queued. */
	requests = server_count(server);
	delivery = delivery_new(fixture->state_dir, alertmanager_only(fixture));
	assert_non_null(delivery);
	assert_int_equal(delivery_pending(delivery), 0);
	assert_true(server_wait(server, requests + 1, 5) > requests);
	body = alertmanager_body(&server->requests[requests]);
	assert_int_equal(json_object_array_length(body), 3);
	json_object_put(body);
	delivery_free(delivery, 1);
	server_stop(server);
}

static void test_retry_after_500(void **state)
{
	struct fixture *fixture = *state;
	struct server *server = server_start(0, 500);
	char first[64], id[64];
	struct delivery *delivery;
	struct alert alert;
	size_t count, i;

	use_url(fixture, server->port);
	delivery = delivery_new(fixture->state_dir, webhook_only(fixture, "secret"));
	assert_non_null(delivery);
	alert = test_alert("web", true);
	assert_int_equal(delivery_enqueue(delivery, &alert), 0);
	assert_true(server_wait(server, 3, 5) >= 3);
	assert_int_equal(delivery_pending(delivery), 1);
	server_set_status(server, 200);
	assert_true(wait_pending(delivery, 0, 5));
	sleep_ms(300);
	count = server_count(server);
	/* Every attempt is the same message to the receiver. */
	request_header(&server->requests[0], "webhook-id", first, sizeof(first));
	for (i = 1; i < count; i++) {
		request_header(&server->requests[i], "webhook-id", id, sizeof(id));
		assert_string_equal(id, first);
	}
	sleep_ms(300);
	assert_int_equal(server_count(server), count);
	delivery_free(delivery, 1);
	server_stop(server);
}

static void test_drop_after_400(void **state)
{
	struct fixture *fixture = *state;
	struct server *server = server_start(0, 400);
	const char *alertmanager[1];
	struct delivery_targets targets;
	struct delivery *delivery;
	struct alert alert;
	size_t count;

	use_url(fixture, server->port);
	alertmanager[0] = fixture->url;
	targets = *webhook_only(fixture, NULL);
	targets.alertmanager = alertmanager;
	targets.alertmanager_count = 1;
	delivery = delivery_new(fixture->state_dir, &targets);
	assert_non_null(delivery);
	alert = test_alert("web", true);
	assert_int_equal(delivery_enqueue(delivery, &alert), 0);
	alert = test_alert("api", false);
	assert_int_equal(delivery_enqueue(delivery, &alert), 0);
	assert_true(wait_pending(delivery, 0, 5));
	/* Two webhook records, tried once each; Alertmanager's batch, then one by one. */
	count = server_wait(server, 4, 2);
	assert_true(count >= 4 && count <= 5);
	sleep_ms(500);
	assert_int_equal(server_count(server), count);
	assert_int_equal(spool_lines(fixture, "webhook-http___127.0.0.1_", ".queue", NULL), 0);
	assert_int_equal(spool_lines(fixture, "alertmanager-http___127.0.0.1_", ".queue", NULL), 0);
	delivery_free(delivery, 1);
	server_stop(server);
}

static void test_enqueue_never_blocks(void **state)
{
	struct fixture *fixture = *state;
	struct server *server = server_start(0, 0);
	const char *alertmanager[1];
	struct delivery_targets targets;
	struct delivery *delivery;
	struct alert alert;
	double started;
	int i;

	use_url(fixture, server->port);
	alertmanager[0] = fixture->url;
	targets = *webhook_only(fixture, "secret");
	targets.alertmanager = alertmanager;
	targets.alertmanager_count = 1;
	delivery = delivery_new(fixture->state_dir, &targets);
	assert_non_null(delivery);
	alert = test_alert("web", true);
	assert_int_equal(delivery_enqueue(delivery, &alert), 0);
	/* The server has each target's first request and sits on them. */
	assert_int_equal(server_wait(server, 2, 5), 2);
	for (i = 0; i < 100; i++)
		assert_int_equal(delivery_enqueue(delivery, &alert), 0);
	assert_int_equal(delivery_pending(delivery), 202);

	/* A hung peer holds shutdown no longer than the grace and a connect timeout. */
	started = now_seconds();
	delivery_free(delivery, 0.3);
	assert_true(now_seconds() - started < 0.3 + 2 + 1);
	assert_int_equal(spool_lines(fixture, "webhook-http___127.0.0.1_", ".queue", NULL), 101);
	assert_int_equal(spool_lines(fixture, "alertmanager-http___127.0.0.1_", ".queue", NULL),
			 101);
	server_stop(server);
}

/*
 * An Alertmanager peer that never answers delays no record of the
 * webhook: each reaches it well within the peer's request timeout (5 s),
 * and the peer gets them all once it answers again.
 */
static void test_hung_target_delays_no_other(void **state)
{
	struct fixture *fixture = *state;
	struct server *hung = server_start(0, 0), *answering = server_start(0, 200);
	char hung_url[64], tenant[16];
	const char *alertmanager[1] = {hung_url};
	struct delivery_targets targets;
	struct delivery *delivery;
	struct alert alert;
	double sent;
	int i;

	snprintf(hung_url, sizeof(hung_url), "http://127.0.0.1:%d", hung->port);
	use_url(fixture, answering->port);
	targets = *webhook_only(fixture, NULL);
	targets.alertmanager = alertmanager;
	targets.alertmanager_count = 1;
	delivery = delivery_new(fixture->state_dir, &targets);
	assert_non_null(delivery);
	for (i = 1; i <= 4; i++) {
		snprintf(tenant, sizeof(tenant), "web%d", i);
		alert = test_alert(tenant, true);
		sent = now_seconds();
		assert_int_equal(delivery_enqueue(delivery, &alert), 0);
		assert_int_equal(server_wait(answering, i, 1), i);
		print_message("record %d reached the webhook after %.3f s\n", i,
			      now_seconds() - sent);
	}
	/* The peer sat on its first request all along. */
	assert_int_equal(server_count(hung), 1);

	server_set_status(hung, 200);
	/* Its request times out (5 s), then the retries carry all four. */
	assert_true(wait_pending(delivery, 0, 15));
	assert_true(server_count(hung) >= 2);
	delivery_free(delivery, 1);
	server_stop(hung);
	server_stop(answering);
}

/*
 * A webhook removed while its request hangs, and configured again at once:
 * neither reload waits for that request, and the new target reads the
 * spool only after the old one's worker has let go of it (its request
 * timed out), so both records reach the webhook once it answers.
 */
static void test_retire_while_in_flight(void **state)
{
	struct fixture *fixture = *state;
	struct server *server = server_start(0, 0);
	struct delivery_targets none = {0};
	struct delivery *delivery;
	struct alert alert;
	double started;

	use_url(fixture, server->port);
	delivery = delivery_new(fixture->state_dir, webhook_only(fixture, NULL));
	assert_non_null(delivery);
	alert = test_alert("web", true);
	assert_int_equal(delivery_enqueue(delivery, &alert), 0);
	assert_int_equal(delivery_enqueue(delivery, &alert), 0);
	assert_int_equal(server_wait(server, 1, 5), 1);

	started = now_seconds();
	assert_int_equal(delivery_set_targets(delivery, &none), 0);
	assert_int_equal(delivery_pending(delivery), 0);
	assert_int_equal(delivery_set_targets(delivery, webhook_only(fixture, NULL)), 0);
	assert_true(now_seconds() - started < 0.5);
	server_set_status(server, 200);
	/* The held request, then the two records again. */
	assert_int_equal(server_wait(server, 3, 15), 3);
	assert_true(wait_pending(delivery, 0, 2));
	delivery_free(delivery, 1);
	assert_int_equal(spool_lines(fixture, "webhook-http___127.0.0.1_", ".queue", NULL), 0);
	server_stop(server);
}

static void test_set_targets(void **state)
{
	struct fixture *fixture = *state;
	struct server *server = server_start(0, 200);
	const char *alertmanager[1];
	struct delivery_targets targets, bad;
	char server_url[64];
	struct delivery *delivery;
	struct alert alert;
	size_t count;

	/* A webhook that is down holds two records. */
	use_url(fixture, closed_port());
	delivery = delivery_new(fixture->state_dir, webhook_only(fixture, NULL));
	assert_non_null(delivery);
	alert = test_alert("web", true);
	assert_int_equal(delivery_enqueue(delivery, &alert), 0);
	assert_int_equal(delivery_enqueue(delivery, &alert), 0);
	assert_int_equal(delivery_pending(delivery), 2);

	/* A secret that cannot be read changes nothing. */
	bad = fixture->targets;
	bad.webhook_secret_file = "/nonexistent/abusewatch-secret";
	assert_int_equal(delivery_set_targets(delivery, &bad), -ENOENT);
	assert_int_equal(delivery_pending(delivery), 2);

	/* Swapped for Alertmanager: the webhook's records stay in its spool. */
	snprintf(server_url, sizeof(server_url), "http://127.0.0.1:%d/", server->port);
	alertmanager[0] = server_url;
	targets = (struct delivery_targets){.alertmanager = alertmanager, .alertmanager_count = 1};
	assert_int_equal(delivery_set_targets(delivery, &targets), 0);
	assert_int_equal(delivery_pending(delivery), 0);
	alert = test_alert("api", false);
	assert_int_equal(delivery_enqueue(delivery, &alert), 0);
	assert_int_equal(server_wait(server, 1, 5), 1);
	assert_true(wait_pending(delivery, 0, 2));
	assert_string_equal(server->requests[0].path, "/api/v2/alerts");
	count = 0;
	while (spool_lines(fixture, "webhook-http___127.0.0.1_", ".queue", NULL) != 2 &&
	       count++ < 200)
		sleep_ms(10);
	assert_int_equal(spool_lines(fixture, "webhook-http___127.0.0.1_", ".queue", NULL), 2);

	/* The same Alertmanager (trailing slash aside) and the webhook again: its spool is back. */
	targets.webhook_url = fixture->url;
	snprintf(server_url, sizeof(server_url), "http://127.0.0.1:%d", server->port);
	alertmanager[0] = server_url;
	assert_int_equal(delivery_set_targets(delivery, &targets), 0);
	assert_true(wait_pending(delivery, 2, 2));
	delivery_free(delivery, 0.2);
	server_stop(server);
}

/*
 * A long outage fills a target's queue: new records are dropped, counted
 * by sink, and the rest are delivered once the target is back; then there
 * is room again.
 */
static void test_queue_overflow_counted(void **state)
{
	struct fixture *fixture = *state;
	uint64_t dropped[DELIVERY_SINK_COUNT];
	int port = closed_port(), i;
	struct delivery *delivery;
	struct server *server;
	struct alert alert;

	use_url(fixture, port);
	setenv("ABUSEWATCH_TEST_QUEUE_LIMIT", "5", 1);
	delivery = delivery_new(fixture->state_dir, webhook_only(fixture, NULL));
	unsetenv("ABUSEWATCH_TEST_QUEUE_LIMIT");
	assert_non_null(delivery);
	alert = test_alert("web", true);
	for (i = 0; i < 8; i++)
		assert_int_equal(delivery_enqueue(delivery, &alert), 0);
	assert_int_equal(delivery_pending(delivery), 5);
	delivery_dropped(delivery, dropped);
	assert_int_equal(dropped[DELIVERY_SINK_WEBHOOK], 3);
	assert_int_equal(dropped[DELIVERY_SINK_ALERTMANAGER], 0);
	for (i = 0; i < 200 && spool_lines(fixture, "webhook-", ".queue", NULL) != 5; i++)
		sleep_ms(10);
	assert_int_equal(spool_lines(fixture, "webhook-", ".queue", NULL), 5);

	server = server_start(port, 200);
	assert_int_equal(server_wait(server, 5, 5), 5);
	assert_true(wait_pending(delivery, 0, 2));
	assert_int_equal(delivery_enqueue(delivery, &alert), 0);
	assert_int_equal(server_wait(server, 6, 5), 6);
	delivery_dropped(delivery, dropped);
	assert_int_equal(dropped[DELIVERY_SINK_WEBHOOK], 3);
	delivery_free(delivery, 1);
	server_stop(server);
}

/* The queue file of the webhook at fixture->url, as the spool names it. */
static void webhook_queue_path(struct fixture *fixture, int port, char *path, size_t size)
{
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int digest_length;

	assert_true(EVP_Digest(fixture->url, strlen(fixture->url), digest, &digest_length,
			       EVP_sha256(), NULL));
	snprintf(path, size, "%s/spool/webhook-http___127.0.0.1_%d-%02x%02x%02x%02x.queue",
		 fixture->state_dir, port, digest[0], digest[1], digest[2], digest[3]);
}

/*
 * The queue file cannot be written, as on a full disk: appends go to
 * /dev/full and the replacement's temporary file is a directory. After
 * delivery_new, which would read /dev/full's endless zeros.
 */
static void block_queue_file(struct fixture *fixture, int port, char *path, size_t size)
{
	char temporary[600];

	webhook_queue_path(fixture, port, path, size);
	assert_int_equal(symlink("/dev/full", path), 0);
	snprintf(temporary, sizeof(temporary), "%s.tmp", path);
	assert_int_equal(mkdir(temporary, 0700), 0);
}

static void unblock_queue_file(const char *path)
{
	char temporary[600];

	snprintf(temporary, sizeof(temporary), "%s.tmp", path);
	assert_int_equal(rmdir(temporary), 0);
	assert_int_equal(unlink(path), 0);
}

/*
 * state_dir cannot be written (block_queue_file): records are delivered
 * from memory all the same, and once the file can be written it is written
 * whole, so a stop loses nothing.
 */
static void test_spool_unwritable_then_written(void **state)
{
	struct fixture *fixture = *state;
	int port = closed_port(), i;
	struct delivery *delivery;
	struct server *server;
	struct alert alert;
	char path[512];

	use_url(fixture, port);
	delivery = delivery_new(fixture->state_dir, webhook_only(fixture, NULL));
	assert_non_null(delivery);
	block_queue_file(fixture, port, path, sizeof(path));
	alert = test_alert("web", true);
	for (i = 0; i < 3; i++)
		assert_int_equal(delivery_enqueue(delivery, &alert), 0);
	assert_true(wait_pending(delivery, 3, 2));
	sleep_ms(300);
	/* Space again: within a second or so the file holds all three. */
	unblock_queue_file(path);
	for (i = 0; i < 300 && spool_lines(fixture, "webhook-", ".queue", NULL) != 3; i++)
		sleep_ms(10);
	assert_int_equal(spool_lines(fixture, "webhook-", ".queue", NULL), 3);
	delivery_free(delivery, 0.2);

	/* A new run delivers them. */
	server = server_start(port, 200);
	delivery = delivery_new(fixture->state_dir, webhook_only(fixture, NULL));
	assert_non_null(delivery);
	assert_int_equal(server_wait(server, 3, 5), 3);
	assert_true(wait_pending(delivery, 0, 2));
	delivery_free(delivery, 1);
	server_stop(server);
	assert_int_equal(spool_lines(fixture, "webhook-", ".queue", NULL), 0);
}

/*
 * The same at a stop: the queue file is behind (full disk), and the stop
 * writes it whole once it can, with what came in last.
 */
static void test_spool_written_at_stop(void **state)
{
	struct fixture *fixture = *state;
	int port = closed_port(), i;
	struct delivery *delivery;
	struct alert alert;
	char path[512];

	use_url(fixture, port);
	delivery = delivery_new(fixture->state_dir, webhook_only(fixture, NULL));
	assert_non_null(delivery);
	block_queue_file(fixture, port, path, sizeof(path));
	alert = test_alert("web", true);
	assert_int_equal(delivery_enqueue(delivery, &alert), 0);
	assert_true(wait_pending(delivery, 1, 2));
	sleep_ms(100);
	unblock_queue_file(path);
	for (i = 0; i < 2; i++)
		assert_int_equal(delivery_enqueue(delivery, &alert), 0);
	delivery_free(delivery, 0.1);
	assert_int_equal(spool_lines(fixture, "webhook-", ".queue", NULL), 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sign_standard_webhooks_example),
	    cmocka_unit_test(test_sign_fixed_vector),
	    cmocka_unit_test(test_parse_secret),
	    cmocka_unit_test_setup_teardown(test_alertmanager, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_webhook, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unreadable_secret, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_no_targets, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_down_then_up, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_spool_survives_restart, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_retry_after_500, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_drop_after_400, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_enqueue_never_blocks, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hung_target_delays_no_other, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_retire_while_in_flight, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_set_targets, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_queue_overflow_counted, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_spool_unwritable_then_written, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_spool_written_at_stop, setup, teardown),
	};

	setenv("ABUSEWATCH_TEST_BACKOFF_MS", "50", 1);
	setenv("ABUSEWATCH_TEST_RESEND_MS", "300", 1);
	/* The server is on 127.0.0.1: a proxy from the environment must not get in between. */
	unsetenv("http_proxy");
	unsetenv("HTTP_PROXY");
	unsetenv("all_proxy");
	unsetenv("ALL_PROXY");
	if (!getenv("ABUSEWATCH_TEST_VERBOSE"))
		log_set_level(LOG_LEVEL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
