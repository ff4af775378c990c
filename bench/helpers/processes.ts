/** Each side of a bench runs in its own process (its own peak RSS); these run one and read its result. */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));

/** Run `cmd` in the project root; its last stdout line that starts with "{" is its result. */
export function runJsonChild(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Record<string, unknown> {
  const r = spawnSync(cmd, args, { cwd: root, env, encoding: "utf8", maxBuffer: 1 << 26 });
  const line = r.stdout.trim().split("\n").reverse().find((l) => l.startsWith("{"));
  if (r.status !== 0 || !line) throw new Error(`${cmd} ${args.join(" ")} failed (${r.status}):\n${r.stderr.slice(-2000)}`);
  return JSON.parse(line);
}

/** PyTorch's environment: no OpenMP spin-waiting, `threads` threads, OpenBLAS's `coretype` kernels (undefined: the machine's). */
export function torchEnv(threads: number, coretype: string | undefined): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, GOMP_SPINCOUNT: "0", OMP_NUM_THREADS: String(threads) };
  if (coretype) env.OPENBLAS_CORETYPE = coretype;
  else delete env.OPENBLAS_CORETYPE;
  return env;
}
