// SPDX-License-Identifier: GPL-2.0
/*
 * poolclient: a mining client as far as the wire is concerned, for the
 * tests of stratum and pool-name detection (tests/e2e/test_wire.sh). It
 * computes nothing: it speaks the opening of the stratum protocol to a pool
 * and waits for a job, like a real miner renamed to an innocent name.
 *
 * Everything comes from a configuration file, never from the command line
 * (a test runs a copy of it with argv[0] only, or with no argv at all): the
 * file named by $POOLCLIENT_CONFIG, else ./settings.ini. One KEY=VALUE a
 * line, '#' starts a comment:
 *
 *   address=127.0.0.1       where to connect (unless dns= resolves name=)
 *   port=15555              TCP port of the pool
 *   protocol=xmr            xmr (login with agent), stratum
 *                           (mining.subscribe then mining.authorize), eth
 *                           (eth_submitLogin), jsonrpc (an LSP-style
 *                           "initialize", not stratum), ethnode (an
 *                           Ethereum node query, eth_blockNumber, not
 *                           stratum), applogin (a web application's
 *                           JSON-RPC "login" with a user name, no agent:
 *                           not stratum) or none (resolve only)
 *   style=compact           compact: JSON without blanks, as XMRig sends
 *                           it; spaced: a blank after each ':' and ',', as
 *                           cpuminer and xmr-stak's forks send it
 *   wallet=...              the login (wallet address) sent to the pool
 *   pass=x                  the password sent to the pool
 *   tls=0                   1: TLS to the pool, SNI = sni=
 *   sni=pool.example        the server name of the ClientHello
 *   name=pool.example       the pool's host name, resolved when dns= is set
 *   dns=none                udp, tcp or both: query A name= at resolver=
 *                           (port 53, or resolver_port=) first, over UDP,
 *                           TCP or both, and connect to the answer
 *   resolver=127.0.0.153
 *   edns=0                  1: an EDNS0 OPT record after the question, as
 *                           dig and systemd-resolved send
 *   hold=0                  seconds to stay connected after the job
 *   timeout=10              seconds for each network step
 *   argc0=0                 1: re-executes itself with an empty argv first
 *                           (execve with argc 0), config from the same place
 *
 * Bounded: an alarm ends it after 2 * timeout + hold + 10 seconds. Prints
 * one line on stderr about what it did (never the wallet or the password),
 * and exits 0 when the pool answered, 1 on a network failure, 2 on a bad
 * configuration.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define FIELD_MAX 256

struct pool_config {
	char address[64];
	int port;
	char protocol[16];
	int spaced;
	int edns;
	char wallet[FIELD_MAX];
	char pass[FIELD_MAX];
	int tls;
	char sni[FIELD_MAX];
	char name[FIELD_MAX];
	char dns[8];
	char resolver[64];
	int resolver_port;
	int hold;
	int timeout;
	int argc0;
};

/* A connection to the pool, plain or TLS. */
struct link {
	int fd;
	SSL *ssl;
};

static void say(const char *fmt, ...)
{
	va_list args;

	fputs("poolclient: ", stderr);
	va_start(args, fmt);
	vfprintf(stderr, fmt, args);
	va_end(args);
	fputc('\n', stderr);
}

static int copy_field(char *dst, size_t size, const char *value)
{
	if (strlen(value) >= size)
		return -EINVAL;
	strcpy(dst, value);
	return 0;
}

static int parse_config(const char *path, struct pool_config *cfg)
{
	char line[1024], *key, *value, *end;
	int err = 0, lineno = 0;
	FILE *file;

	memset(cfg, 0, sizeof(*cfg));
	strcpy(cfg->address, "127.0.0.1");
	cfg->port = 15555;
	strcpy(cfg->protocol, "xmr");
	strcpy(cfg->pass, "x");
	strcpy(cfg->dns, "none");
	strcpy(cfg->resolver, "127.0.0.153");
	cfg->resolver_port = 53;
	cfg->timeout = 10;

	file = fopen(path, "r");
	if (!file) {
		say("cannot read the configuration %s: %s", path, strerror(errno));
		return -errno;
	}
	while (fgets(line, sizeof(line), file)) {
		lineno++;
		line[strcspn(line, "\r\n")] = 0;
		key = line + strspn(line, " \t");
		if (!*key || *key == '#')
			continue;
		value = strchr(key, '=');
		if (!value) {
			err = -EINVAL;
			break;
		}
		*value++ = 0;
		for (end = value - 2; end >= key && (*end == ' ' || *end == '\t'); end--)
			*end = 0;
		if (!strcmp(key, "address"))
			err = copy_field(cfg->address, sizeof(cfg->address), value);
		else if (!strcmp(key, "port"))
			cfg->port = atoi(value);
		else if (!strcmp(key, "protocol"))
			err = copy_field(cfg->protocol, sizeof(cfg->protocol), value);
		else if (!strcmp(key, "wallet"))
			err = copy_field(cfg->wallet, sizeof(cfg->wallet), value);
		else if (!strcmp(key, "pass"))
			err = copy_field(cfg->pass, sizeof(cfg->pass), value);
		else if (!strcmp(key, "tls"))
			cfg->tls = atoi(value);
		else if (!strcmp(key, "sni"))
			err = copy_field(cfg->sni, sizeof(cfg->sni), value);
		else if (!strcmp(key, "name"))
			err = copy_field(cfg->name, sizeof(cfg->name), value);
		else if (!strcmp(key, "dns"))
			err = copy_field(cfg->dns, sizeof(cfg->dns), value);
		else if (!strcmp(key, "resolver"))
			err = copy_field(cfg->resolver, sizeof(cfg->resolver), value);
		else if (!strcmp(key, "resolver_port"))
			cfg->resolver_port = atoi(value);
		else if (!strcmp(key, "hold"))
			cfg->hold = atoi(value);
		else if (!strcmp(key, "timeout"))
			cfg->timeout = atoi(value);
		else if (!strcmp(key, "style") && (!strcmp(value, "compact") || !strcmp(value, "spaced")))
			cfg->spaced = !strcmp(value, "spaced");
		else if (!strcmp(key, "edns"))
			cfg->edns = atoi(value);
		else if (!strcmp(key, "argc0"))
			cfg->argc0 = atoi(value);
		else
			err = -EINVAL;
		if (err)
			break;
	}
	fclose(file);
	if (err) {
		say("%s:%d: bad line", path, lineno);
		return err;
	}
	if (cfg->port <= 0 || cfg->port > 65535 || cfg->resolver_port <= 0 ||
	    cfg->resolver_port > 65535 || cfg->timeout <= 0 || cfg->timeout > 60 ||
	    cfg->hold < 0 || cfg->hold > 300) {
		say("%s: a number is out of range", path);
		return -EINVAL;
	}
	return 0;
}

static int socket_to(const char *address, int port, int type, int timeout)
{
	struct timeval limit = { .tv_sec = timeout };
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd, err;

	if (inet_pton(AF_INET, address, &sin.sin_addr) != 1)
		return -EINVAL;
	fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof(limit));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof(limit));
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin))) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

/* The OPT pseudo-record of EDNS0: root name, type 41, 1232-byte payload. */
static const uint8_t edns_opt[] = { 0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0 };

/* A DNS query for NAME, type A, class IN, id ID, with EDNS0 when EDNS; its
 * length or -EINVAL. */
static int dns_query(uint8_t *buf, size_t size, const char *name, uint16_t id, int edns)
{
	const char *label = name, *dot;
	size_t len, pos = 12;

	if (size < 12 + strlen(name) + 2 + 4 + sizeof(edns_opt))
		return -EINVAL;
	memset(buf, 0, 12);
	buf[0] = id >> 8;
	buf[1] = id & 0xff;
	buf[2] = 0x01; /* recursion desired */
	buf[5] = 1; /* one question */
	while (*label) {
		dot = strchr(label, '.');
		len = dot ? (size_t)(dot - label) : strlen(label);
		if (len == 0 || len > 63)
			return -EINVAL;
		buf[pos++] = len;
		memcpy(buf + pos, label, len);
		pos += len;
		label += len + (dot ? 1 : 0);
	}
	buf[pos++] = 0;
	buf[pos++] = 0;
	buf[pos++] = 1; /* A */
	buf[pos++] = 0;
	buf[pos++] = 1; /* IN */
	if (edns) {
		buf[11] = 1; /* one additional record */
		memcpy(buf + pos, edns_opt, sizeof(edns_opt));
		pos += sizeof(edns_opt);
	}
	return pos;
}

/* The first A record of an answer to query ID, as text in OUT. */
static int dns_answer(const uint8_t *buf, size_t len, uint16_t id, char *out, size_t size)
{
	size_t pos = 12;
	int questions, answers;

	if (len < 12 || ((buf[0] << 8) | buf[1]) != id || !(buf[2] & 0x80) || (buf[3] & 0x0f))
		return -EBADMSG;
	questions = (buf[4] << 8) | buf[5];
	answers = (buf[6] << 8) | buf[7];
	while (questions-- > 0) {
		while (pos < len && buf[pos] && !(buf[pos] & 0xc0))
			pos += buf[pos] + 1;
		pos += (pos < len && (buf[pos] & 0xc0)) ? 2 : 1;
		pos += 4;
	}
	while (answers-- > 0 && pos < len) {
		uint16_t type, rdlen;

		if (buf[pos] & 0xc0) {
			pos += 2;
		} else {
			while (pos < len && buf[pos])
				pos += buf[pos] + 1;
			pos++;
		}
		if (pos + 10 > len)
			break;
		type = (buf[pos] << 8) | buf[pos + 1];
		rdlen = (buf[pos + 8] << 8) | buf[pos + 9];
		pos += 10;
		if (pos + rdlen > len)
			break;
		if (type == 1 && rdlen == 4) {
			if (!inet_ntop(AF_INET, buf + pos, out, size))
				return -errno;
			return 0;
		}
		pos += rdlen;
	}
	return -ENOENT;
}

static int read_full(int fd, uint8_t *buf, size_t len)
{
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		n = read(fd, buf + got, len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -ECONNRESET;
		got += n;
	}
	return 0;
}

/* Resolves cfg->name at the resolver over UDP (tcp = 0) or TCP (tcp = 1). */
static int resolve(const struct pool_config *cfg, int tcp, char *out, size_t size)
{
	uint8_t query[512], answer[1024];
	uint16_t id = (uint16_t)(getpid() ^ (tcp ? 0x5a5a : 0xa5a5));
	int fd, len, err;
	ssize_t n;

	len = dns_query(query + 2, sizeof(query) - 2, cfg->name, id, cfg->edns);
	if (len < 0)
		return len;
	fd = socket_to(cfg->resolver, cfg->resolver_port, tcp ? SOCK_STREAM : SOCK_DGRAM,
		       cfg->timeout);
	if (fd < 0)
		return fd;
	if (tcp) {
		/* DNS over TCP: a two-byte length before the message. */
		query[0] = len >> 8;
		query[1] = len & 0xff;
		err = -EIO;
		if (write(fd, query, len + 2) != len + 2)
			goto cleanup;
		err = read_full(fd, answer, 2);
		if (err)
			goto cleanup;
		n = (answer[0] << 8) | answer[1];
		if (n > (ssize_t)sizeof(answer)) {
			err = -EMSGSIZE;
			goto cleanup;
		}
		err = read_full(fd, answer, n);
		if (err)
			goto cleanup;
	} else {
		err = -EIO;
		if (send(fd, query + 2, len, 0) != len)
			goto cleanup;
		n = recv(fd, answer, sizeof(answer), 0);
		if (n < 0) {
			err = -errno;
			goto cleanup;
		}
	}
	err = dns_answer(answer, n, id, out, size);
cleanup:
	close(fd);
	return err;
}

static int link_write(struct link *link, const char *text)
{
	int len = strlen(text);

	if (link->ssl)
		return SSL_write(link->ssl, text, len) == len ? 0 : -EIO;
	return write(link->fd, text, len) == len ? 0 : -errno;
}

/* Reads one line (up to '\n') of the pool's answer; its length. */
static int link_read_line(struct link *link, char *buf, size_t size)
{
	size_t got = 0;
	int n;

	while (got + 1 < size) {
		if (link->ssl)
			n = SSL_read(link->ssl, buf + got, 1);
		else
			n = read(link->fd, buf + got, 1);
		if (n <= 0)
			return got ? (int)got : -EIO;
		if (buf[got++] == '\n')
			break;
	}
	buf[got] = 0;
	return got;
}

/*
 * COMPACT JSON with a blank after each ':' and ',' outside strings, the way
 * cpuminer and others format it, into OUT.
 */
static int respace(const char *compact, char *out, size_t size)
{
	int in_string = 0, escaped = 0;
	size_t pos = 0;

	for (; *compact; compact++) {
		if (pos + 3 > size)
			return -E2BIG;
		out[pos++] = *compact;
		if (in_string) {
			if (escaped)
				escaped = 0;
			else if (*compact == '\\')
				escaped = 1;
			else if (*compact == '"')
				in_string = 0;
		} else if (*compact == '"') {
			in_string = 1;
		} else if (*compact == ':' || *compact == ',') {
			out[pos++] = ' ';
		}
	}
	out[pos] = 0;
	return 0;
}

/* Sends REQUEST (compact JSON and a newline, re-spaced when the
 * configuration says so) and reads the answer; 0 when it holds EXPECT. */
static int exchange(struct link *link, const struct pool_config *cfg, const char *request,
		    const char *expect)
{
	char answer[4096], spaced[2048];
	int err;

	if (cfg->spaced) {
		err = respace(request, spaced, sizeof(spaced));
		if (err)
			return err;
		request = spaced;
	}
	err = link_write(link, request);
	if (err)
		return err;
	err = link_read_line(link, answer, sizeof(answer));
	if (err < 0)
		return err;
	return strstr(answer, expect) ? 0 : -EPROTO;
}

static int speak(struct link *link, const struct pool_config *cfg)
{
	char request[1024];
	int err;

	if (!strcmp(cfg->protocol, "xmr")) {
		snprintf(request, sizeof(request),
			 "{\"id\":1,\"jsonrpc\":\"2.0\",\"method\":\"login\",\"params\":"
			 "{\"login\":\"%s\",\"pass\":\"%s\",\"agent\":\"XMRig/6.21.0 (Linux x86_64) "
			 "libuv/1.44.2 gcc/12.2.0\",\"algo\":[\"rx/0\"]}}\n",
			 cfg->wallet, cfg->pass);
		return exchange(link, cfg, request, "\"job\"");
	}
	if (!strcmp(cfg->protocol, "stratum")) {
		err = exchange(link, cfg,
			       "{\"id\":1,\"method\":\"mining.subscribe\",\"params\":"
			       "[\"cpuminer-opt/3.23.3\"]}\n",
			       "mining.notify");
		if (err)
			return err;
		snprintf(request, sizeof(request),
			 "{\"id\":2,\"method\":\"mining.authorize\",\"params\":[\"%s\",\"%s\"]}\n",
			 cfg->wallet, cfg->pass);
		return exchange(link, cfg, request, "\"result\":true");
	}
	if (!strcmp(cfg->protocol, "eth")) {
		snprintf(request, sizeof(request),
			 "{\"id\":1,\"jsonrpc\":\"2.0\",\"method\":\"eth_submitLogin\",\"worker\":"
			 "\"rig1\",\"params\":[\"%s\",\"%s\"]}\n",
			 cfg->wallet, cfg->pass);
		return exchange(link, cfg, request, "\"result\":true");
	}
	if (!strcmp(cfg->protocol, "jsonrpc"))
		return exchange(link, cfg,
				"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":"
				"{\"processId\":null,\"rootUri\":null,\"capabilities\":{}}}\n",
				"\"result\"");
	if (!strcmp(cfg->protocol, "ethnode"))
		return exchange(link, cfg,
				"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"eth_blockNumber\","
				"\"params\":[]}\n",
				"\"result\"");
	if (!strcmp(cfg->protocol, "applogin")) {
		/* A common word as a method: not stratum without a miner's agent. */
		snprintf(request, sizeof(request),
			 "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"login\",\"params\":"
			 "{\"username\":\"ci-bot\",\"password\":\"%s\"}}\n",
			 cfg->pass);
		return exchange(link, cfg, request, "\"result\"");
	}
	return -EINVAL;
}

/* Connects to the pool at ADDRESS and speaks; TLS with SNI when asked. */
static int mine(const struct pool_config *cfg, const char *address)
{
	struct link link = { .fd = -1 };
	SSL_CTX *ctx = NULL;
	int err;

	link.fd = socket_to(address, cfg->port, SOCK_STREAM, cfg->timeout);
	if (link.fd < 0)
		return link.fd;
	if (cfg->tls) {
		err = -EPROTO;
		ctx = SSL_CTX_new(TLS_client_method());
		if (!ctx)
			goto cleanup;
		/* A miner checks nothing: the pool's certificate is self-signed. */
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
		link.ssl = SSL_new(ctx);
		if (!link.ssl || (cfg->sni[0] && !SSL_set_tlsext_host_name(link.ssl, cfg->sni)) ||
		    !SSL_set_fd(link.ssl, link.fd) || SSL_connect(link.ssl) != 1) {
			ERR_print_errors_fp(stderr);
			goto cleanup;
		}
	}
	err = speak(&link, cfg);
	if (!err && cfg->hold) {
		say("connected, holding for %d s", cfg->hold);
		sleep(cfg->hold);
	}
cleanup:
	if (link.ssl) {
		SSL_shutdown(link.ssl);
		SSL_free(link.ssl);
	}
	SSL_CTX_free(ctx);
	close(link.fd);
	return err;
}

/* Runs this same file again with no argument at all, not even argv[0]. */
static int exec_without_argv(void)
{
	char self[4096];
	char *empty[] = { NULL };
	ssize_t n;
	extern char **environ;

	/* The path itself, not /proc/self/exe: the kernel names the process
	 * (comm) after the last part of the path it is given. */
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n < 0)
		return -errno;
	self[n] = 0;
	execve(self, empty, environ);
	return -errno;
}

int main(int argc, char **argv)
{
	const char *path = getenv("POOLCLIENT_CONFIG");
	char address[INET_ADDRSTRLEN];
	struct pool_config cfg;
	char shape[64];
	int err;

	if (!path || !*path)
		path = "settings.ini";
	if (parse_config(path, &cfg))
		return 2;
	/* Since Linux 5.18 an execve with no argv gives argc 1 and an empty
	 * argv[0]: that is the second run too. */
	if (cfg.argc0 && argc > 0 && argv[0][0]) {
		err = exec_without_argv();
		say("cannot execute itself without argv: %s", strerror(-err));
		return 1;
	}
	/* What the test checks it ran with: "argc=1 (argv[0] empty)" after an
	 * execve with no argv. */
	snprintf(shape, sizeof(shape), "argc=%d%s", argc,
		 argc == 1 && !argv[0][0] ? " (argv[0] empty)" : "");
	alarm(2 * cfg.timeout + cfg.hold + 10);
	signal(SIGPIPE, SIG_IGN);

	snprintf(address, sizeof(address), "%s", cfg.address);
	if (strcmp(cfg.dns, "none")) {
		int tcp;

		if (!cfg.name[0]) {
			say("dns=%s needs name=", cfg.dns);
			return 2;
		}
		for (tcp = 0; tcp < 2; tcp++) {
			if ((tcp && !strcmp(cfg.dns, "udp")) || (!tcp && !strcmp(cfg.dns, "tcp")))
				continue;
			err = resolve(&cfg, tcp, address, sizeof(address));
			if (err) {
				say("%s: no answer over %s from %s:%d: %s", shape,
				    tcp ? "tcp" : "udp", cfg.resolver, cfg.resolver_port, strerror(-err));
				return 1;
			}
		}
	}
	if (!strcmp(cfg.protocol, "none")) {
		say("%s: resolved %s", shape, address);
		return 0;
	}
	err = mine(&cfg, address);
	if (err) {
		say("%s: protocol %s with %s:%d%s: %s", shape, cfg.protocol, address, cfg.port,
		    cfg.tls ? " (tls)" : "", strerror(-err));
		return 1;
	}
	say("%s: protocol %s with %s:%d%s: the pool answered", shape, cfg.protocol, address,
	    cfg.port, cfg.tls ? " (tls)" : "");
	return 0;
}
