/**
 * What a command talks to: its streams, environment and working folder. Commands never touch
 * process.stdout directly, so the CLI can be driven in-process by tests and by other programs.
 */
import { isAbsolute, relative } from "node:path";
import type { Writable } from "node:stream";
import { removeLiveTempFiles } from "../util/fs.js";

export interface CliIO {
  stdout: Writable & { isTTY?: boolean; columns?: number };
  stderr: Writable & { isTTY?: boolean; columns?: number };
  stdin?: NodeJS.ReadableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
  cwd: string;
}

export function processIO(): CliIO {
  return { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env, cwd: process.cwd() };
}

/** Colour only on a terminal, never when NO_COLOR is set; FORCE_COLOR turns it on. */
export function colorEnabled(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== "0") return true;
  return stream.isTTY === true && env.TERM !== "dumb";
}

/**
 * Ctrl-C (or a kill) while a command writes a file: the temp files of unfinished writes are removed (the
 * target was never touched) and the process exits 130 (143 for SIGTERM). A command that stops cleanly by
 * itself (train) adds its own listener, and this one then stands aside.
 */
export function removeTempFilesOnInterrupt(): void {
  for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
    process.on(signal, () => {
      if (process.listenerCount(signal) > 1) return;
      removeLiveTempFiles();
      process.exit(code);
    });
  }
  process.on("exit", removeLiveTempFiles);
}

/**
 * `tunekit ... | head` closes stdout early: that is the reader's choice, not an error, so the process
 * ends quietly instead of printing an EPIPE stack trace.
 */
export function exitQuietlyOnClosedPipe(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on("error", (e: NodeJS.ErrnoException) => {
      if (e.code === "EPIPE") process.exit(process.exitCode ?? 0);
      throw e;
    });
  }
}

/** A path as the user would type it: relative to the working folder when it lies inside it. */
export function shownPath(path: string, cwd = process.cwd()): string {
  const rel = relative(cwd, path);
  return rel && !rel.startsWith("..") && !isAbsolute(rel) ? rel : path;
}
