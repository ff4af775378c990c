/**
 * The tunekit CLI: finds the command (longest name match, so "rag index" and "jobs list" work),
 * runs it, and turns user mistakes into a message and an exit code instead of a stack trace.
 */
import { EXIT, isTunekitError } from "../util/errors.js";
import { runCommand, usageError } from "./command.js";
import { commandTable } from "./commands/index.js";
import { colorEnabled, exitQuietlyOnClosedPipe, processIO, removeTempFilesOnInterrupt, type CliIO } from "./io.js";
import { palette } from "../report/palette.js";
import { VERSION } from "../version.js";

function topHelp(): string {
  const width = Math.max(...commandTable.map((c) => c.name.length)) + 2;
  const lines = [
    `tunekit ${VERSION}: fine-tune language models the right way`,
    "",
    "Usage: tunekit <command> [options]",
    "",
    "Commands:",
    ...commandTable.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
    "",
    "Run `tunekit <command> --help` for a command's options.",
    "Exit codes: 0 fine, 1 the input has errors, 2 usage or I/O problem.",
  ];
  return lines.join("\n") + "\n";
}

export { exitQuietlyOnClosedPipe, removeTempFilesOnInterrupt };

/** Reports an error on stderr (or as JSON on stdout with --json) and returns the exit code. */
export function reportError(e: unknown, io: CliIO, json: boolean): number {
  const c = palette(colorEnabled(io.stderr, io.env));
  if (isTunekitError(e)) {
    if (json) {
      io.stdout.write(JSON.stringify({ error: e.toJSON() }) + "\n");
    }
    const where = e.location ? `${e.location}: ` : "";
    io.stderr.write(`${c.red("error")}${c.dim(`[${e.code}]`)} ${where}${e.message}\n`);
    if (e.hint) io.stderr.write(`  ${c.dim("hint:")} ${e.hint}\n`);
    return e.exitCode;
  }
  const err = e as Error;
  io.stderr.write(`${c.red("internal error")}: ${err?.message ?? String(e)}\n`);
  if (err?.stack) io.stderr.write(c.dim(err.stack) + "\n");
  io.stderr.write("This is a bug in tunekit, not in your input. Please report it with the command you ran.\n");
  return EXIT.usage;
}

export async function main(argv: string[], io: CliIO = processIO()): Promise<number> {
  const json = argv.includes("--json");
  try {
    if (argv.length === 0 || argv[0] === "--help" || argv[0] === "-h" || argv[0] === "help") {
      io.stdout.write(topHelp());
      return argv.length === 0 ? EXIT.usage : EXIT.ok;
    }
    if (argv[0] === "--version" || argv[0] === "-v") {
      io.stdout.write(VERSION + "\n");
      return EXIT.ok;
    }
    // Longest match: "rag index" before "rag".
    let entry;
    let used = 0;
    for (const c of commandTable) {
      const parts = c.name.split(" ");
      if (parts.length > used && parts.every((p, i) => argv[i] === p)) {
        entry = c;
        used = parts.length;
      }
    }
    if (!entry) {
      const group = commandTable.filter((c) => c.name.startsWith(argv[0] + " "));
      if (group.length > 0) {
        io.stdout.write(
          `Usage: tunekit ${argv[0]} <subcommand>\n\nSubcommands:\n` +
            group.map((c) => `  ${c.name.padEnd(16)}${c.summary}`).join("\n") +
            "\n",
        );
        return argv.length === 1 || argv[1]?.startsWith("-") ? (argv.includes("--help") ? EXIT.ok : EXIT.usage) : reportError(usageError(undefined, `unknown subcommand: ${argv[0]} ${argv[1]}`), io, json);
      }
      throw usageError(undefined, `unknown command: ${argv[0]}`);
    }
    const mod = await entry.load();
    return await runCommand(mod.default, argv.slice(used), io);
  } catch (e) {
    return reportError(e, io, json);
  }
}

// Run directly (node --import tsx src/cli/main.ts ...): the published bin imports main() instead.
const invokedAsScript = process.argv[1] !== undefined && /[\\/]cli[\\/]main\.(ts|js)$/.test(process.argv[1]);
if (invokedAsScript) {
  exitQuietlyOnClosedPipe();
  removeTempFilesOnInterrupt();
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
