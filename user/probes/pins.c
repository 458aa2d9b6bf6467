// SPDX-License-Identifier: GPL-2.0
/*
 * The probes' pins in bpffs (see pins.h). One flat directory per agent
 * instance: "stamp", then "<object>-map-<map>" and "<object>-link-<program>".
 * Flat, so that removing it is one pass of unlinks, by the agent, by
 * `abusewatch unpin`, by a package's purge or by rm -r. No dots in any
 * name: bpffs refuses them (reserved for its own files).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "log.h"
#include "pins.h"
#include "sha256.h"

#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif

#define STAMP_NAME "stamp"
/* Changes when what the stamp means changes: older pins then start clean. */
#define STAMP_MAGIC "abusewatch-pins-1"
#define DIGEST_LEN SHA256_BYTES
#define MAX_OBJECTS 4
/* A pin's path: the directory (PATH_MAX at most) and a name. */
#define PIN_PATH_MAX (PATH_MAX + NAME_MAX + 2)
/*
 * How deep a type's description follows members and elements (BTF has no cycles but through
 * pointers).
 */
#define MAX_TYPE_DEPTH 16

struct pins_stamp {
	char magic[24];
	uint8_t layout[DIGEST_LEN];
	uint8_t programs[DIGEST_LEN];
	uint8_t instance[PINS_INSTANCE_LEN];
};

struct pinned_object {
	struct bpf_object *object;
	char name[32];
};

struct pins {
	char dir[PATH_MAX];
	struct sha256 *layout;
	struct sha256 *programs;
	struct pinned_object objects[MAX_OBJECTS];
	size_t object_count;
	enum pins_mode mode;
	struct pins_stamp stamp; /* this start's, once decided */
	bool broken;		 /* a pin failed: no stamp, the next start is clean */
};

int pins_dir_of(const char *state_dir, char *dir, size_t len)
{
	char absolute[PATH_MAX], name[NAME_MAX + 1];
	size_t used = 0, i;
	const char *p;
	int n;

	if (state_dir[0] == '/') {
		n = snprintf(absolute, sizeof(absolute), "%s", state_dir);
	} else {
		char cwd[PATH_MAX];

		if (!getcwd(cwd, sizeof(cwd)))
			return -errno;
		n = snprintf(absolute, sizeof(absolute), "%s/%s", cwd, state_dir);
	}
	if (n < 0 || (size_t)n >= sizeof(absolute))
		return -ENAMETOOLONG;
	for (p = absolute; *p == '/'; p++)
		;
	for (i = 0; p[i]; i++) {
		unsigned char c = p[i];

		/* Repeated and trailing slashes name the same directory. */
		if (c == '/' && (p[i + 1] == '/' || !p[i + 1]))
			continue;
		if (used + 4 >= sizeof(name))
			return -ENAMETOOLONG;
		if (c == '/')
			name[used++] = '-';
		else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			 (c >= '0' && c <= '9') || c == '_')
			name[used++] = c;
		else
			used += snprintf(name + used, sizeof(name) - used, "\\x%02x", c);
	}
	name[used] = '\0';
	/* "/" itself, as systemd-escape --path writes it. */
	n = snprintf(dir, len, "%s/%s", PINS_BASE, used ? name : "-");
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/*
 * Unlinks every entry of the directory @dir_fd, the stamp first (a half-removed directory starts
 * clean).
 */
static int remove_entries(int dir_fd)
{
	struct dirent *entry;
	int err = 0, fd;
	DIR *dir;

	if (unlinkat(dir_fd, STAMP_NAME, 0) && errno != ENOENT)
		err = -errno;
	fd = dup(dir_fd);
	if (fd < 0)
		return -errno;
	dir = fdopendir(fd);
	if (!dir) {
		close(fd);
		return -errno;
	}
	while ((entry = readdir(dir))) {
		if (!strcmp(entry->d_name, ".") || !strcmp(entry->d_name, ".."))
			continue;
		if (unlinkat(dir_fd, entry->d_name, 0) && errno != ENOENT && !err)
			err = -errno;
	}
	closedir(dir);
	return err;
}

int pins_remove_dir(const char *dir)
{
	int fd, err;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	err = remove_entries(fd);
	close(fd);
	if (!err && rmdir(dir) && errno != ENOENT)
		err = -errno;
	return err;
}

/* bpffs at PINS_BPFFS, mounted there when something else (or nothing) is. 0 or -errno. */
static int ensure_bpffs(char *why, size_t whylen)
{
	struct statfs fs;

	if (!statfs(PINS_BPFFS, &fs) && fs.f_type == BPF_FS_MAGIC)
		return 0;
	/* Root only, like the pins: they hold what tenants did. */
	if (mount("bpf", PINS_BPFFS, "bpf", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0700")) {
		int err = -errno;

		snprintf(why, whylen, "cannot mount bpffs at %s: %s", PINS_BPFFS, strerror(-err));
		return err;
	}
	pr_info("mounted bpffs at %s for the probes' pins", PINS_BPFFS);
	return 0;
}

struct pins *pins_open(const char *dir, char *why, size_t whylen)
{
	struct pins *pins;
	int err;

	why[0] = '\0';
	pins = calloc(1, sizeof(*pins));
	if (!pins)
		return NULL;
	err = ensure_bpffs(why, whylen);
	if (err)
		goto fail;
	if (snprintf(pins->dir, sizeof(pins->dir), "%s", dir) >= (int)sizeof(pins->dir)) {
		err = -ENAMETOOLONG;
		snprintf(why, whylen, "%s: %s", dir, strerror(-err));
		goto fail;
	}
	if ((mkdir(PINS_BASE, 0700) && errno != EEXIST) || (mkdir(dir, 0700) && errno != EEXIST)) {
		err = -errno;
		snprintf(why, whylen, "cannot make %s: %s", dir, strerror(-err));
		goto fail;
	}
	pins->layout = sha256_new();
	pins->programs = sha256_new();
	if (!pins->layout || !pins->programs) {
		err = -ENOMEM;
		snprintf(why, whylen, "no digest: %s", strerror(-err));
		goto fail;
	}
	return pins;

fail:
	pins_close(pins);
	errno = -err;
	return NULL;
}

void pins_close(struct pins *pins)
{
	if (!pins)
		return;
	sha256_free(pins->layout);
	sha256_free(pins->programs);
	free(pins);
}

/* What the stamp hashes: numbers as 8 bytes, names with their length. */
static void feed_number(struct sha256 *digest, uint64_t value)
{
	sha256_feed(digest, &value, sizeof(value));
}

static void feed_name(struct sha256 *digest, const char *name)
{
	size_t length = name ? strlen(name) : 0;

	feed_number(digest, length);
	sha256_feed(digest, name ? name : "", length);
}

/*
 * The layout of BTF type @id: kinds, sizes, offsets, element counts,
 * member and variable names, through typedefs and qualifiers (which change
 * nothing in memory); a pointer is 8 bytes, not what it points to.
 */
static void feed_type(struct sha256 *digest, const struct btf *btf, __u32 id, int depth)
{
	const struct btf_type *type = btf__type_by_id(btf, id);
	const struct btf_var_secinfo *var;
	const struct btf_member *member;
	const struct btf_enum *value;
	__u16 kind, i, count;

	if (!type || depth > MAX_TYPE_DEPTH) {
		feed_number(digest, UINT64_MAX);
		return;
	}
	kind = btf_kind(type);
	switch (kind) {
	case BTF_KIND_TYPEDEF:
	case BTF_KIND_VOLATILE:
	case BTF_KIND_CONST:
	case BTF_KIND_RESTRICT:
	case BTF_KIND_TYPE_TAG:
	case BTF_KIND_VAR:
		feed_type(digest, btf, type->type, depth + 1);
		return;
	default:
		break;
	}
	feed_number(digest, kind);
	count = btf_vlen(type);
	switch (kind) {
	case BTF_KIND_INT:
		feed_number(digest, type->size);
		feed_number(digest, *(const __u32 *)(type + 1));
		break;
	case BTF_KIND_ARRAY:
		feed_number(digest, btf_array(type)->nelems);
		feed_type(digest, btf, btf_array(type)->type, depth + 1);
		break;
	case BTF_KIND_STRUCT:
	case BTF_KIND_UNION:
		feed_number(digest, type->size);
		feed_number(digest, count);
		for (i = 0, member = btf_members(type); i < count; i++, member++) {
			feed_name(digest, btf__name_by_offset(btf, member->name_off));
			feed_number(digest, btf_member_bit_offset(type, i));
			feed_number(digest, btf_member_bitfield_size(type, i));
			feed_type(digest, btf, member->type, depth + 1);
		}
		break;
	case BTF_KIND_ENUM:
		feed_number(digest, type->size);
		feed_number(digest, count);
		for (i = 0, value = btf_enum(type); i < count; i++, value++) {
			feed_name(digest, btf__name_by_offset(btf, value->name_off));
			feed_number(digest, (uint64_t)(int64_t)value->val);
		}
		break;
	case BTF_KIND_DATASEC:
		feed_number(digest, count);
		for (i = 0, var = btf_var_secinfos(type); i < count; i++, var++) {
			const struct btf_type *variable = btf__type_by_id(btf, var->type);

			feed_name(digest,
				  variable ? btf__name_by_offset(btf, variable->name_off) : "");
			feed_number(digest, var->offset);
			feed_number(digest, var->size);
			feed_type(digest, btf, var->type, depth + 1);
		}
		break;
	case BTF_KIND_PTR:
		break;
	default:
		feed_number(digest, type->size);
		break;
	}
}

/* Read-only data (.rodata, .kconfig) is set before each load: never pinned, part of the programs.
 */
static bool is_pinned_map(const struct bpf_map *map)
{
	return !(bpf_map__is_internal(map) && (bpf_map__map_flags(map) & BPF_F_RDONLY_PROG));
}

/* The BTF type of an internal map's value: its section's DATASEC (".bss" of "usage_bp.bss"). */
static __u32 value_type_of(const struct bpf_map *map, const struct btf *btf)
{
	const char *section;
	__s32 id;

	if (bpf_map__btf_value_type_id(map) || !bpf_map__is_internal(map))
		return bpf_map__btf_value_type_id(map);
	section = strchr(bpf_map__name(map), '.');
	id = section ? btf__find_by_name_kind(btf, section, BTF_KIND_DATASEC) : -ENOENT;
	return id > 0 ? (__u32)id : 0;
}

static void feed_map(struct sha256 *digest, const struct bpf_map *map, const struct btf *btf)
{
	feed_name(digest, bpf_map__name(map));
	feed_number(digest, bpf_map__type(map));
	feed_number(digest, bpf_map__key_size(map));
	feed_number(digest, bpf_map__value_size(map));
	feed_number(digest, bpf_map__max_entries(map));
	feed_number(digest, bpf_map__map_flags(map));
	if (!btf)
		return;
	feed_type(digest, btf, bpf_map__btf_key_type_id(map), 0);
	feed_type(digest, btf, value_type_of(map, btf), 0);
}

int pins_add_object(struct pins *pins, struct bpf_object *object, const char *name, const void *elf,
		    size_t elf_size)
{
	const struct btf *btf = bpf_object__btf(object);
	struct pinned_object *added;
	const void *initial;
	struct bpf_map *map;
	size_t size;

	if (pins->object_count == MAX_OBJECTS || strlen(name) >= sizeof(added->name))
		return -E2BIG;
	added = &pins->objects[pins->object_count++];
	added->object = object;
	strcpy(added->name, name);
	feed_name(pins->layout, name);
	feed_name(pins->programs, name);
	bpf_object__for_each_map(map, object)
	{
		if (is_pinned_map(map)) {
			feed_map(pins->layout, map, btf);
			continue;
		}
		initial = bpf_map__initial_value(map, &size);
		feed_name(pins->programs, bpf_map__name(map));
		feed_number(pins->programs, initial ? size : 0);
		if (initial)
			sha256_feed(pins->programs, initial, size);
	}
	/*
	 * The whole object: code, relocations, subprograms; a changed comment only replaces
	 * programs.
	 */
	feed_number(pins->programs, elf_size);
	sha256_feed(pins->programs, elf, elf_size);
	return 0;
}

/*
 * @dir/@object-@kind-@name, with any '.' or '/' of a name ("usage_bp.bss") made '_'. 0 or
 * -ENAMETOOLONG.
 */
static int pin_path(const struct pins *pins, const char *object, const char *kind, const char *name,
		    char *path, size_t len)
{
	char *c;
	int n;

	n = snprintf(path, len, "%s/%s-%s-%s", pins->dir, object, kind, name);
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	for (c = path + strlen(pins->dir) + 1; *c; c++)
		if (*c == '.' || *c == '/')
			*c = '_';
	return 0;
}

static int read_stamp(const struct pins *pins, struct pins_stamp *stamp)
{
	struct bpf_map_info info = {};
	__u32 key = 0, length = sizeof(info);
	char path[PIN_PATH_MAX];
	int fd, err = 0;

	snprintf(path, sizeof(path), "%s/%s", pins->dir, STAMP_NAME);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -errno;
	/* A stamp of another size is another format: never read past ours. */
	if (bpf_obj_get_info_by_fd(fd, &info, &length))
		err = -errno;
	else if (info.type != BPF_MAP_TYPE_ARRAY || info.key_size != sizeof(key) ||
		 info.value_size != sizeof(*stamp))
		err = -EPROTO;
	else if (bpf_map_lookup_elem(fd, &key, stamp))
		err = -errno;
	close(fd);
	return err;
}

static bool dir_is_empty(const char *dir)
{
	struct dirent *entry;
	bool empty = true;
	DIR *d = opendir(dir);

	if (!d)
		return true;
	while (empty && (entry = readdir(d)))
		empty = !strcmp(entry->d_name, ".") || !strcmp(entry->d_name, "..");
	closedir(d);
	return empty;
}

/* Every map's pin exists (a reused map must be the one the pinned programs use). */
static int check_map_pins(const struct pins *pins, char *missing, size_t len)
{
	char path[PIN_PATH_MAX];
	struct bpf_map *map;
	size_t i;

	for (i = 0; i < pins->object_count; i++) {
		bpf_object__for_each_map(map, pins->objects[i].object)
		{
			if (!is_pinned_map(map))
				continue;
			if (pin_path(pins, pins->objects[i].name, "map", bpf_map__name(map), path,
				     sizeof(path)))
				return -ENAMETOOLONG;
			if (access(path, F_OK)) {
				snprintf(missing, len, "%s", path);
				return -ENOENT;
			}
		}
	}
	return 0;
}

static int point_maps_at_pins(const struct pins *pins)
{
	char path[PIN_PATH_MAX];
	struct bpf_map *map;
	size_t i;
	int err;

	for (i = 0; i < pins->object_count; i++) {
		bpf_object__for_each_map(map, pins->objects[i].object)
		{
			if (!is_pinned_map(map))
				continue;
			err = pin_path(pins, pins->objects[i].name, "map", bpf_map__name(map), path,
				       sizeof(path));
			if (!err)
				err = bpf_map__set_pin_path(map, path);
			if (err)
				return err;
		}
	}
	return 0;
}

/* Does @program of the object called @object_name have a pinned link? Its path in @path. */
static bool has_pinned_link(const struct pins *pins, const char *object_name,
			    const struct bpf_program *program, char *path, size_t len)
{
	return !pin_path(pins, object_name, "link", bpf_program__name(program), path, len) &&
	       !access(path, F_OK);
}

/*
 * The programs whose pinned links are kept are not loaded again: the
 * kernel runs the pinned ones, and a copy loaded for nothing would cost
 * the verifier's time and show beside them in bpftool.
 */
static void skip_kept_programs(struct pins *pins)
{
	struct bpf_program *program;
	char path[PIN_PATH_MAX];
	size_t i;

	for (i = 0; i < pins->object_count; i++) {
		bpf_object__for_each_program(program, pins->objects[i].object)
		{
			if (bpf_program__autoload(program) &&
			    has_pinned_link(pins, pins->objects[i].name, program, path,
					    sizeof(path)))
				bpf_program__set_autoload(program, false);
		}
	}
}

/* What the pinned probes are, against what this agent would make; PINS_CLEAN with @why otherwise.
 */
static enum pins_mode compare_stamps(struct pins *pins, const uint8_t *instance, char *why,
				     size_t whylen)
{
	struct pins_stamp pinned;
	char missing[PIN_PATH_MAX];
	int err;

	err = read_stamp(pins, &pinned);
	if (err == -EPROTO) {
		snprintf(why, whylen, "the pins in %s are of another format", pins->dir);
		return PINS_CLEAN;
	}
	if (err) {
		if (!dir_is_empty(pins->dir))
			snprintf(why, whylen, "the pins in %s are incomplete (%s)", pins->dir,
				 strerror(-err));
		return PINS_CLEAN;
	}
	if (memcmp(pinned.magic, pins->stamp.magic, sizeof(pinned.magic))) {
		snprintf(why, whylen, "the pins in %s are of another format", pins->dir);
		return PINS_CLEAN;
	}
	if (memcmp(pinned.layout, pins->stamp.layout, DIGEST_LEN)) {
		snprintf(why, whylen, "the layout of the probes' maps changed (an upgrade)");
		return PINS_CLEAN;
	}
	if (!instance) {
		snprintf(why, whylen, "state_dir holds no restart state for the pinned probes");
		return PINS_CLEAN;
	}
	if (memcmp(pinned.instance, instance, PINS_INSTANCE_LEN)) {
		snprintf(why, whylen, "the restart state in state_dir belongs to other probes");
		return PINS_CLEAN;
	}
	if (check_map_pins(pins, missing, sizeof(missing))) {
		snprintf(why, whylen, "the pinned map %s is missing", missing);
		return PINS_CLEAN;
	}
	memcpy(pins->stamp.instance, pinned.instance, PINS_INSTANCE_LEN);
	return memcmp(pinned.programs, pins->stamp.programs, DIGEST_LEN) ? PINS_REPLACE : PINS_KEEP;
}

enum pins_mode pins_decide(struct pins *pins, const uint8_t *instance, char *why, size_t whylen)
{
	int err, fd;

	why[0] = '\0';
	memset(&pins->stamp, 0, sizeof(pins->stamp));
	snprintf(pins->stamp.magic, sizeof(pins->stamp.magic), "%s", STAMP_MAGIC);
	sha256_finish(pins->layout, pins->stamp.layout);
	sha256_finish(pins->programs, pins->stamp.programs);
	pins->mode = compare_stamps(pins, instance, why, whylen);
	if (pins->mode == PINS_CLEAN) {
		fd = open(pins->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		err = fd < 0 ? -errno : remove_entries(fd);
		if (fd >= 0)
			close(fd);
		if (err)
			pr_warn("cannot remove the old pins in %s: %s", pins->dir, strerror(-err));
		if (getrandom(pins->stamp.instance, PINS_INSTANCE_LEN, 0) != PINS_INSTANCE_LEN)
			pins->broken = true;
	}
	err = point_maps_at_pins(pins);
	if (err) {
		/* Nothing pinned, nothing reused: the probes live as long as this agent. */
		pr_warn("cannot pin the probes' maps in %s: %s", pins->dir, strerror(-err));
		pins->broken = true;
		pins->mode = PINS_CLEAN;
	}
	if (pins->mode == PINS_KEEP)
		skip_kept_programs(pins);
	return pins->mode;
}

static bool is_cgroup_program(const struct bpf_program *program)
{
	switch (bpf_program__type(program)) {
	case BPF_PROG_TYPE_CGROUP_SKB:
	case BPF_PROG_TYPE_CGROUP_SOCK:
	case BPF_PROG_TYPE_CGROUP_SOCK_ADDR:
	case BPF_PROG_TYPE_CGROUP_DEVICE:
	case BPF_PROG_TYPE_CGROUP_SYSCTL:
	case BPF_PROG_TYPE_CGROUP_SOCKOPT:
	case BPF_PROG_TYPE_SOCK_OPS:
		return true;
	default:
		return false;
	}
}

static struct bpf_link *attach_program(struct bpf_program *program, int cgroup_fd)
{
	/* Cgroup links keep other programs attached there (multi): ours only add to them. */
	return is_cgroup_program(program) ? bpf_program__attach_cgroup(program, cgroup_fd)
					  : bpf_program__attach(program);
}

static const char *name_of(const struct pins *pins, const struct bpf_object *object)
{
	size_t i;

	for (i = 0; pins && i < pins->object_count; i++)
		if (pins->objects[i].object == object)
			return pins->objects[i].name;
	return NULL;
}

/*
 * Takes up the pinned link at @path for @program as the mode says: the
 * link, held open (closing it later leaves it pinned), when it stays
 * (kept, or given the new program); NULL when the program needs a new one.
 */
static struct bpf_link *take_up_link(struct pins *pins, struct bpf_program *program,
				     const char *path)
{
	struct bpf_link *pinned;
	int err;

	if (pins->mode == PINS_CLEAN || access(path, F_OK))
		return NULL;
	if (pins->mode == PINS_REPLACE && !is_cgroup_program(program)) {
		/* Tracing links cannot change programs: the old one goes, the new comes. */
		if (unlink(path))
			pr_warn("cannot remove the pinned link %s: %s", path, strerror(errno));
		return NULL;
	}
	pinned = bpf_link__open(path);
	if (!pinned) {
		pr_warn("cannot open the pinned link %s: %s", path, strerror(errno));
		return NULL;
	}
	if (pins->mode == PINS_KEEP)
		return pinned;
	err = bpf_link__update_program(pinned, program);
	if (!err)
		return pinned;
	pr_warn("cannot give the pinned link %s its new program: %s", path, strerror(-err));
	bpf_link__destroy(pinned);
	unlink(path);
	return NULL;
}

int pins_attach(struct pins *pins, struct bpf_object *object, int cgroup_fd,
		const struct bpf_program *deferred, struct bpf_link **links, size_t max,
		size_t *count)
{
	const char *object_name = name_of(pins, object);
	bool pinning = object_name && !pins->broken;
	struct bpf_program *program;
	char path[PIN_PATH_MAX];
	size_t n = 0;
	int err = 0;

	bpf_object__for_each_program(program, object)
	{
		bool kept = pinning && pins->mode == PINS_KEEP && !bpf_program__autoload(program) &&
			    has_pinned_link(pins, object_name, program, path, sizeof(path));
		bool has_path;

		if (!bpf_program__autoload(program) && !kept)
			continue;
		/* Attached by an earlier agent: taken up (kept, or replaced) below. */
		if (program == deferred &&
		    !(pinning && has_pinned_link(pins, object_name, program, path, sizeof(path))))
			continue;
		if (n == max) {
			err = -E2BIG;
			break;
		}
		links[n] = NULL;
		has_path = pinning && !pin_path(pins, object_name, "link",
						bpf_program__name(program), path, sizeof(path));
		if (pinning && !has_path) {
			pr_warn("no pin for program %s: a restart will start clean",
				bpf_program__name(program));
			pins->broken = true;
			pinning = false;
		}
		if (has_path)
			links[n] = take_up_link(pins, program, path);
		if (links[n]) {
			n++;
			continue;
		}
		/* A kept program was not loaded: its pinned link must be there. */
		if (kept) {
			err = -ENOENT;
			break;
		}
		links[n] = attach_program(program, cgroup_fd);
		if (!links[n]) {
			err = -errno;
			break;
		}
		n++;
		if (!has_path)
			continue;
		err = bpf_link__pin(links[n - 1], path);
		if (err) {
			/* Attached all the same; only the next start will be clean. */
			pr_warn("cannot pin link %s: %s", path, strerror(-err));
			pins->broken = true;
			pinning = false;
			err = 0;
		}
	}
	*count = n;
	return err;
}

bool pins_has_link(const struct pins *pins, const struct bpf_object *object,
		   const struct bpf_program *program)
{
	const char *object_name = name_of(pins, object);
	char path[PIN_PATH_MAX];

	return object_name && has_pinned_link(pins, object_name, program, path, sizeof(path));
}

int pins_attach_program(struct pins *pins, struct bpf_object *object, struct bpf_program *program,
			struct bpf_link **link)
{
	const char *object_name = name_of(pins, object);
	char path[PIN_PATH_MAX];
	int err;

	*link = bpf_program__attach(program);
	if (!*link)
		return -errno;
	if (!object_name || pins->broken ||
	    pin_path(pins, object_name, "link", bpf_program__name(program), path, sizeof(path)))
		return 0;
	err = bpf_link__pin(*link, path);
	if (err) {
		/* Attached all the same; a restart attaches it again when told of a bypass. */
		pr_warn("cannot pin link %s: %s", path, strerror(-err));
	}
	return 0;
}

/* Is @name the link pin of a program of this agent's objects? */
static bool is_current_link(const struct pins *pins, const char *name)
{
	struct bpf_program *program;
	char path[PIN_PATH_MAX];
	size_t i, dir_length = strlen(pins->dir) + 1;

	for (i = 0; i < pins->object_count; i++) {
		bpf_object__for_each_program(program, pins->objects[i].object) {
			if (!pin_path(pins, pins->objects[i].name, "link", bpf_program__name(program),
				      path, sizeof(path)) &&
			    !strcmp(path + dir_length, name))
				return true;
		}
	}
	return false;
}

/*
 * New programs: a program the old version had and this one has not would
 * go on running from its pin, for nobody. Its link is unpinned (detached).
 */
static void remove_stale_links(const struct pins *pins)
{
	struct dirent *entry;
	DIR *dir = opendir(pins->dir);

	if (!dir)
		return;
	while ((entry = readdir(dir))) {
		if (!strstr(entry->d_name, "-link-") || is_current_link(pins, entry->d_name))
			continue;
		if (unlinkat(dirfd(dir), entry->d_name, 0))
			pr_warn("cannot remove the old link %s/%s: %s", pins->dir, entry->d_name,
				strerror(errno));
		else
			pr_info("restart: %s is no program of this version: detached",
				entry->d_name);
	}
	closedir(dir);
}

int pins_commit(struct pins *pins)
{
	char path[PIN_PATH_MAX];
	__u32 key = 0;
	int fd, err = 0;

	if (pins->broken)
		return -EIO;
	if (pins->mode == PINS_KEEP)
		return 0;
	if (pins->mode == PINS_REPLACE)
		remove_stale_links(pins);
	snprintf(path, sizeof(path), "%s/%s", pins->dir, STAMP_NAME);
	if (pins->mode == PINS_REPLACE)
		fd = bpf_obj_get(path);
	else
		fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "aw_pins_stamp", sizeof(key),
				    sizeof(pins->stamp), 1, NULL);
	if (fd < 0)
		return -errno;
	if (bpf_map_update_elem(fd, &key, &pins->stamp, BPF_ANY))
		err = -errno;
	/* Last of all: a stamp means every pin it stands for is there. */
	if (!err && pins->mode == PINS_CLEAN && bpf_obj_pin(fd, path))
		err = -errno;
	close(fd);
	return err;
}

const uint8_t *pins_instance(const struct pins *pins)
{
	return pins->stamp.instance;
}
