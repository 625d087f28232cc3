/*
 * live.h — running guests under the hypervisor (live-engine.c): where
 * the hypervisor and the engines' run scripts are, and one recording:
 * a guest run in an engine, or a saved live stream, turned into a trace.
 */
#ifndef SVT_LIVE_H
#define SVT_LIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stream.h"

/* Where the hypervisor (hv.elf) and the engine's run script (engine
 * "bochs": bochs-run.sh, "qemu": qemu-run.sh) are: $SHADOWVT_VMX, else the
 * build tree (an uninstalled shadowvt), else where they are installed.
 * hv and script each get len bytes. */
void svt_vmx_paths(char *hv, char *script, size_t len, const char *engine);

/* A Linux kernel's command line when none is given: the serial console,
 * no KASLR (the boot protocol path does not randomise anyway), no crypto
 * self-tests (6.7 s under Bochs), reboot at once on a panic. */
#define SVT_LIVE_LINUX_APPEND "console=ttyS0,115200 panic=-1 nokaslr quiet cryptomgr.notests"

/* The hypervisor's policy string (policy= on its command line) for a
 * user's spec, over the hypervisor's defaults (not the replayer's): 0, or
 * -1 with the parser's reason in why. */
int svt_live_policy(const char *spec, char *policy, size_t len, char *why, size_t whylen);

/* One recording: guest set runs it in the engine under the hypervisor
 * and converts the stream it sent; guest NULL converts the saved stream. */
struct svt_live_run {
	const char *guest;      /* the kernel to run, or NULL */
	bool linux_kernel;      /* guest is a Linux bzImage (else a Multiboot kernel) */
	const char *initrd;     /* with linux_kernel: its initrd, or NULL */
	const char *args;       /* the guest's command line */
	const char *const *modules;     /* the Multiboot guest's modules (files), in order */
	unsigned nmodules;
	const char *stream;     /* without guest: the saved live stream */
	const char *engine;     /* "bochs" or "qemu" */
	const char *policy;     /* the hypervisor's policy (svt_live_policy), "" for its own */
	uint64_t timeout;       /* seconds before the engine is stopped */
	bool lpt;               /* the stream on LPT1 (spilling onto COM2), else COM2 */
	bool strict_memory;     /* stop the guest at memory with nothing behind it (else all
				 * ones, writes dropped) */
	const char *keep;       /* keep the run's files here, or NULL: a temporary directory */
	const char *out;        /* the trace to write; OUT.console and OUT.hv.log beside it,
				 * and after a failure OUT.engine.log (and OUT.stream) */
	/* if not NULL: called about every 200 ms while the engine runs, and
	 * once after, with the run's directory (console.txt, the stream file
	 * stream-lpt.bin or stream.bin as they grow): record's progress */
	void (*watch)(void *ctx, const char *dir);
	void *watch_ctx;
};

struct svt_live_result {
	struct svt_stream_result conv;  /* the conversion: counts, guest, END's verdict */
	char verdict[256];      /* END's verdict, else "timed out" or why the stream stopped */
	bool clean;             /* END arrived, nothing lost or damaged, the guest finished */
	bool no_trace;          /* timed out before HELLO: no trace written (verdict says so) */
	bool saved;             /* the run's files were copied beside out */
	char last_words[600];   /* the hypervisor's last log line, or "" (only when it matters) */
	bool not_copied;        /* the console and the log could not be copied beside out */
	char kept[4096];        /* the temporary directory, kept for a message pointing into it */
	char not_removed[4096]; /* the temporary directory, which could not be removed */
};

/*
 * Record run into run->out.  Returns 0 when the trace was written (its
 * verdict in *res, which may still not be clean), or the run timed out
 * before the hypervisor began recording (res->no_trace); or -1 with a
 * sentence in why (a file that cannot be read, a guest that is not a
 * Multiboot kernel the hypervisor loads (common/mbimage.h), a module that
 * cannot be read or whose name is not a plain word, a guest and modules
 * over 4 MiB together, refused before any emulator starts; the engine that
 * did not start, with what it said; a stream that does not convert);
 * *res is filled in either way: what to say besides (the hypervisor's
 * last words, the files saved beside out, copies and removals that
 * failed).  The trace is written through outfile.h; the temporary
 * directory is removed unless the run's files could not be copied beside
 * out.
 */
int svt_live_record(const struct svt_live_run *run, struct svt_live_result *res, char *why,
		    size_t whylen);

#endif
