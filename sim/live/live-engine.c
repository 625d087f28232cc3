/*
 * live-engine.c — running guests under the hypervisor: where hv.elf and
 * the engines' run scripts are, for `shadowvt record` and the guest inputs
 * of experiments (live.h).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "live.h"

#ifndef SVT_BUILDDIR            /* a build outside the Makefile (make fuzz): no build tree */
#define SVT_BUILDDIR "/nonexistent"
#define SVT_SRCDIR "/nonexistent"
#define SVT_PKGLIBEXECDIR "/nonexistent"
#endif

/* Where hv.elf and the engine's run script (bochs-run.sh, qemu-run.sh)
 * are: $SHADOWVT_VMX (both), else the build tree (an uninstalled
 * shadowvt), else the installed copies. */
void svt_vmx_paths(char *hv, char *script, size_t len, const char *engine)
{
	const char *e = getenv("SHADOWVT_VMX");
	if (e && *e) {
		snprintf(hv, len, "%s/hv.elf", e);
		snprintf(script, len, "%s/%s-run.sh", e, engine);
		return;
	}
	snprintf(hv, len, "%s/vmx/hv.elf", SVT_BUILDDIR);
	snprintf(script, len, "%s/vmx/%s-run.sh", SVT_SRCDIR, engine);
	if (access(hv, R_OK) == 0 && access(script, R_OK) == 0)
		return;
	snprintf(hv, len, "%s/hv.elf", SVT_PKGLIBEXECDIR);
	snprintf(script, len, "%s/%s-run.sh", SVT_PKGLIBEXECDIR, engine);
}
