#!/bin/sh
# shadowvt run and experiment files end to end: the examples validate
# against schema/experiment.rng (xmllint) and through run --check;
# examples/policies.xml runs (synth traces, every trace under every
# policy, all clean, JUnit report); a re-run reuses everything; a changed
# parameter redoes only what it changes; --force redoes everything; every
# malformed file in tests/experiments/ is refused with exit 3 and a
# FILE:LINE message saying what was expected (and xmllint agrees about the
# schema violations); violations and bad traces reach the summary, the exit
# status and the JUnit report; SIGINT ends the run with status 4.
set -u
. "$top_srcdir/tests/testlib.sh"
need xmllint sqlite3
bin="$top_builddir/shadowvt"
broken="$top_builddir/tests/shadowvt-broken"
rng="$top_srcdir/schema/experiment.rng"
ex="$top_srcdir/examples"
q() { sqlite3 "$work/res/out/results.db" "$1"; }

# ---- the examples validate ---------------------------------------------------
for f in "$ex"/*.xml; do
	xmllint --noout --relaxng "$rng" "$f" 2> "$work/err" && pass "xmllint: $(basename "$f") is valid" ||
		{ fail "xmllint: $(basename "$f")"; cat "$work/err"; }
	expect_status 0 "run --check $(basename "$f")" "$bin" run --check --results "$work/plan" "$f"
	grep -q ': valid$' "$work/out" && grep -q '^runs: ' "$work/out" ||
		{ fail "run --check prints no plan"; cat "$work/out"; }
done
[ ! -e "$work/plan" ] && pass "run --check makes nothing" || fail "run --check made $work/plan"
grep -q '^runs: 6 inputs x 8 policies = 48$' "$work/out" 2>/dev/null ||
	"$bin" run --check "$ex/policies.xml" | grep -q '^runs: 6 inputs x 8 policies = 48$' &&
	pass "policies.xml: 6 inputs, 8 policies" || fail "policies.xml plan"

# ---- examples/policies.xml end to end --------------------------------------------
mkdir -p "$work/exp"
cp "$ex/policies.xml" "$work/exp/policies.xml"
start=$(date +%s)
expect_status 0 "run policies.xml" "$bin" run -j 2 --results "$work/res" --junit "$work/res/junit.xml" \
	"$work/exp/policies.xml"
echo "# policies.xml ran in $(( $(date +%s) - start )) s"
tail -n 1 "$work/out" | sed 's/^/# /'
[ "$(grep -c ': synthesised ' "$work/out")" -eq 6 ] && pass "six traces synthesised" ||
	fail "traces synthesised: $(grep -c ': synthesised ' "$work/out")"
grep -q '^48 runs: 48 clean, 0 with violations, 0 bad input, 0 incomplete or not run; 42 replayed, 0 cached, 6 shared$' \
	"$work/out" && pass "48 runs clean: 42 replayed, 6 shared" || { fail "first run summary"; tail -n 3 "$work/out"; }
[ "$(q "SELECT count(*) FROM runs")" = 42 ] && [ "$(q "SELECT count(*) FROM runs WHERE status <> 'clean'")" = 0 ] &&
	[ "$(q "SELECT count(DISTINCT trace_checksum) FROM runs")" = 6 ] &&
	[ "$(q "SELECT count(DISTINCT policy) FROM runs")" -ge 7 ] &&
	pass "the database: 42 clean runs of 6 traces" || fail "the database after the first run: $(q "SELECT count(*), group_concat(DISTINCT status) FROM runs")"
[ "$(q "SELECT count(*) FROM runs WHERE audit = 'periodic' AND recorded_policy = 1")" = 6 ] &&
	pass "recorded-policy runs stored as such" || fail "recorded-policy runs"
# what-ifs labelled (docs/replay.md): the summary, the database, the JUnit
# report.  Synth traces log the guest's actions: every what-if is
# regenerated, so exact, and called so.
n=$(grep -c '^  *what-if exact: recording under ' "$work/out")
[ "$n" -eq 36 ] && ! grep -q "APPROXIMATE" "$work/out" &&
	[ "$(q "SELECT count(*) FROM runs WHERE whatif = 'exact' AND recorded_policy = 0")" = 36 ] &&
	[ "$(q "SELECT count(*) FROM runs WHERE recorded_policy = 1 AND whatif <> 'recorded'")" = 0 ] &&
	[ "$(xmllint --xpath 'count(//property[starts-with(@value, "exact: recording under")])' \
		"$work/res/junit.xml")" -ge 1 ] &&
	[ "$(xmllint --xpath 'count(//property[starts-with(@value, "APPROXIMATE")])' \
		"$work/res/junit.xml")" = 0 ] &&
	pass "what-ifs: $n exact (regenerated) runs called so in the summary, the database and the JUnit report" ||
	fail "what-if labels: $n in the summary; $(q "SELECT group_concat(whatif) FROM runs")"
[ "$(q "SELECT count(*) FROM counters c JOIN runs r ON r.id = c.run WHERE c.name = 'evictions' AND c.value > 0 AND r.policy LIKE '%pool=16'")" -ge 1 ] &&
	pass "small-pool evicts" || fail "small-pool does not evict"
# the JUnit report: 48 runs x 8 invariants, + INV-REPLAY for the 12 under the recorded policy
if xmllint --noout "$work/res/junit.xml" 2> "$work/err"; then
	pass "junit.xml is well-formed"
else
	fail "junit.xml"; cat "$work/err"
fi
n=$(xmllint --xpath 'count(//testcase)' "$work/res/junit.xml")
s=$(xmllint --xpath 'count(/testsuites/testsuite)' "$work/res/junit.xml")
f=$(xmllint --xpath 'count(//failure) + count(//error) + count(//skipped)' "$work/res/junit.xml")
r=$(xmllint --xpath 'count(//testcase[contains(@name, ": INV-REPLAY")])' "$work/res/junit.xml")
[ "$n" = 444 ] && [ "$s" = 6 ] && [ "$f" = 0 ] && [ "$r" = 12 ] &&
	[ "$(xmllint --xpath 'string(/testsuites/@tests)' "$work/res/junit.xml")" = 444 ] &&
	pass "junit: 444 test cases in 6 suites, none failed or skipped" ||
	fail "junit: $n test cases, $s suites, $f failed/errors/skipped, $r INV-REPLAY"
xmllint --xpath 'string(//testsuite[@name="mix-pae"]/testcase[@name="off: INV-WP"]/@classname)' \
	"$work/res/junit.xml" | grep -qx 'mix-pae' && pass "junit: classname is the trace, name POLICY: INV" ||
	fail "junit: testcase naming"

# ---- a re-run reuses everything ------------------------------------------------
expect_status 0 "run again" "$bin" run -j 2 --results "$work/res" "$work/exp/policies.xml"
grep -q '42 replayed' "$work/out" && fail "the re-run replayed"
grep -q '; 0 replayed, 42 cached, 6 shared$' "$work/out" && [ "$(grep -c ': reused ' "$work/out")" -eq 6 ] &&
	! grep -q ': synthesised ' "$work/out" && pass "re-run: every trace reused, every run cached" ||
	{ fail "re-run"; tail -n 3 "$work/out"; }
[ "$(q "SELECT count(*) FROM runs")" = 42 ] && pass "re-run adds no runs" || fail "re-run added runs"

# ---- a core built differently is not served this build's results ----------------------
# (the build identity: the executable's build-id, in --version and runs.tool_version)
v=$("$bin" --version | sed -n 's/^build //p'); vb=$("$broken" --version | sed -n 's/^build //p')
[ -n "$v" ] && [ -n "$vb" ] && [ "$v" != "$vb" ] && [ "$(q "SELECT count(DISTINCT tool_version) FROM runs")" = 1 ] &&
	[ "$(q "SELECT tool_version FROM runs LIMIT 1")" = "$("$bin" --version | sed -n 's/^shadowvt //p') build $(echo "$v" | cut -c1-16)" ] &&
	pass "--version shows the build identity, runs.tool_version holds it, shadowvt-broken's differs" ||
	fail "build identity: '$v' '$vb' $(q "SELECT DISTINCT tool_version FROM runs")"
cp -r "$work/res" "$work/res-b"
SVT_BROKEN=1 "$broken" run -j 2 --results "$work/res-b" "$work/exp/policies.xml" > "$work/out" 2> "$work/err"; rc=$?
[ "$rc" -eq 1 ] && grep -q '; 42 replayed, 0 cached, 6 shared$' "$work/out" &&
	! grep -q '^48 runs: 48 clean' "$work/out" &&
	[ "$(sqlite3 "$work/res-b/out/results.db" "SELECT count(DISTINCT tool_version) FROM runs")" = 2 ] &&
	pass "a broken core on the clean build's database: nothing cached, every run replayed, violations (exit 1)" ||
	{ fail "broken core served the cache: exit $rc"; tail -n 2 "$work/out"; }

# ---- shards and the merge without a cluster (run --slurm-task, --slurm-merge) ------------
# what the jobs of run --slurm do (docs/cluster.md), run here by hand
mkdir -p "$work/sh"
cp -r "$work/res/out" "$work/sh/" && rm -f "$work/sh/out/results.db"*
list="$work/sh/list"
printf 'replay 0 fork-4level@recorded\nreplay 1 fork-4level@off\n' > "$list"
shards="$work/sh/out/results.slurm/shards"
expect_status 2 "--slurm-task without SLURM_ARRAY_TASK_ID" "$bin" run --results "$work/sh" --slurm-task "$list" \
	"$work/exp/policies.xml"
grep -q 'SLURM_ARRAY_TASK_ID is not set' "$work/err" || fail "--slurm-task: no SLURM_ARRAY_TASK_ID message"
SLURM_ARRAY_TASK_ID=0 "$bin" run --results "$work/sh" --slurm-task "$list" "$work/exp/policies.xml" > "$work/out" 2>&1 &&
	[ -f "$shards/fork-4level@recorded.db" ] && [ ! -e "$work/sh/out/results.db" ] &&
	pass "a replay task writes its shard, not the database" || { fail "replay task"; cat "$work/out"; }
SLURM_ARRAY_TASK_ID=1 "$broken" run --results "$work/sh" --slurm-task "$list" "$work/exp/policies.xml" > /dev/null 2>&1
cp "$shards/fork-4level@recorded.db" "$work/sh/saved.db"
expect_status 4 "--slurm-merge with shards missing" "$bin" run --results "$work/sh" --slurm-merge "$work/exp/policies.xml"
grep -q '^merge into .*: 1 shard(s) merged, 0 duplicate(s) dropped, 1 refused, 41 run(s) missing$' "$work/out" &&
	grep -q 'refused: .*fork-4level@off.db: made by another build' "$work/err" && [ -f "$shards/fork-4level@off.db.refused" ] &&
	grep -q '^shadowvt run: missing: fork-pae under off: no shard ' "$work/err" &&
	[ "$(sqlite3 "$work/sh/out/results.db" "SELECT count(*) FROM runs")" = 1 ] && [ ! -e "$shards/fork-4level@recorded.db" ] &&
	pass "the merge: one shard in, another build's refused, the missing named" ||
	{ fail "merge"; cat "$work/out" "$work/err" | head -n 20; }
cp "$work/sh/saved.db" "$shards/fork-4level@recorded.db"
"$bin" run --results "$work/sh" --slurm-merge "$work/exp/policies.xml" > "$work/out" 2>&1
grep -q ': 0 shard(s) merged, 1 duplicate(s) dropped, 0 refused' "$work/out" &&
	[ "$(sqlite3 "$work/sh/out/results.db" "SELECT count(*) FROM runs")" = 1 ] &&
	pass "the merge drops a shard whose run is in the database" || { fail "duplicate shard"; head -n 3 "$work/out"; }
SLURM_ARRAY_TASK_ID=0 "$bin" run --results "$work/sh" --slurm-task "$list" "$work/exp/policies.xml" > "$work/out" 2>&1
grep -q '^fork-4level under recorded: already in ' "$work/out" && [ ! -e "$shards/fork-4level@recorded.db" ] &&
	pass "a task whose run is in the database does nothing" || { fail "task on a merged run"; cat "$work/out"; }
expect_status 2 "--force with --slurm" "$bin" run --slurm --force "$work/exp/policies.xml"

# ---- one parameter changed: only its trace and runs are redone -----------------------
sed 's/name="mix-pae" workload="mix" mode="pae" events="20000" seed="3"/name="mix-pae" workload="mix" mode="pae" events="20000" seed="4"/' \
	"$ex/policies.xml" > "$work/exp/policies.xml"
grep -q 'seed="4"' "$work/exp/policies.xml" || fail "could not change a seed in the example"
expect_status 0 "run with one seed changed" "$bin" run --results "$work/res" "$work/exp/policies.xml"
grep -q '^mix-pae: synthesised ' "$work/out" && [ "$(grep -c ': synthesised ' "$work/out")" -eq 1 ] &&
	grep -q '; 7 replayed, 35 cached, 6 shared$' "$work/out" && [ "$(q "SELECT count(*) FROM runs")" = 49 ] &&
	pass "changed seed: one trace made again, its 7 runs redone" || { fail "changed seed"; tail -n 3 "$work/out"; }
expect_status 0 "run --force" "$bin" run -q --force --results "$work/res" "$work/exp/policies.xml"
grep -q '; 42 replayed, 0 cached, 6 shared$' "$work/out" && [ "$(q "SELECT count(*) FROM runs")" = 91 ] &&
	pass "--force redoes every run" || { fail "--force"; tail -n 2 "$work/out"; }

# ---- malformed experiment files --------------------------------------------------
# file | line | expected text | 1 if xmllint must reject it too (schema), 0 if it is left to shadowvt
bad="$top_srcdir/tests/experiments"
while IFS='|' read -r file line text schema; do
	[ -n "$file" ] || continue
	"$bin" run --check "$bad/$file" > "$work/out" 2> "$work/err"; rc=$?
	if [ "$rc" -eq 3 ] && grep -qF "$bad/$file:$line: " "$work/err" && grep -qF "$text" "$work/err"; then
		pass "$file: exit 3, line $line: $text"
	else
		fail "$file: exit $rc, wanted 3 and '$file:$line: ...$text'"; cat "$work/err"
	fi
	# every message names the file: nothing from libxml2's own handler
	grep -vqF "$bad/$file:" "$work/err" && { fail "$file: a message without FILE:LINE"; cat "$work/err"; }
	grep -q 'root:' "$work/err" && fail "$file: /etc/passwd leaked into the messages"
	xmllint --noout --relaxng "$rng" "$bad/$file" > /dev/null 2>&1; xrc=$?
	if [ "$schema" = 1 ] && [ "$xrc" -eq 0 ]; then fail "$file: xmllint accepts it; the schema must not"; fi
	if [ "$schema" = 0 ] && [ "$xrc" -ne 0 ]; then fail "$file: xmllint rejects it; the schema is stricter than expected"; fi
done <<'EOF'
not-xml.xml|1|not well-formed XML: Start tag expected|1
unclosed.xml|4|Opening and ending tag mismatch|1
wrong-root.xml|2|the root element is <experiments>|1
no-namespace.xml|2|expected <experiment xmlns="urn:shadowvt:experiment:1">|1
unknown-element.xml|4|<replay>: unexpected element in <experiment>: expected description, results|1
unknown-attribute.xml|4|unknown attribute 'frobnicate': expected name, workload|1
missing-attribute.xml|4|<synth>: missing attribute 'workload'|1
bad-integer.xml|4|<synth events="1x0">: expected an integer from 1 to|1
bad-mode.xml|3|<synth mode="3level">: expected 2level, pae, 4level or 5level|1
bad-sweep-value.xml|5|bad value '8' for policy knob pool: expected values from 16 to 65536|1
guest-both.xml|3|expected exactly one of the attributes 'shipped'|1
no-inputs.xml|2|no inputs: expected one or more of synth, guest and trace|1
twice.xml|5|<audit>: given twice|1
undefined-entity.xml|4|Entity 'undefined' not defined|1
unknown-guest.xml|3|unknown shipped guest: expected hello, paging-2level|0
unknown-workload.xml|4|unknown workload: expected fork, mmap|0
workload-mode.xml|3|expected mode 4level or 5level|0
unknown-knob.xml|6|unknown key 'turbo' (oos, prefetch, emulate, early, pool)|0
bad-knob-value.xml|5|prefetch=600: out of range 0..511|0
duplicate-name.xml|5|input name 'a' is already used at line 3|0
duplicate-policy.xml|6|policy name 'p' is already used at line 5|0
missing-trace.xml|4|no-such-trace.svt: No such file or directory: expected an existing, readable file|0
bad-execution.xml|4|<execution time="an hour">: expected a Slurm time limit|1
missing-kernel.xml|3|no-such-kernel.elf: No such file or directory|0
doctype-file.xml|2|a DOCTYPE is not allowed in an experiment file|0
doctype-url.xml|2|a DOCTYPE is not allowed in an experiment file (this one names an external DTD)|0
many-errors.xml|6|<synth workload="frobnicate">: unknown workload|1
EOF
[ "$(ls "$bad" | wc -l)" -eq 27 ] && pass "every malformed file is in the table" ||
	fail "tests/experiments has $(ls "$bad" | wc -l) files, the table 27"

# ---- usage ----------------------------------------------------------------------
expect_status 2 "run without a file" "$bin" run
expect_status 2 "run with two files" "$bin" run "$ex/policies.xml" "$ex/live.xml"
expect_status 2 "run -j 0" "$bin" run -j 0 "$ex/policies.xml"
grep -qx "shadowvt run: -j: '0' is not a number in 1..256" "$work/err" && pass "  ...gives the range" ||
	{ fail "-j 0 message"; cat "$work/err"; }
expect_status 2 "run --bogus" "$bin" run --bogus "$ex/policies.xml"
expect_status 3 "run on a missing file" "$bin" run "$work/nope.xml"
grep -q 'nope.xml: cannot read: No such file' "$work/err" && pass "missing file named" || fail "missing file message"
head -c 1100000 /dev/zero | tr '\0' ' ' > "$work/big.xml"
expect_status 3 "run on a file over 1 MiB" "$bin" run "$work/big.xml"
grep -q 'big.xml:1: the file is .* bytes; an experiment file is at most 1048576' "$work/err" &&
	pass "size limit named" || { fail "size limit message"; cat "$work/err"; }

# ---- violations, bad traces, skipped invariants: summary, exit status, JUnit -------
mkdir -p "$work/v"
"$bin" synth -q --workload fork --mode 4level --events 20000 --seed 5 -o "$work/v/fork.svt"
head -c 3000 "$work/v/fork.svt" > "$work/v/cut.svt"
cat > "$work/v/exp.xml" <<'EOF'
<?xml version="1.0"?>
<experiment xmlns="urn:shadowvt:experiment:1" name="broken">
  <trace name="fork" path="fork.svt"/>
  <audit level="periodic"/>
  <policies><recorded/><policy name="off">oos=0,prefetch=0,emulate=0,early=0</policy></policies>
</experiment>
EOF
SVT_BROKEN=1 "$broken" run -q --junit "$work/v/j.xml" "$work/v/exp.xml" > "$work/out" 2> "$work/err"; rc=$?
[ "$rc" -eq 1 ] && grep -q '^fork  *recorded  *violations ' "$work/out" &&
	grep -q 'first divergence (INV-REPLAY) at event' "$work/out" &&
	pass "a broken core: exit 1, violations in the summary" || { fail "broken core: exit $rc"; cat "$work/out" "$work/err"; }
xmllint --noout "$work/v/j.xml" &&
	[ "$(xmllint --xpath 'count(//testcase[@name="off: INV-WP"]/failure)' "$work/v/j.xml")" = 1 ] &&
	[ "$(xmllint --xpath 'count(//testcase[@name="recorded: INV-REPLAY"]/failure)' "$work/v/j.xml")" = 1 ] &&
	[ "$(xmllint --xpath 'count(//testcase[@name="recorded: INV-PERM"]/failure)' "$work/v/j.xml")" = 1 ] &&
	[ "$(xmllint --xpath 'count(//testcase[@name="off: INV-REPLAY"])' "$work/v/j.xml")" = 0 ] &&
	xmllint --xpath 'string(//testcase[@name="off: INV-WP"]/failure)' "$work/v/j.xml" | grep -q '^event [0-9]*: va 0x' &&
	pass "junit: the violated invariants fail, with their first violations" ||
	{ fail "junit failures"; grep -A3 '<failure' "$work/v/j.xml" | head -n 20; }
cat > "$work/v/bad.xml" <<'EOF'
<?xml version="1.0"?>
<experiment xmlns="urn:shadowvt:experiment:1" name="bad">
  <trace name="cut" path="cut.svt"/>
  <trace name="fork" path="fork.svt"/>
  <results db="bad.db" traces="."/>
</experiment>
EOF
expect_status 3 "a damaged trace: exit 3" "$bin" run -q --junit "$work/v/bj.xml" "$work/v/bad.xml"
grep -q '^cut  *recorded  *bad-input ' "$work/out" && grep -q '^fork  *recorded  *clean ' "$work/out" &&
	pass "the damaged trace is bad-input, the good one clean" || { fail "bad-input summary"; cat "$work/out"; }
[ "$(xmllint --xpath 'count(//testsuite[@name="cut"]//error)' "$work/v/bj.xml")" = 10 ] &&
	[ "$(xmllint --xpath 'count(//testsuite[@name="fork"]//skipped)' "$work/v/bj.xml")" = 3 ] &&
	xmllint --xpath 'string(//testsuite[@name="fork"]//skipped/@message)' "$work/v/bj.xml" |
	grep -q 'not checked at audit level faults' &&
	pass "junit: bad input is an error; INV-WP/SYNC/STRUCT skipped at audit faults" ||
	{ fail "junit errors and skips"; cat "$work/v/bj.xml"; }

# ---- SIGINT ---------------------------------------------------------------------
cat > "$work/v/slow.xml" <<'EOF'
<?xml version="1.0"?>
<experiment xmlns="urn:shadowvt:experiment:1" name="slow">
  <synth name="slow" workload="mix" events="2000000"/>
  <audit level="full"/>
</experiment>
EOF
"$bin" run -q "$work/v/slow.xml" > "$work/out" 2>&1 &
pid=$!
sleep 2
kill -INT "$pid"
wait "$pid"; rc=$?
[ "$rc" -eq 4 ] && grep -Eq '^slow  *recorded  *(incomplete|not-run) ' "$work/out" &&
	pass "SIGINT: exit 4, the run incomplete" || { fail "SIGINT: exit $rc"; tail -n 4 "$work/out"; }

# ---- the manual's example files: valid; the first one's plan ---------------------
man="$top_srcdir/man/shadowvt-experiment.5"
awk '/^\.Sh EXAMPLES/ {ex=1; next} /^\.Sh / {ex=0}
     ex && /^\.Bd -literal/ {lit=1; n++; next} ex && /^\.Ed/ {lit=0; next}
     ex && lit && /^ *</ {print > (dir "/man-" n ".xml")}' dir="$work" "$man"
nman=0
for f in "$work"/man-*.xml; do
	[ -f "$f" ] || continue
	nman=$((nman + 1))
	xmllint --noout --relaxng "$rng" "$f" 2> "$work/err" && pass "shadowvt-experiment(5) example $nman is valid" ||
		{ fail "shadowvt-experiment(5) example $nman"; cat "$work/err"; }
done
[ "$nman" -eq 2 ] || fail "expected 2 example files in shadowvt-experiment(5), found $nman"
expect_status 0 "run --check on the manual's first example" "$bin" run --check "$work/man-1.xml"
grep -q '^runs: 3 inputs x 8 policies = 24$' "$work/out" && pass "its plan: 3 inputs x 8 policies" ||
	{ fail "the manual's example plan"; cat "$work/out"; }

# ---- a guest: shadowvt record runs as a child (a stand-in for Bochs that fails) ------
mkdir -p "$work/vmx" "$work/g"
: > "$work/vmx/hv.elf"
printf '#!/bin/sh\necho "$@" > "$(dirname "$0")/args"\nexit 127\n' > "$work/vmx/bochs-run.sh"
# a Multiboot header (the a.out kludge) alone: record refuses what is not a kernel
printf '\002\260\255\033\000\000\001\000\376\117\121\344' > "$work/g/k.elf"
head -c 20 /dev/zero >> "$work/g/k.elf"
cat > "$work/g/exp.xml" <<'XML'
<?xml version="1.0"?>
<experiment xmlns="urn:shadowvt:experiment:1">
  <guest name="k" kernel="k.elf" args="a b" policy="oos=0"/>
</experiment>
XML
SHADOWVT_VMX="$work/vmx" "$bin" run -q "$work/g/exp.xml" > "$work/out" 2> "$work/err"; rc=$?
[ "$rc" -eq 3 ] && grep -q 'k: shadowvt record failed (exit status 3)' "$work/err" &&
	grep -q "k.elf $work/vmx/hv.elf stream=lpt policy=oos=0,prefetch=8" "$work/vmx/args" &&
	grep -q '^k  *recorded  *not-run ' "$work/out" && [ ! -e "$work/g/traces/k.svt.params" ] &&
	pass "a guest is recorded by shadowvt record; its failure is exit 3" ||
	{ fail "guest recording: exit $rc"; cat "$work/out" "$work/err" "$work/vmx/args"; }

# ---- the fuzz target over the examples and the malformed files --------------------
"$top_builddir/tests/fuzz-experiment" "$ex"/*.xml "$bad"/*.xml > "$work/out" 2>&1 &&
	pass "fuzz-experiment on the examples and tests/experiments" || { fail "fuzz-experiment"; cat "$work/out"; }
finish run-cmd
