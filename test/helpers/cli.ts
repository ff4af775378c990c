/** Runs the real CLI in a child process, as a user would, and captures what it prints. */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

export const projectRoot = fileURLToPath(new URL("../..", import.meta.url));
const mainTs = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));
/** tsx resolved from the project, so the CLI also starts from a cwd outside it. */
const tsx = import.meta.resolve("tsx");

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function runCli(
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", tsx, mainTs, ...args], {
      cwd: options.cwd ?? projectRoot,
      env: { ...process.env, NO_COLOR: "1", ...options.env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 120_000);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    child.stdin.end(options.input ?? "");
  });
}

/**
 * The same CLI entry point (`main`) run in this process, with captured streams: no process start-up,
 * for tests that run many commands. Signals and exit codes of a real process need `runCli`.
 */
export async function runCliInProcess(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  const { main } = await import("../../src/cli/main.js");
  const { PassThrough } = await import("node:stream");
  const capture = () => {
    const s = Object.assign(new PassThrough(), { isTTY: false });
    let text = "";
    s.setEncoding("utf8").on("data", (d: string) => (text += d));
    return { s, text: () => text };
  };
  const out = capture();
  const err = capture();
  const code = await main(args, { stdout: out.s, stderr: err.s, env: { ...process.env, NO_COLOR: "1", ...options.env }, cwd: options.cwd ?? projectRoot });
  await new Promise((r) => setImmediate(r));
  return { code, signal: null, stdout: out.text(), stderr: err.text() };
}
