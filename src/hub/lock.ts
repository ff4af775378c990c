/** A lock file between processes that fetch the same blob. */
import { promises as fsp } from "node:fs";

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * An exclusive lock file holding the owner's pid; waits while a live process holds it and takes over
 * a lock whose owner is gone (a killed download). Returns the release function.
 */
export async function lockFile(lockPath: string): Promise<() => Promise<void>> {
  for (;;) {
    try {
      const fh = await fsp.open(lockPath, "wx");
      await fh.writeFile(String(process.pid));
      await fh.close();
      return () => fsp.rm(lockPath, { force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    const owner = Number((await fsp.readFile(lockPath, "utf8").catch(() => "")).trim());
    if (owner > 0 && owner !== process.pid && !processAlive(owner)) {
      await fsp.rm(lockPath, { force: true });
      continue;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
