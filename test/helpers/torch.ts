/** Debian's PyTorch and the reference model beside the repository, for the checks against PyTorch. */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { ROOT } from "./cli.js";

/** Debian's Python, which has python3-torch (the pyenv python3 on PATH does not). */
export const PYTHON = "/usr/bin/python3";
/** The PyTorch reference workload in ../shared/bench, which CI also has beside the clone. */
export const REFERENCE = resolve(ROOT, "..", "shared", "bench", "torch_bert.py");

const canImportTorch = () => spawnSync(PYTHON, ["-c", "import torch"], { stdio: "ignore" }).status === 0;

/** Why a PyTorch check cannot run here (after trying to install Debian's torch as root), or undefined. */
export function whyNoTorch(): string | undefined {
  if (!existsSync(REFERENCE)) return `the reference ${REFERENCE} is missing`;
  if (!existsSync(PYTHON)) return `${PYTHON} is missing`;
  if (canImportTorch()) return undefined;
  if (process.getuid?.() === 0) {
    process.stderr.write("installing python3-torch with apt-get...\n");
    const apt = (...args: string[]) =>
      spawnSync("apt-get", args, {
        stdio: "ignore",
        env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
        timeout: 900_000,
      }).status === 0;
    const install = () => apt("install", "-y", "-qq", "--no-install-recommends", "python3-torch");
    // A fresh machine may have no package lists yet.
    if (!install()) apt("update", "-qq") && install();
    if (canImportTorch()) return undefined;
    return `${PYTHON} cannot import torch and apt-get install python3-torch failed`;
  }
  return `${PYTHON} cannot import torch (run as root: apt-get install -y python3-torch)`;
}
