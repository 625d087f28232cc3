/*
 * experiment.h — experiment files (schema/experiment.rng,
 * shadowvt-experiment(5)): an XML file read into a plain description of
 * what to do, for `shadowvt run` (cmd-run.c).
 *
 * Loading a file parses it with libxml2 (no network, no DTD, no entity
 * expansion, at most SVT_EXP_MAX_BYTES), validates it against the RELAX
 * NG schema compiled into the program, then checks what the schema cannot
 * say: names unique, workloads, modes and shipped guests known, policy
 * strings made of known knobs with values in range, kernel and trace files
 * present.  Every problem is printed as "FILE:LINE: what was expected";
 * libxml2 never prints anything itself.  Nothing in this header depends
 * on libxml2.
 */
#ifndef SVT_EXPERIMENT_H
#define SVT_EXPERIMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "replay.h"
#include "svt.h"

#define SVT_EXP_MAX_BYTES       (1u << 20)      /* an experiment file's size limit */
#define SVT_EXP_MAX_POLICIES    256             /* policies after sweeps are expanded */
#define SVT_EXP_MAX_INPUTS      256
#define SVT_EXP_NAMESPACE       "urn:shadowvt:experiment:1"

enum svt_exp_kind { SVT_EXP_SYNTH, SVT_EXP_GUEST, SVT_EXP_TRACE };

/* One input: a trace to synthesise, a guest to record, or a trace file. */
struct svt_exp_input {
	enum svt_exp_kind kind;
	char *name;                     /* unique among the inputs; the trace's file name */
	unsigned line;
	/* SVT_EXP_SYNTH: syn_config's fields */
	char *workload;
	enum svt_mode mode;
	uint64_t events, seed, frames, frame_size;      /* frame_size 0: the default */
	int level;
	/* SVT_EXP_SYNTH and SVT_EXP_GUEST: the recording's policy */
	bool policy_given;              /* guest: else the hypervisor's default */
	struct svt_policy policy;
	unsigned pool;
	/* SVT_EXP_GUEST */
	char *shipped;                  /* the shipped guest's name, or NULL */
	char *kernel;                   /* the kernel's path (the shipped guest's, resolved) */
	char *args;                     /* its command line, "" if none */
	/* SVT_EXP_TRACE */
	char *path;                     /* resolved against the experiment's directory */
};

/* One policy to replay under. */
struct svt_exp_policy {
	char *name;                     /* unique among the policies */
	unsigned line;
	bool recorded;                  /* the policy each trace was recorded with */
	struct svt_policy policy;       /* else this one, */
	unsigned pool;
	char canon[128];                /* as svt_policy_format writes it ("" if recorded) */
};

struct svt_experiment {
	char *file;                     /* as given */
	char *name;                     /* the name attribute, else the file's base name */
	char *description;              /* or NULL */
	char *db;                       /* the results database, resolved */
	char *traces;                   /* the directory for traces made, resolved */
	enum svt_audit_level audit;
	char *engine;                   /* "bochs" or "qemu-kvm" */
	unsigned engine_line;
	uint64_t timeout;               /* seconds per recording */
	struct svt_exp_input *inputs;
	size_t ninputs;
	struct svt_exp_policy *policies;
	size_t npolicies;
	unsigned sweep_dropped;         /* sweep points equal to an earlier policy */
	/* <execution>: defaults for shadowvt run --slurm (NULL, 0: none) */
	char *partition, *time, *mem;
	unsigned array_max;
};

/*
 * Read and check the experiment file at path.  results_dir, if not NULL,
 * replaces the experiment file's directory as the base of the <results>
 * paths (shadowvt run --results).  Every problem is found in one pass (the
 * file's structure, the schema, and the checks no schema makes: names,
 * workloads, policies, files) and printed to err (may be NULL: silent) in
 * the order of their lines, at most SVT_EXP_MAX_ERRORS of them.  Returns
 * the experiment, or NULL when the file cannot be read or is not a valid
 * experiment.
 */
#define SVT_EXP_MAX_ERRORS      20
struct svt_experiment *svt_exp_load(const char *path, const char *results_dir, FILE *err);

/* The same on a file already in memory, named name, whose relative paths
 * are relative to dir (the fuzz target's entry point). */
struct svt_experiment *svt_exp_load_mem(const char *buf, size_t len, const char *name,
					const char *dir, const char *results_dir, FILE *err);

void svt_exp_free(struct svt_experiment *e);

/* The shipped guests (guests/), NULL-terminated, and the kernel file of one
 * (in the build tree); NULL if name is not one of them. */
extern const char *const svt_exp_shipped[];
char *svt_exp_shipped_kernel(const char *name);

/* The knobs not at their default, in canonical order ("oos=0,prefetch=0"),
 * or "default": the name a policy gets when it is given none. */
void svt_exp_policy_name(const struct svt_policy *p, unsigned pool, char *buf, size_t len);

/* The RELAX NG schema, schema/experiment.rng (experiment-rng.c, generated). */
extern const char svt_experiment_rng[];

#endif /* SVT_EXPERIMENT_H */
