/*
 * sim.h — shared declarations of the host-side shadowvt command.
 *
 * Each subcommand lives in its own cmd-*.c file and exports one
 * struct svt_cmd entry (tmux-style); shadowvt.c holds the table.  Every
 * subcommand returns one of the SVT_EXIT_* statuses documented in
 * shadowvt(1).
 */
#ifndef SVT_SIM_H
#define SVT_SIM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "svt.h"

/* Exit statuses (shadowvt(1), EXIT STATUS). */
#define SVT_EXIT_OK       0   /* success; for walk: the access translated */
#define SVT_EXIT_NEGATIVE 1   /* the answer is "no": the access faults */
#define SVT_EXIT_USAGE    2   /* bad arguments */
#define SVT_EXIT_INPUT    3   /* unreadable, unwritable or invalid input */
#define SVT_EXIT_INTERRUPTED 4  /* replay, run: stopped by SIGINT or SIGTERM */

struct svt_cmd {
	const char *name;
	const char *usage;
	const char *summary;
	int (*exec)(int argc, char **argv);
};

extern const struct svt_cmd svt_cmd_walk;
extern const struct svt_cmd svt_cmd_demo;
extern const struct svt_cmd svt_cmd_info;
extern const struct svt_cmd svt_cmd_dump;
extern const struct svt_cmd svt_cmd_export;
extern const struct svt_cmd svt_cmd_query;
extern const struct svt_cmd svt_cmd_report;
extern const struct svt_cmd svt_cmd_synth;
extern const struct svt_cmd svt_cmd_replay;
extern const struct svt_cmd svt_cmd_record;
extern const struct svt_cmd svt_cmd_run;

/* util.c */
extern const char *svt_progname;
void svt_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
bool svt_parse_u64(const char *s, uint64_t *out);
int svt_usage(const struct svt_cmd *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* How bad an exit status is, for the worst of several runs: OK < NEGATIVE
 * < INTERRUPTED < anything else. */
int svt_exit_rank(int status);
/* Length of the valid UTF-8 sequence at s (1 for ASCII), or 0. */
size_t svt_utf8_len(const unsigned char *s);

/* image.c: a raw guest-physical memory image as the core's environment. */
struct svt_image {
	const char *path;
	int fd;
	bool writable;
	int err;            /* errno of the first failed access, 0 if none */
	uint64_t err_gpa;
};
int svt_image_open(struct svt_image *img, const char *path, bool writable);
void svt_image_close(struct svt_image *img);
void svt_image_env(struct svt_image *img, struct svt_env *env);

/* demo.c: the built-in demo guest (a 4-level page table). */
#define SVT_DEMO_SIZE   (6u * 4096)
struct svt_demo_stop {
	uint64_t va;
	enum svt_access_kind kind;
	uint8_t cpl;
	const char *what;
};
extern const struct svt_demo_stop svt_demo_tour[];
extern const unsigned svt_demo_tour_len;
void svt_demo_build(uint8_t *mem);
void svt_demo_regs(struct svt_regs *r);

/* cmd-synth.c: mode names as the options spell them ("2level", "pae", ...),
 * and the default policy (every optimisation on, pool 512). */
int svt_parse_mode(const char *s);              /* enum svt_mode, or -1 */
const char *svt_mode_arg(enum svt_mode m);
void svt_default_policy(struct svt_policy *p, unsigned *pool);

/* cmd-record.c: where the hypervisor (hv.elf) and the engine's run script
 * (engine "bochs": bochs-run.sh, "qemu": qemu-run.sh) are: $SHADOWVT_VMX,
 * else the build tree, else where they are installed. */
void svt_vmx_paths(char *hv, char *script, size_t len, const char *engine);

/* cmd-walk.c: printing a walk, shared with the demo. */
const char *svt_mode_name(enum svt_mode m);
const char *svt_access_name(enum svt_access_kind k);
void svt_walk_print_text(FILE *f, const struct svt_regs *r, const struct svt_access *acc,
			 const struct svt_walk *w);
void svt_walk_print_json(FILE *f, const struct svt_walk *w);

#endif
