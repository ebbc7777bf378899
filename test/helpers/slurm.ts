/**
 * A one-node Slurm cluster on this machine for the tests: munged, slurmctld and slurmd (Debian's
 * slurm-wlm and munge) started as root in a temporary folder, on localhost only, with their own key,
 * configuration, ports and state; `stop` ends exactly the daemons it started.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { cpus, hostname } from "node:os";
import { join } from "node:path";

/** A running cluster: the environment its clients need (SLURM_CONF…) and how to stop it. */
export interface Cluster {
  env: Record<string, string>;
  partition: string;
  stop(): Promise<void>;
  /** The daemons' logs, for a failing test's message. */
  logs(): string;
}

const BINARIES = [
  "/usr/sbin/munged",
  "/usr/sbin/slurmctld",
  "/usr/sbin/slurmd",
  "/usr/bin/sbatch",
  "/usr/bin/sinfo",
];

/** Why a cluster cannot be started here, or undefined when it can be tried. */
export function whyNoSlurm(): string | undefined {
  const missing = BINARIES.find((b) => !existsSync(b));
  if (missing) return `${missing} is missing (install Debian's slurm-wlm and munge: bash scripts/setup.sh)`;
  if (process.getuid?.() !== 0) return "the Slurm daemons must be started as root (CI runs as root)";
  return undefined;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Starts munged, slurmctld and slurmd in `dir` and waits until the node is idle (or throws why not). */
export async function startSlurm(dir: string, timeoutMs = 60_000): Promise<Cluster> {
  const host = hostname().split(".")[0]!;
  for (const d of ["state", "spool", "munge"]) await mkdir(join(dir, d), { recursive: true, mode: 0o700 });
  const key = join(dir, "munge", "munge.key");
  await writeFile(key, randomBytes(1024), { mode: 0o400 });
  const socket = join(dir, "munge", "munge.socket");
  const [ctldPort, slurmdPort] = [await freePort(), await freePort()];
  const conf = join(dir, "slurm.conf");
  const cores = cpus().length;
  await writeFile(
    conf,
    [
      "ClusterName=gotunetest",
      `SlurmctldHost=${host}(127.0.0.1)`,
      `SlurmctldPort=${ctldPort}`,
      `SlurmdPort=${slurmdPort}`,
      `AuthInfo=socket=${socket}`,
      "SlurmUser=root",
      "SlurmdUser=root",
      `StateSaveLocation=${join(dir, "state")}`,
      `SlurmdSpoolDir=${join(dir, "spool")}`,
      `SlurmctldPidFile=${join(dir, "slurmctld.pid")}`,
      `SlurmdPidFile=${join(dir, "slurmd.pid")}`,
      `SlurmctldLogFile=${join(dir, "slurmctld.log")}`,
      `SlurmdLogFile=${join(dir, "slurmd.log")}`,
      "ProctrackType=proctrack/linuxproc",
      "TaskPlugin=task/none",
      "JobAcctGatherType=jobacct_gather/none",
      "AccountingStorageType=accounting_storage/none",
      "JobCompType=jobcomp/none",
      "SchedulerType=sched/backfill",
      "SelectType=select/cons_tres",
      "SelectTypeParameters=CR_Core_Memory",
      "MpiDefault=none",
      "ReturnToService=2",
      "MinJobAge=3600",
      "MailProg=/bin/true",
      "SlurmctldTimeout=30",
      "SlurmdTimeout=30",
      `NodeName=${host} NodeAddr=127.0.0.1 CPUs=${cores} RealMemory=4000 State=UNKNOWN`,
      `PartitionName=gotunetest Nodes=${host} Default=YES MaxTime=INFINITE State=UP`,
      "",
    ].join("\n"),
  );
  const env = { SLURM_CONF: conf, USER: process.env.USER ?? "root" };
  const children: ChildProcess[] = [];
  const start = (cmd: string, args: string[]) => {
    const c = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: "ignore" });
    c.on("error", () => {});
    children.push(c);
    return c;
  };
  const logs = () =>
    ["slurmctld.log", "slurmd.log", "munged.log"]
      .map((f) => {
        const r = spawnSync("tail", ["-n", "15", join(dir, f)], { encoding: "utf8" });
        return `--- ${f}\n${r.stdout}`;
      })
      .join("\n");
  const stop = async () => {
    for (const c of children.reverse()) {
      if (c.exitCode !== null || c.signalCode !== null) continue;
      c.kill("SIGTERM");
      const ended = new Promise((r) => c.once("exit", r));
      if ((await Promise.race([ended.then(() => true), sleep(10_000).then(() => false)])) === false)
        c.kill("SIGKILL");
    }
  };
  try {
    start("/usr/sbin/munged", [
      "--foreground",
      "--force",
      `--socket=${socket}`,
      `--key-file=${key}`,
      `--pid-file=${join(dir, "munge", "munged.pid")}`,
      `--log-file=${join(dir, "munged.log")}`,
      `--seed-file=${join(dir, "munge", "munged.seed")}`,
    ]);
    for (let i = 0; i < 50 && !existsSync(socket); i++) await sleep(100);
    if (!existsSync(socket)) throw new Error("munged did not start");
    start("/usr/sbin/slurmctld", ["-D", "-i", "-f", conf]);
    start("/usr/sbin/slurmd", ["-D", "-f", conf, "-N", host]);
    const t0 = Date.now();
    for (;;) {
      const r = spawnSync("sinfo", ["-h", "-o", "%T"], { env: { ...process.env, ...env }, encoding: "utf8" });
      const state = r.stdout.trim();
      if (r.status === 0 && /^(idle|mixed|allocated)/.test(state)) break;
      const dead = children.find((c) => c.exitCode !== null);
      if (dead || Date.now() - t0 > timeoutMs)
        throw new Error(
          `${dead ? `${dead.spawnfile} exited with ${dead.exitCode}` : `node state "${state}" after ${timeoutMs / 1000} s`}`,
        );
      await sleep(500);
    }
  } catch (err) {
    await stop();
    throw new Error(`Slurm did not start: ${(err as Error).message}\n${logs()}`);
  }
  return { env, partition: "gotunetest", stop, logs };
}
