/*
 * buildid.c — the build identity of this program (sim.h): the GNU build-id
 * note the linker writes into the executable (-Wl,--build-id=sha1 in
 * Makefile.am), a hash of the linked code and data.  The core is linked
 * statically into the one executable, so any change to the core or the
 * tool (a different source, SVT_BROKEN, other compiler options) gives
 * another identity, where PACKAGE_VERSION would stay the same.  Without a
 * note (a linker that writes none) the identity is the CRC-32C of the
 * executable file itself.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <link.h>
#include <stdio.h>
#include <string.h>

#include "bytes.h"
#include "config.h"
#include "sim.h"

static char build_id[2 * 64 + 16];
static char tool_version[sizeof(build_id) + 64];

/* The main program's NT_GNU_BUILD_ID note, in hex, into build_id. */
static int find_note(struct dl_phdr_info *info, size_t size, void *data)
{
	(void)size;
	(void)data;
	if (info->dlpi_name && info->dlpi_name[0])
		return 1;               /* the first object is the program; stop there */
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_NOTE)
			continue;
		const unsigned char *p = (const unsigned char *)(info->dlpi_addr + ph->p_vaddr);
		size_t left = ph->p_memsz;
		while (left >= sizeof(ElfW(Nhdr))) {
			const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)p;
			size_t name = (nh->n_namesz + 3) & ~(size_t)3,
				desc = (nh->n_descsz + 3) & ~(size_t)3;
			size_t all = sizeof(*nh) + name + desc;
			if (all > left)
				break;
			if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 &&
			    memcmp(p + sizeof(*nh), "GNU", 4) == 0 && nh->n_descsz > 0 &&
			    nh->n_descsz <= 64) {
				const unsigned char *d = p + sizeof(*nh) + name;
				for (unsigned k = 0; k < nh->n_descsz; k++)
					snprintf(build_id + 2 * k, 3, "%02x", d[k]);
				return 1;
			}
			p += all;
			left -= all;
		}
	}
	return 1;
}

const char *svt_build_id(void)
{
	if (build_id[0])
		return build_id;
	dl_iterate_phdr(find_note, NULL);
	if (!build_id[0]) {
		FILE *f = fopen("/proc/self/exe", "rb");
		unsigned char buf[65536];
		uint32_t crc = 0;
		size_t n;
		if (f) {
			while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
				crc = svt_crc32c(crc, buf, n);
			fclose(f);
		}
		snprintf(build_id, sizeof(build_id), "exe-crc32c-%08x", (unsigned)crc);
	}
	return build_id;
}

const char *svt_tool_version(void)
{
	if (!tool_version[0])
		snprintf(tool_version, sizeof(tool_version), "%s build %.16s", PACKAGE_VERSION,
			 svt_build_id());
	return tool_version;
}
