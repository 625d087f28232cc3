/*
 * mboot.c — the guest kernel, loaded as a Multiboot (v1) loader would:
 * from the first module GRUB gave the hypervisor, through its Multiboot
 * header (the a.out kludge's addresses, else its ELF32 program headers),
 * into guest RAM; and a Multiboot information structure for it that shows
 * only guest RAM (the hypervisor's memory is not in its map).
 */
#include "hv.h"

#define MB_MAGIC        0x1BADB002u
#define MB_INFO_GPA     0x9000u         /* the guest's information structure */
#define MB_MMAP_GPA     0x9400u
#define MB_CMDLINE_GPA  0x9800u
#define MODULE_MAX      (4u << 20)

static uint8_t module_copy[MODULE_MAX] __attribute__((aligned(4096)));
static uint32_t module_size;
static char guest_cmdline[1024];

static bool in_guest(uint64_t a, uint64_t len)
{
	return a >= 0x1000 && a + len <= HV_GUEST_TOP && a + len >= a;
}

static bool load_aout(const uint8_t *img, uint32_t size, const uint8_t *hdr, uint32_t *entry)
{
	uint32_t hoff = (uint32_t)(hdr - img);
	uint32_t header_addr = svt_get32(hdr + 12), load_addr = svt_get32(hdr + 16);
	uint32_t load_end = svt_get32(hdr + 20), bss_end = svt_get32(hdr + 24);
	if (header_addr < load_addr || header_addr - load_addr > hoff)
		return false;
	uint32_t off = hoff - (header_addr - load_addr);
	uint32_t len = load_end ? load_end - load_addr : size - off;
	if (load_end && load_end < load_addr)
		return false;
	if (off + len > size || !in_guest(load_addr, len))
		return false;
	memcpy(hv_gpa(load_addr), img + off, len);
	if (bss_end > load_addr + len) {
		if (!in_guest(load_addr + len, bss_end - load_addr - len))
			return false;
		memset(hv_gpa(load_addr + len), 0, bss_end - load_addr - len);
	}
	*entry = svt_get32(hdr + 28);
	return true;
}

static bool load_elf32(const uint8_t *img, uint32_t size, uint32_t *entry)
{
	if (size < 52 || svt_get32(img) != 0x464c457fu || img[4] != 1 || svt_get16(img + 18) != 3)
		return false;
	uint32_t phoff = svt_get32(img + 28);
	uint16_t phentsize = svt_get16(img + 42), phnum = svt_get16(img + 44);
	if (phentsize < 32 || (uint64_t)phoff + (uint64_t)phnum * phentsize > size)
		return false;
	for (unsigned i = 0; i < phnum; i++) {
		const uint8_t *ph = img + phoff + i * phentsize;
		if (svt_get32(ph) != 1)      /* PT_LOAD */
			continue;
		uint32_t off = svt_get32(ph + 4), paddr = svt_get32(ph + 12);
		uint32_t filesz = svt_get32(ph + 16), memsz = svt_get32(ph + 20);
		if (filesz > memsz || (uint64_t)off + filesz > size || !in_guest(paddr, memsz))
			return false;
		memcpy(hv_gpa(paddr), img + off, filesz);
		memset(hv_gpa(paddr + filesz), 0, memsz - filesz);
	}
	*entry = svt_get32(img + 24);
	return true;
}

bool hv_take_guest(uint32_t mb_info)
{
	const uint8_t *mbi = hv_gpa(mb_info);
	if (!(svt_get32(mbi) & (1u << 3)) || svt_get32(mbi + 20) == 0) {
		hv_printf("hv: no guest kernel: give it as the first Multiboot module\n");
		return false;
	}
	const uint8_t *mod = hv_gpa(svt_get32(mbi + 24));
	uint32_t start = svt_get32(mod), end = svt_get32(mod + 4), str = svt_get32(mod + 8);
	if (end <= start || end - start > MODULE_MAX) {
		hv_printf("hv: the guest module is empty or larger than %u bytes\n", MODULE_MAX);
		return false;
	}
	module_size = end - start;
	memcpy(module_copy, hv_gpa(start), module_size);
	const char *cmd = str ? (const char *)hv_gpa(str) : "";
	size_t cmdlen = strlen(cmd);
	if (cmdlen > sizeof(guest_cmdline) - 1)
		cmdlen = sizeof(guest_cmdline) - 1;
	memcpy(guest_cmdline, cmd, cmdlen);
	guest_cmdline[cmdlen] = 0;
	return true;
}

bool hv_load_guest(struct hv_guest *g)
{
	uint32_t size = module_size;
	size_t cmdlen = strlen(guest_cmdline);
	memcpy(hv_gpa(MB_CMDLINE_GPA), guest_cmdline, cmdlen + 1);
	g->name = guest_cmdline;

	const uint8_t *hdr = NULL;
	for (uint32_t o = 0; o + 32 <= size && o < 8192; o += 4) {
		const uint8_t *h = module_copy + o;
		if (svt_get32(h) == MB_MAGIC && svt_get32(h) + svt_get32(h + 4) + svt_get32(h + 8) == 0) {
			hdr = h;
			break;
		}
	}
	if (!hdr) {
		hv_printf("hv: the guest has no Multiboot header\n");
		return false;
	}
	bool ok = (svt_get32(hdr + 4) & (1u << 16)) ? load_aout(module_copy, size, hdr, &g->entry) :
						 load_elf32(module_copy, size, &g->entry);
	if (!ok) {
		hv_printf("hv: the guest's Multiboot header or ELF headers are unusable\n");
		return false;
	}

	/* The guest's information structure: memory, its command line, a map. */
	uint8_t *info = hv_gpa(MB_INFO_GPA);
	uint32_t *w = (uint32_t *)(void *)info;
	memset(info, 0, 0x400);
	w[0] = (1u << 0) | (1u << 2) | (1u << 6);
	w[1] = 639;
	w[2] = (uint32_t)((HV_GUEST_TOP - 0x100000) / 1024);
	w[4] = MB_CMDLINE_GPA;
	uint32_t *mm = hv_gpa(MB_MMAP_GPA);
	const uint64_t ranges[2][3] = { { 0, 0x9fc00, 1 }, { 0x100000, HV_GUEST_TOP - 0x100000, 1 } };
	for (int i = 0; i < 2; i++) {
		mm[i * 6 + 0] = 20;
		mm[i * 6 + 1] = (uint32_t)ranges[i][0];
		mm[i * 6 + 2] = (uint32_t)(ranges[i][0] >> 32);
		mm[i * 6 + 3] = (uint32_t)ranges[i][1];
		mm[i * 6 + 4] = (uint32_t)(ranges[i][1] >> 32);
		mm[i * 6 + 5] = (uint32_t)ranges[i][2];
	}
	w[11] = 2 * 24;         /* mmap_length */
	w[12] = MB_MMAP_GPA;    /* mmap_addr */
	g->info = MB_INFO_GPA;
	return true;
}
