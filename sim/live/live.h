/*
 * live.h — running guests under the hypervisor (live-engine.c): where
 * the hypervisor and the engines' run scripts are.
 */
#ifndef SVT_LIVE_H
#define SVT_LIVE_H

#include <stddef.h>

/* Where the hypervisor (hv.elf) and the engine's run script (engine
 * "bochs": bochs-run.sh, "qemu": qemu-run.sh) are: $SHADOWVT_VMX, else the
 * build tree (an uninstalled shadowvt), else where they are installed.
 * hv and script each get len bytes. */
void svt_vmx_paths(char *hv, char *script, size_t len, const char *engine);

#endif
