/**
 * What CPU a bench ran on, for its output and JSON: the model and family (/proc/cpuinfo), the cores, and
 * the ISA oneDNN uses (after any DNNL_MAX_CPU_ISA cap), with the dtypes that run on it. Figures are only
 * comparable between runs on the same kind (an AVX-512 EPYC and an AVX2 Zen 3 differ by 2x in fp32 peak).
 */
import { readFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { addon } from "../src/native/index.js";

/** oneDNN's dnnl_cpu_isa_t values (dnnl_types.h, 2.x) by name. */
const ISA_NAMES: Record<number, string> = {
  1: "sse41",
  3: "avx",
  7: "avx2",
  39: "avx512_core",
  103: "avx512_core_vnni",
  231: "avx512_core_bf16",
  999: "avx512_core_amx",
  1031: "avx2_vnni",
};

export interface CpuInfo {
  model: string;
  family: number | null;
  cores: number;
  memory_gib: number;
  onednn_isa: string;
  bf16: boolean;
  int8: boolean;
}

/** The CPU in hand as the bench reports it. */
export function cpuInfo(): CpuInfo {
  let family: number | null = null;
  try {
    const m = /^cpu family\s*:\s*(\d+)/m.exec(readFileSync("/proc/cpuinfo", "utf8"));
    if (m) family = Number(m[1]);
  } catch {
    // not Linux: the family stays unknown
  }
  const b = addon().blasInfo();
  return {
    model: cpus()[0]?.model ?? "?",
    family,
    cores: cpus().length,
    memory_gib: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    onednn_isa: ISA_NAMES[b.onednnIsa] ?? `0x${b.onednnIsa.toString(16)}`,
    bf16: b.bf16,
    int8: b.int8,
  };
}

/** One line: "2 x AMD EPYC (family 25), oneDNN ISA avx2 (int8 on 7-bit inputs, no bf16), 23.5 GiB". */
export function cpuLine(c: CpuInfo = cpuInfo()): string {
  const int8 = !c.int8 ? "no int8" : addon().blasInfo().int8InputMax < 255 ? "int8 on 7-bit inputs" : "int8";
  return (
    `${c.cores} x ${c.model}${c.family === null ? "" : ` (family ${c.family})`}, oneDNN ISA ${c.onednn_isa} ` +
    `(${int8}, ${c.bf16 ? "bf16" : "no bf16"}), ${c.memory_gib} GiB`
  );
}
