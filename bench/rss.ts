/**
 * Peak resident memory as the bench's child processes report it. Not getrusage's maxRSS: Linux carries
 * that high-water mark across fork and exec, so a child spawned by a large parent (the bench, once it
 * has built the mbert model) reported the parent's size. /proc's VmHWM belongs to the address space that
 * exec made.
 */
import { readFileSync } from "node:fs";

/** The peak resident memory (VmHWM) of process `pid`, this one by default, in MB. */
export function peakRssMb(pid: number | "self" = "self"): number {
  const m = readFileSync(`/proc/${pid}/status`, "utf8").match(/VmHWM:\s+(\d+) kB/);
  return m ? Number(m[1]) / 1024 : Number.NaN;
}
