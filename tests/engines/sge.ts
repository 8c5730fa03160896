/**
 * A private Grid Engine cell of one host for tests: its own `SGE_ROOT` in a
 * temp dir (the binaries linked from Debian's `/var/lib/gridengine`, the
 * cell, the spool database and the execd spool all private), initialised the
 * way Debian's `init_cluster` does it, with `sge_qmaster` and `sge_execd` on
 * 127.0.0.1 inside the given network namespace. The machine's own Grid Engine
 * (`/var/lib/gridengine/default`, `/var/spool/gridengine`, ports 6444/6445)
 * is never touched, so concurrent test runs cannot collide either.
 *
 * One queue `all.q` with 8 slots on `localhost`, a PE `smp` (Makeflow's SGE
 * driver asks for it), root jobs allowed (`min_uid 0`), and a one-second
 * scheduler (the 15 s default would make an array take 15 s).
 *
 * @module
 */
import { join } from "node:path";
import { type Netns, readOr, readPidFile, runCmd, stopPid, waitFor } from "./common.ts";

/** The commands a Grid Engine test needs. */
export const SGE_COMMANDS = [
  "/usr/sbin/sge_qmaster",
  "/usr/sbin/sge_execd",
  "/usr/lib/gridengine/spoolinit",
  "/usr/lib/gridengine/spooldefaults",
  "qconf",
  "qsub",
  "qstat",
];

const DEBIAN_ROOT = "/var/lib/gridengine";
const SHARE = "/usr/share/gridengine";

/** A running cell. */
export interface GridEngine {
  /** Environment for clients (`SGE_ROOT`, `SGE_CELL`, ports). */
  env: Record<string, string>;
  /** The daemons' messages, for a failure report. */
  logs(): Promise<[string, string][]>;
  /** Stops sge_execd and sge_qmaster by PID. */
  stop(): Promise<void>;
}

const PE = `pe_name smp
slots 999
user_lists NONE
xuser_lists NONE
start_proc_args /bin/true
stop_proc_args /bin/true
allocation_rule $pe_slots
control_slaves FALSE
job_is_first_task TRUE
urgency_slots min
accounting_summary FALSE
qsort_args NONE
`;

const EXEC_HOST = `hostname localhost
load_scaling NONE
complex_values NONE
user_lists NONE
xuser_lists NONE
projects NONE
xprojects NONE
usage_scaling NONE
report_variables NONE
`;

const LIMITS = [
  "s_rt",
  "h_rt",
  "s_cpu",
  "h_cpu",
  "s_fsize",
  "h_fsize",
  "s_data",
  "h_data",
  "s_stack",
  "h_stack",
  "s_core",
  "h_core",
  "s_rss",
  "h_rss",
  "s_vmem",
  "h_vmem",
];

const QUEUE = `qname all.q
hostlist localhost
seq_no 0
load_thresholds NONE
suspend_thresholds NONE
nsuspend 1
suspend_interval 00:05:00
priority 0
min_cpu_interval 00:05:00
processors UNDEFINED
qtype BATCH INTERACTIVE
ckpt_list NONE
pe_list smp
rerun FALSE
slots 8
tmpdir /tmp
shell /bin/sh
prolog NONE
epilog NONE
shell_start_mode posix_compliant
starter_method NONE
suspend_method NONE
resume_method NONE
terminate_method NONE
notify 00:00:60
owner_list NONE
user_lists NONE
xuser_lists NONE
subordinate_list NONE
complex_values NONE
projects NONE
xprojects NONE
calendar NONE
initial_state default
${LIMITS.map((l) => `${l} INFINITY`).join("\n")}
`;

/**
 * Creates the cell under `base` and starts it; resolves once the queue
 * instance `all.q@localhost` offers 8 free slots. On failure everything
 * started so far is stopped.
 */
export async function startGridEngine(
  base: string,
  netns: Netns,
  deadline: number,
): Promise<GridEngine> {
  const root = join(base, "root");
  const common = join(root, "default", "common");
  const spool = join(base, "spool");
  const dirs = [common, join(spool, "qmaster", "job_scripts"), join(spool, "execd")];
  for (const d of [...dirs, join(spool, "spooldb")]) {
    await Deno.mkdir(d, { recursive: true, mode: 0o755 });
  }
  for (const d of ["bin", "lib", "util", "utilbin"]) {
    await Deno.symlink(join(DEBIAN_ROOT, d), join(root, d));
  }
  const env = {
    SGE_ROOT: root,
    SGE_CELL: "default",
    SGE_QMASTER_PORT: "6444",
    SGE_EXECD_PORT: "6445",
  };
  const bootstrap = (await Deno.readTextFile(join(SHARE, "default-bootstrap")))
    .replace(/^admin_user\s.*$/m, "admin_user              none")
    .replaceAll("/var/spool/gridengine/spooldb", join(spool, "spooldb"))
    .replaceAll("/var/spool/gridengine/qmaster", join(spool, "qmaster"));
  await Deno.writeTextFile(join(common, "bootstrap"), bootstrap);
  const conf = (await Deno.readTextFile(join(SHARE, "default-configuration")))
    .replaceAll("/var/spool/gridengine/execd", join(spool, "execd"))
    .replace(/^min_uid\s.*$/m, "min_uid 0")
    .replace(/^min_gid\s.*$/m, "min_gid 0")
    .replace(/^mailer\s.*$/m, "mailer /bin/true");
  await Deno.writeTextFile(join(base, "global.conf"), conf);
  await Deno.writeTextFile(join(common, "act_qmaster"), "localhost\n");
  const hostname = (await runCmd("hostname", [])).out.trim();
  await Deno.writeTextFile(join(common, "host_aliases"), `localhost ${hostname}\n`);

  const pids: [string, number][] = [];
  const stop = async () => {
    // execd first (it would report to a gone qmaster), then qmaster, whose clean shutdown takes
    // ~10 s: its state is this test's temp dir, so after 2 s it is killed.
    for (const [name, pid] of pids.reverse()) await stopPid(pid, name, 2_000);
  };
  const logs = async (): Promise<[string, string][]> => [
    ["qmaster messages", await readOr(join(spool, "qmaster", "messages"))],
    ["execd messages", await readOr(join(spool, "execd", "localhost", "messages"))],
  ];
  const must = async (cmd: string, args: string[], stdin?: string) => {
    const o = await runCmd(cmd, args, { env, netns, cwd: base, stdin });
    if (o.code !== 0) throw new Error(`${cmd} ${args.join(" ")} failed: ${o.err}${o.out}`);
    return o.out;
  };
  try {
    const lib = "/usr/lib/gridengine";
    await must(`${lib}/spoolinit`, ["berkeleydb", "libspoolb", join(spool, "spooldb"), "init"]);
    await must(`${lib}/spooldefaults`, ["configuration", join(base, "global.conf")]);
    await must(`${lib}/spooldefaults`, ["complexes", `${SHARE}/util/resources/centry`]);
    await must(`${lib}/spooldefaults`, ["usersets", `${SHARE}/util/resources/usersets`]);
    await must(`${lib}/spooldefaults`, ["managers", "root"]);
    await must("/usr/sbin/sge_qmaster", []); // forks
    pids.push([
      "sge_qmaster",
      await readPidFile(join(spool, "qmaster", "qmaster.pid"), "sge_qmaster", deadline),
    ]);
    await waitFor(
      "sge_qmaster to answer",
      async () => {
        return (await runCmd("qconf", ["-sh"], { env, netns })).code === 0;
      },
      deadline,
      200,
    );
    await must("qconf", ["-as", "localhost"]);
    for (const [opt, name, text] of [["-Ae", "exechost", EXEC_HOST], ["-Ap", "pe", PE]]) {
      await Deno.writeTextFile(join(base, name), text);
      await must("qconf", [opt, join(base, name)]);
    }
    await Deno.writeTextFile(join(base, "queue"), QUEUE);
    await must("qconf", ["-Aq", join(base, "queue")]);
    const sched = (await must("qconf", ["-ssconf"]))
      .replace(/^schedule_interval\s.*$/m, "schedule_interval 0:0:1")
      .replace(/^flush_submit_sec\s.*$/m, "flush_submit_sec 1")
      .replace(/^flush_finish_sec\s.*$/m, "flush_finish_sec 1");
    await Deno.writeTextFile(join(base, "sched"), sched);
    await must("qconf", ["-Msconf", join(base, "sched")]);
    await must("/usr/sbin/sge_execd", []); // forks
    pids.push([
      "sge_execd",
      await readPidFile(join(spool, "execd", "localhost", "execd.pid"), "sge_execd", deadline),
    ]);
    await waitFor(
      "all.q@localhost to offer 8 slots",
      async () => {
        const o = await runCmd("qstat", ["-f"], { env, netns });
        return /^all\.q@localhost\s+BIP\s+0\/0\/8\s+\S+\s+\S+\s*$/m.test(o.out);
      },
      deadline,
      200,
    );
  } catch (err) {
    const text = (await logs()).map(([t, x]) => `--- ${t}\n${x}`).join("\n");
    await stop();
    throw new Error(`${(err as Error).message}\n${text}`);
  }
  return { env, logs, stop };
}
