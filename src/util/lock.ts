/**
 * A lock file shared between processes (two `gotune` runs downloading the same blob): created with
 * O_EXCL, holding its owner's pid and host, its mtime refreshed while held. A lock whose owner is
 * gone (a dead pid on this host, or no refresh for a minute: kill -9, a crash) is taken over.
 */
import { promises as fsp } from "node:fs";
import { hostname } from "node:os";

const REFRESH_MS = 5_000;
const STALE_MS = 60_000;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

async function isStale(lock: string): Promise<boolean> {
  const [text, st] = await Promise.all([
    fsp.readFile(lock, "utf8").catch(() => ""),
    fsp.stat(lock).catch(() => undefined),
  ]);
  if (!st) return false; // gone already: the next attempt takes it
  const owner = /^(\d+) (.*)$/.exec(text.trim());
  if (owner && owner[2] === hostname() && Number(owner[1]) !== process.pid && !alive(Number(owner[1])))
    return true;
  return Date.now() - st.mtimeMs > STALE_MS;
}

/**
 * Runs `body` holding `lock`; while another live process holds it, waits (calling `onWait` once).
 * The lock file is removed afterwards, whatever `body` does.
 */
export async function withLock<T>(lock: string, body: () => Promise<T>, onWait?: () => void): Promise<T> {
  let waited = false;
  for (;;) {
    try {
      const fh = await fsp.open(lock, "wx");
      await fh.writeFile(`${process.pid} ${hostname()}\n`);
      await fh.close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    if (await isStale(lock)) {
      // Renamed away first, so that of two processes finding it stale only one removes it.
      const aside = `${lock}.${process.pid}.stale`;
      if (
        await fsp.rename(lock, aside).then(
          () => true,
          () => false,
        )
      )
        await fsp.rm(aside, { force: true });
      continue;
    }
    if (!waited) onWait?.();
    waited = true;
    await new Promise((r) => setTimeout(r, 100 + Math.random() * 100));
  }
  const refresh = setInterval(() => {
    const now = new Date();
    fsp.utimes(lock, now, now).catch(() => {});
  }, REFRESH_MS);
  refresh.unref();
  try {
    return await body();
  } finally {
    clearInterval(refresh);
    await fsp.rm(lock, { force: true });
  }
}
