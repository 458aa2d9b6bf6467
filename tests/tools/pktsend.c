// SPDX-License-Identifier: GPL-2.0
/*
 * pktsend: frames of known size through a packet socket (AF_PACKET), for
 * the end-to-end tests of traffic that never passes the IP layer.
 *
 *   pktsend [OPTIONS] IFNAME COUNT SIZE
 *
 * Sends COUNT Ethernet frames of SIZE bytes (link header included, 42 to
 * 1514) out of IFNAME: IPv4 from 192.0.2.1 to 192.0.2.2 (TEST-NET-1, meant
 * for a veth pair in a network namespace the test creates), UDP to port
 * 9 (discard), or with --syn TCP SYNs to COUNT consecutive ports from
 * PORT on (a scan's frames). Options:
 *   --syn PORT     TCP SYNs (SIZE is then 54) to ports PORT, PORT+1, ...
 *   --dst-mac MAC  the frames' destination (default: broadcast)
 *   --dgram        a SOCK_DGRAM packet socket: the kernel writes the link
 *                  header (SIZE still counts it)
 *   --ring         through a TX ring (PACKET_TX_RING, TPACKET_V2), 64
 *                  frames a send()
 *   --bypass       PACKET_QDISC_BYPASS: straight to the driver
 *   --wait-ms MS   sleep MS ms between setting the socket up and the first
 *                  frame (the agent attaches its bypass probe meanwhile)
 *   --rate N       at most N frames a second (default: as fast as it goes)
 * Prints "sent FRAMES BYTES" (bytes with link headers) on stdout: what the
 * kernel accepted. Bounded: COUNT is at most 1,000,000, and an alarm ends
 * any run after 5 minutes.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_COUNT 1000000L
#define MIN_SIZE ((int)(ETH_HLEN + sizeof(struct iphdr) + sizeof(struct udphdr)))
#define SYN_SIZE ((int)(ETH_HLEN + sizeof(struct iphdr) + sizeof(struct tcphdr)))
#define MAX_SIZE 1514
#define RING_FRAME 2048
#define RING_FRAMES 64
#define RUN_LIMIT_S 300

struct options {
	const char *ifname;
	long count;
	int size;
	int syn_port;		/* 0: UDP */
	unsigned char dst_mac[ETH_ALEN];
	bool dgram, ring, bypass;
	long rate;
	long wait_ms;		/* after PACKET_QDISC_BYPASS, before the first frame */
};

static int usage(void)
{
	fprintf(stderr, "usage: pktsend [--syn PORT] [--dst-mac MAC] [--dgram] [--ring] [--bypass]"
			" [--wait-ms MS] [--rate N] IFNAME COUNT SIZE\n");
	return 2;
}

static uint16_t checksum(const void *data, size_t len, uint32_t sum)
{
	const uint8_t *bytes = data;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)bytes[i] << 8 | bytes[i + 1];
	if (len & 1)
		sum += (uint32_t)bytes[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons((uint16_t)~sum);
}

/* Frame @index (its Ethernet header, then IPv4, then UDP or TCP) into @frame. */
static void build_frame(const struct options *o, const unsigned char *src_mac, long index,
			unsigned char *frame)
{
	struct ethhdr *eth = (struct ethhdr *)frame;
	struct iphdr *ip = (struct iphdr *)(frame + ETH_HLEN);
	uint8_t *l4 = frame + ETH_HLEN + sizeof(*ip);
	int ip_len = o->size - ETH_HLEN;

	memset(frame, 0, (size_t)o->size);
	memcpy(eth->h_dest, o->dst_mac, ETH_ALEN);
	memcpy(eth->h_source, src_mac, ETH_ALEN);
	eth->h_proto = htons(ETH_P_IP);
	ip->version = 4;
	ip->ihl = 5;
	ip->ttl = 64;
	ip->tot_len = htons((uint16_t)ip_len);
	ip->id = htons((uint16_t)index);
	ip->saddr = htonl(0xc0000201);	/* 192.0.2.1 */
	ip->daddr = htonl(0xc0000202);	/* 192.0.2.2 */
	if (o->syn_port) {
		struct tcphdr *tcp = (struct tcphdr *)l4;

		ip->protocol = IPPROTO_TCP;
		tcp->source = htons(40000);
		tcp->dest = htons((uint16_t)(o->syn_port + index));
		tcp->seq = htonl(0x12345678u + (uint32_t)index);
		tcp->doff = 5;
		tcp->syn = 1;
		tcp->window = htons(1024);
	} else {
		struct udphdr *udp = (struct udphdr *)l4;

		ip->protocol = IPPROTO_UDP;
		udp->source = htons(40000);
		udp->dest = htons(9);
		udp->len = htons((uint16_t)(ip_len - sizeof(*ip)));
	}
	ip->check = checksum(ip, sizeof(*ip), 0);
}

static int parse_mac(const char *text, unsigned char *mac)
{
	return sscanf(text, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &mac[0], &mac[1], &mac[2], &mac[3],
		      &mac[4], &mac[5]) == 6 ? 0 : -EINVAL;
}

static int parse_args(int argc, char **argv, struct options *o)
{
	int i;

	memset(o, 0, sizeof(*o));
	memset(o->dst_mac, 0xff, ETH_ALEN);
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--syn") && i + 1 < argc)
			o->syn_port = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--dst-mac") && i + 1 < argc) {
			if (parse_mac(argv[++i], o->dst_mac))
				return -EINVAL;
		} else if (!strcmp(argv[i], "--dgram"))
			o->dgram = true;
		else if (!strcmp(argv[i], "--ring"))
			o->ring = true;
		else if (!strcmp(argv[i], "--bypass"))
			o->bypass = true;
		else if (!strcmp(argv[i], "--wait-ms") && i + 1 < argc)
			o->wait_ms = atol(argv[++i]);
		else if (!strcmp(argv[i], "--rate") && i + 1 < argc)
			o->rate = atol(argv[++i]);
		else
			return -EINVAL;
	}
	if (argc - i != 3)
		return -EINVAL;
	o->ifname = argv[i];
	o->count = atol(argv[i + 1]);
	o->size = atoi(argv[i + 2]);
	if (o->syn_port)
		o->size = SYN_SIZE;
	if (o->count < 1 || o->count > MAX_COUNT || o->size < MIN_SIZE || o->size > MAX_SIZE ||
	    o->syn_port < 0 || o->syn_port + o->count > 65536 || (o->ring && o->dgram))
		return -EINVAL;
	return 0;
}

static void pace(const struct options *o, long sent, const struct timespec *start)
{
	struct timespec now, wait;
	double due, elapsed;

	if (o->rate <= 0)
		return;
	due = (double)sent / (double)o->rate;
	clock_gettime(CLOCK_MONOTONIC, &now);
	elapsed = (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
	if (due > elapsed) {
		wait.tv_sec = (time_t)(due - elapsed);
		wait.tv_nsec = (long)((due - elapsed - (double)wait.tv_sec) * 1e9);
		nanosleep(&wait, NULL);
	}
}

/* One frame a send(). */
static int send_plain(int fd, const struct options *o, const unsigned char *src_mac,
		      const struct sockaddr_ll *to, long *sent)
{
	unsigned char frame[MAX_SIZE];
	struct timespec start;
	size_t skip = o->dgram ? ETH_HLEN : 0;

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (*sent = 0; *sent < o->count; (*sent)++) {
		pace(o, *sent, &start);
		build_frame(o, src_mac, *sent, frame);
		if (sendto(fd, frame + skip, (size_t)o->size - skip, 0, (const struct sockaddr *)to,
			   sizeof(*to)) != (ssize_t)((size_t)o->size - skip)) {
			if (errno == ENOBUFS || errno == EAGAIN) {
				usleep(1000);
				(*sent)--;
				continue;
			}
			return -errno;
		}
	}
	return 0;
}

/* Frames through a TX ring, RING_FRAMES a send(). */
static int send_ring(int fd, const struct options *o, const unsigned char *src_mac,
		     const struct sockaddr_ll *to, long *sent)
{
	struct tpacket_req req = {
		.tp_block_size = RING_FRAME * RING_FRAMES,
		.tp_block_nr = 1,
		.tp_frame_size = RING_FRAME,
		.tp_frame_nr = RING_FRAMES,
	};
	int version = TPACKET_V2, err = 0;
	unsigned char *ring;
	struct timespec start;
	long queued = 0;
	unsigned int slot = 0;

	if (setsockopt(fd, SOL_PACKET, PACKET_VERSION, &version, sizeof(version)) ||
	    setsockopt(fd, SOL_PACKET, PACKET_TX_RING, &req, sizeof(req)))
		return -errno;
	ring = mmap(NULL, req.tp_block_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (ring == MAP_FAILED)
		return -errno;
	clock_gettime(CLOCK_MONOTONIC, &start);
	*sent = 0;
	while (*sent < o->count) {
		struct tpacket2_hdr *header = (struct tpacket2_hdr *)(ring + (size_t)slot * RING_FRAME);
		unsigned char *data = (unsigned char *)header + TPACKET2_HDRLEN -
				      sizeof(struct sockaddr_ll);

		if (header->tp_status != TP_STATUS_AVAILABLE) {
			/* The kernel still holds it: flush and wait for it. */
			if (send(fd, NULL, 0, 0) < 0 && errno != ENOBUFS && errno != EAGAIN) {
				err = -errno;
				break;
			}
			usleep(100);
			continue;
		}
		pace(o, queued, &start);
		build_frame(o, src_mac, queued, data);
		header->tp_len = (uint32_t)o->size;
		__atomic_store_n(&header->tp_status, TP_STATUS_SEND_REQUEST, __ATOMIC_RELEASE);
		queued++;
		slot = (slot + 1) % RING_FRAMES;
		if (queued % RING_FRAMES == 0 || queued == o->count) {
			if (sendto(fd, NULL, 0, 0, (const struct sockaddr *)to, sizeof(*to)) < 0 &&
			    errno != ENOBUFS && errno != EAGAIN) {
				err = -errno;
				break;
			}
		}
		*sent = queued;
	}
	/* Every frame handed back by the kernel: then they were sent. */
	for (slot = 0; !err && slot < RING_FRAMES; slot++) {
		struct tpacket2_hdr *header = (struct tpacket2_hdr *)(ring + (size_t)slot * RING_FRAME);
		int tries;

		for (tries = 0; tries < 10000 && header->tp_status != TP_STATUS_AVAILABLE; tries++) {
			send(fd, NULL, 0, 0);
			usleep(100);
		}
	}
	munmap(ring, req.tp_block_size);
	return err;
}

int main(int argc, char **argv)
{
	struct options o;
	struct sockaddr_ll to = { .sll_family = AF_PACKET };
	struct ifreq ifr = { 0 };
	unsigned char src_mac[ETH_ALEN];
	long sent = 0;
	int fd, one = 1, err;

	if (parse_args(argc, argv, &o))
		return usage();
	alarm(RUN_LIMIT_S);
	fd = socket(AF_PACKET, o.dgram ? SOCK_DGRAM : SOCK_RAW, 0);
	if (fd < 0) {
		perror("pktsend: socket(AF_PACKET)");
		return 1;
	}
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", o.ifname);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr)) {
		perror("pktsend: SIOCGIFHWADDR");
		return 1;
	}
	memcpy(src_mac, ifr.ifr_hwaddr.sa_data, ETH_ALEN);
	to.sll_ifindex = (int)if_nametoindex(o.ifname);
	to.sll_protocol = htons(ETH_P_IP);
	to.sll_halen = ETH_ALEN;
	memcpy(to.sll_addr, o.dst_mac, ETH_ALEN);
	if (o.bypass && setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one))) {
		perror("pktsend: PACKET_QDISC_BYPASS");
		return 1;
	}
	if (o.wait_ms > 0)
		usleep((useconds_t)o.wait_ms * 1000);
	err = o.ring ? send_ring(fd, &o, src_mac, &to, &sent) : send_plain(fd, &o, src_mac, &to, &sent);
	printf("sent %ld %ld\n", sent, sent * (long)o.size);
	close(fd);
	if (err) {
		fprintf(stderr, "pktsend: %s\n", strerror(-err));
		return 1;
	}
	return 0;
}
