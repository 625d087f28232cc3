/*
 * null.c — a shipped guest that powers off at once: the boot cost (BIOS,
 * GRUB, the hypervisor's start) that `make bench-live` subtracts from the
 * other guests' runs.
 */
#include <stdint.h>

#include "glib.h"

uint32_t pf_handler(uint32_t ec, uint32_t cr2);
uint32_t pf_handler(uint32_t ec, uint32_t cr2)
{
	(void)ec;
	(void)cr2;
	poweroff();
}

void gmain(uint32_t magic, uint32_t info);
void gmain(uint32_t magic, uint32_t info)
{
	(void)magic;
	(void)info;
	serial_init();
	puts_("guest: done\n");
	poweroff();
}
