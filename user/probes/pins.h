/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Probes that outlive the agent. Every map and link of the probes is pinned
 * in a bpffs directory of its own per agent instance, so that the kernel
 * keeps counting (CPU, disk, network, tasks, and the event streams) while
 * the agent is stopped, killed or being upgraded; the next agent takes the
 * same maps up again and its counters go on from where they were.
 *
 * The directory holds a stamp: a digest of the maps' layout (each map's
 * type, sizes and the BTF of its key and value), a digest of the programs
 * (the objects' bytes and read-only settings), and an instance id that
 * the agent's restart state in state_dir names too. What a start does:
 *
 *   stamp, layout and instance as expected, same programs:  keep the
 *       pinned links and maps, attach nothing (nothing is missed);
 *   the same, programs changed (an upgrade that kept the layout):  reuse
 *       the maps; cgroup links take the new programs atomically, tracing
 *       links are replaced (detach, attach: a few microseconds unseen);
 *   anything else (no stamp, a layout change, no or another restart
 *       state, a missing pin):  remove every pin, start clean, and say why.
 *
 * The programs only observe (they never refuse a packet, connection,
 * device or sysctl), so leaving them attached while no agent runs changes
 * nothing for tenants; it costs what they cost while the agent runs.
 * The one exception is the raw-socket policy (bpf/sockets.bpf.c): with
 * raw_sockets: deny it goes on refusing while no agent runs, with the
 * policies the last agent wrote, until `abusewatch unpin`.
 */
#ifndef ABUSEWATCH_PINS_H
#define ABUSEWATCH_PINS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bpf_object;
struct bpf_link;
struct bpf_program;

/* Where bpffs is (mounted there by the agent where absent) and the agent's directory in it. */
#define PINS_BPFFS "/sys/fs/bpf"
#define PINS_BASE PINS_BPFFS "/abusewatch"
/* Bytes of an instance id. */
#define PINS_INSTANCE_LEN 16

/*
 * The pin directory of the agent whose state_dir is @state_dir:
 * PINS_BASE/ + the path escaped much as systemd-escape --path does ("/"
 * to "-", other bytes than [A-Za-z0-9_] as \xNN: dots too, which bpffs
 * refuses in names), so that two agents with different state directories
 * never share probes, and a test's pins are found from its state
 * directory. A relative @state_dir
 * is taken from the working directory. 0 or -errno (-ENAMETOOLONG).
 */
int pins_dir_of(const char *state_dir, char *dir, size_t len);

/*
 * Removes the pin directory @dir and every pin in it (links detach, maps go with their last user).
 * 0 or -errno; 0 when absent.
 */
int pins_remove_dir(const char *dir);

enum pins_mode {
	PINS_CLEAN,   /* nothing taken up: new maps and links, pinned */
	PINS_KEEP,    /* the pinned maps and links, as they are */
	PINS_REPLACE, /* the pinned maps, with these programs */
};

struct pins;

/*
 * Opens the pin directory @dir, mounting bpffs at PINS_BPFFS and making
 * the directory where needed. NULL (errno set, a sentence in @why) when
 * nothing can be pinned there; the probes then live as long as the agent.
 */
struct pins *pins_open(const char *dir, char *why, size_t whylen);
void pins_close(struct pins *pins);

/*
 * Before load, read-only data set: adds the opened object @object, called
 * @name (a word: its pins' prefix), whose ELF image is @elf, to the stamp.
 * Objects in the same order at every start. 0 or -errno.
 */
int pins_add_object(struct pins *pins, struct bpf_object *object, const char *name, const void *elf,
		    size_t elf_size);

/*
 * After every object was added, before load: compares the stamp with the
 * pinned one and the restart state's @instance (NULL: none), decides, and
 * points the maps at their pins (reused at load, or created and pinned).
 * On PINS_CLEAN every old pin is removed first. @why says what a clean
 * start had to leave behind ("" when there was nothing to take up).
 */
enum pins_mode pins_decide(struct pins *pins, const uint8_t *instance, char *why, size_t whylen);

/*
 * After load: attaches each program of @object as pins_decide() said
 * (cgroup programs to @cgroup_fd, the v2 root), pinning new links.
 * @deferred (NULL: none) is loaded but left unattached, unless its pinned
 * link is taken up: an earlier agent attached it (pins_attach_program()).
 * @links gets the links this agent holds (NULL for one kept pinned),
 * @max of them at most; *@count how many programs. @pins may be NULL:
 * every program is attached, nothing pinned. 0 or -errno.
 */
int pins_attach(struct pins *pins, struct bpf_object *object, int cgroup_fd,
		const struct bpf_program *deferred, struct bpf_link **links, size_t max,
		size_t *count);

/*
 * Does @program of @object have a pinned link? Before pins_decide(): did
 * the last agent attach it (a clean start removes the pins).
 */
bool pins_has_link(const struct pins *pins, const struct bpf_object *object,
		   const struct bpf_program *program);

/*
 * Later, a program pins_attach() deferred: attaches @program of @object
 * (a tracing program) and pins its link, so that it stays attached across
 * restarts. @pins may be NULL (nothing pinned). 0 or -errno.
 */
int pins_attach_program(struct pins *pins, struct bpf_object *object, struct bpf_program *program,
			struct bpf_link **link);

/*
 * After everything was attached: writes the stamp, so that the next agent
 * takes all of it up. Until then a start finds no complete stamp and
 * starts clean. 0 or -errno.
 */
int pins_commit(struct pins *pins);

/* The instance the pinned probes are, once decided (PINS_INSTANCE_LEN bytes). */
const uint8_t *pins_instance(const struct pins *pins);

#endif
