/**
 * A private Slurm cluster of one node for tests: munged, slurmctld and
 * slurmd on 127.0.0.1 (inside the given network namespace), every file under
 * one directory, nothing in /etc or /run. See `../shared/reference/engines.md`
 * for why each setting is there (no cgroups, node name `localhost`, 8 CPUs
 * on a 2-core machine).
 *
 * @module
 */
import { join } from "node:path";
import { type Netns, Proc, readOr, readPidFile, runCmd, stopPid, waitFor } from "./common.ts";

/** The commands a Slurm test needs. */
export const SLURM_COMMANDS = [
  "munged",
  "mungekey",
  "slurmctld",
  "slurmd",
  "sbatch",
  "squeue",
  "sinfo",
];

/** A running cluster. */
export interface Slurm {
  /** Environment for clients (`SLURM_CONF`). */
  env: Record<string, string>;
  /** The daemons' logs, for a failure report. */
  logs(): Promise<[string, string][]>;
  /** Stops slurmd, slurmctld and munged by PID. */
  stop(): Promise<void>;
}

function slurmConf(base: string): string {
  return `ClusterName=poncho
SlurmctldHost=localhost(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=6817
SlurmdPort=6818
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=${base}/munge/munge.socket
StateSaveLocation=${base}/state
SlurmdSpoolDir=${base}/spool
SlurmctldPidFile=${base}/slurmctld.pid
SlurmdPidFile=${base}/slurmd.pid
SlurmctldLogFile=${base}/log/slurmctld.log
SlurmdLogFile=${base}/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MailProg=/bin/true
SlurmdParameters=config_overrides
NodeName=localhost NodeAddr=127.0.0.1 CPUs=8 RealMemory=2000 State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
`;
}

/**
 * Starts the cluster with its state in `base` (created) and waits until the
 * node is idle. On failure everything started so far is stopped.
 */
export async function startSlurm(base: string, netns: Netns, deadline: number): Promise<Slurm> {
  for (const d of ["munge", "state", "spool", "log"]) {
    await Deno.mkdir(join(base, d), { recursive: true, mode: 0o755 });
  }
  await Deno.chmod(base, 0o755);
  const conf = join(base, "slurm.conf");
  await Deno.writeTextFile(conf, slurmConf(base));
  const env = { SLURM_CONF: conf };
  const procs: Proc[] = [];
  let mungePid = 0;
  const stop = async () => {
    for (const p of [...procs].reverse()) {
      await stopPid(p.pid, p.name);
      await p.stop();
    }
    if (mungePid) await stopPid(mungePid, "munged");
  };
  const logs = async (): Promise<[string, string][]> => [
    ["munged log", await readOr(join(base, "log", "munged.log"))],
    ["slurmctld log", await readOr(join(base, "log", "slurmctld.log"))],
    ["slurmd log", await readOr(join(base, "log", "slurmd.log"))],
    ...procs.map((p): [string, string] => [p.name, p.text]),
  ];
  try {
    const key = join(base, "munge", "munge.key");
    const made = await runCmd("mungekey", ["--create", `--keyfile=${key}`]);
    if (made.code !== 0) throw new Error(`mungekey failed: ${made.err}`);
    const munged = await runCmd("munged", [
      `--socket=${base}/munge/munge.socket`,
      `--key-file=${key}`,
      `--log-file=${base}/log/munged.log`,
      `--pid-file=${base}/munge/munged.pid`,
      `--seed-file=${base}/munge/seed`,
      "--origin=127.0.0.1",
    ], { netns, cwd: base });
    if (munged.code !== 0) throw new Error(`munged failed: ${munged.err}`);
    mungePid = await readPidFile(join(base, "munge", "munged.pid"), "munged", deadline);
    procs.push(new Proc("slurmctld", "slurmctld", ["-D", "-c"], { cwd: base, env, netns }));
    procs.push(new Proc("slurmd", "slurmd", ["-D", "-N", "localhost"], { cwd: base, env, netns }));
    await waitFor(
      "the Slurm node to be idle",
      async () => {
        const o = await runCmd("sinfo", ["-h", "-N", "-o", "%t"], { env, netns });
        return o.out.trim() === "idle";
      },
      deadline,
      200,
    );
  } catch (err) {
    await stop();
    throw new Error(
      `${(err as Error).message}\n${(await logs()).map(([t, x]) => `--- ${t}\n${x}`).join("\n")}`,
    );
  }
  return { env, logs, stop };
}
