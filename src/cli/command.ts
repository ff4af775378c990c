/**
 * The contract every CLI command implements: a declarative option list (so --help is generated and
 * parsing is uniform) and a run function that returns an exit code. Commands stay thin: they parse,
 * call the library, and print.
 */
import { parseArgs } from "node:util";
import { TunekitError } from "../util/errors.js";
import { colorEnabled, type CliIO } from "./io.js";
import { palette, type Palette } from "../report/palette.js";

export interface OptionSpec {
  type: "string" | "boolean";
  short?: string;
  multiple?: boolean;
  /** One line for --help. */
  description: string;
  /** Name of the value in --help, e.g. "FILE". */
  valueName?: string;
  default?: string | boolean;
}

export type OptionValues = Record<string, string | boolean | string[] | boolean[] | undefined>;

export interface CommandContext {
  io: CliIO;
  values: OptionValues;
  positionals: string[];
  /** Colours for stdout (disabled off a terminal). */
  color: Palette;
  /** Colours for stderr. */
  errColor: Palette;
  /** Writes a line to stdout. */
  out(line?: string): void;
  /** Writes a line to stderr. */
  err(line?: string): void;
}

export interface Command {
  /** Full name, e.g. "validate" or "rag index". */
  name: string;
  summary: string;
  /** e.g. "tunekit validate FILE [--model M] [--json]" */
  usage: string;
  /** Longer text after the usage line in --help (exit codes, --json schema pointer, examples). */
  details?: string;
  options: Record<string, OptionSpec>;
  /** Allowed number of positional arguments. */
  positionals: { min: number; max: number; names?: string };
  run(ctx: CommandContext): Promise<number>;
}

export function helpText(cmd: Command): string {
  const lines = [`Usage: ${cmd.usage}`, "", cmd.summary];
  if (cmd.details) lines.push("", cmd.details.trimEnd());
  const opts = Object.entries(cmd.options);
  const rows: [string, string][] = opts.map(([name, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : "    "}--${name}${o.type === "string" ? ` ${o.valueName ?? "VALUE"}` : ""}`;
    const def = o.default !== undefined && o.default !== false ? ` (default: ${String(o.default)})` : "";
    return [flag, o.description + def];
  });
  rows.push(["-h, --help", "show this help"]);
  const width = Math.max(...rows.map(([f]) => f.length)) + 2;
  lines.push("", "Options:");
  for (const [f, d] of rows) lines.push(`  ${f.padEnd(width)}${d}`);
  return lines.join("\n") + "\n";
}

export function usageError(cmd: Command | undefined, message: string): TunekitError {
  return new TunekitError("usage", message, {
    hint: cmd ? `run \`tunekit ${cmd.name} --help\` for usage` : "run `tunekit --help` for the list of commands",
    exitCode: 2,
  });
}

/**
 * `--k -1` reaches node's parser as an option followed by what looks like another option, which it
 * rejects with a puzzling "argument is ambiguous". A negative number after a value-taking option is
 * that option's value: join them (`--k=-1`) so the range check can say what is wrong with it.
 */
function joinNegativeValues(argv: string[], cmd: Command): string[] {
  const takesValue = (arg: string): string | undefined => {
    const long = /^--([^=]+)$/.exec(arg)?.[1];
    if (long !== undefined) return cmd.options[long]?.type === "string" ? long : undefined;
    const short = /^-([^-])$/.exec(arg)?.[1];
    if (short === undefined) return undefined;
    return Object.entries(cmd.options).find(([, o]) => o.short === short && o.type === "string")?.[0];
  };
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    // After "--" everything is a positional: leave it alone.
    if (argv[i] === "--") return out.concat(argv.slice(i));
    const name = takesValue(argv[i]);
    if (name !== undefined && i + 1 < argv.length && /^-(\d|\.\d)/.test(argv[i + 1])) {
      out.push(`--${name}=${argv[i + 1]}`);
      i++;
    } else {
      out.push(argv[i]);
    }
  }
  return out;
}

/** Parses argv for `cmd` and runs it. --help short-circuits. */
export async function runCommand(cmd: Command, argv: string[], io: CliIO): Promise<number> {
  const options: Record<string, { type: "string" | "boolean"; short?: string; multiple?: boolean }> = {
    help: { type: "boolean", short: "h" },
  };
  for (const [name, o] of Object.entries(cmd.options)) {
    options[name] = { type: o.type, ...(o.short ? { short: o.short } : {}), ...(o.multiple ? { multiple: true } : {}) };
  }
  let parsed;
  try {
    parsed = parseArgs({ args: joinNegativeValues(argv, cmd), options, allowPositionals: true, strict: true });
  } catch (e) {
    throw usageError(cmd, (e as Error).message.replace(/\. To specify a positional argument.*$/s, ""));
  }
  const values = parsed.values as OptionValues;
  const ctx: CommandContext = {
    io,
    values,
    positionals: parsed.positionals,
    color: palette(colorEnabled(io.stdout, io.env)),
    errColor: palette(colorEnabled(io.stderr, io.env)),
    out: (line = "") => void io.stdout.write(line + "\n"),
    err: (line = "") => void io.stderr.write(line + "\n"),
  };
  if (values.help) {
    io.stdout.write(helpText(cmd));
    return 0;
  }
  for (const [name, o] of Object.entries(cmd.options)) {
    if (values[name] === undefined && o.default !== undefined) values[name] = o.default;
  }
  const n = parsed.positionals.length;
  if (n < cmd.positionals.min) {
    throw usageError(cmd, `missing argument${cmd.positionals.names ? `: ${cmd.positionals.names}` : ""}`);
  }
  if (n > cmd.positionals.max) {
    throw usageError(cmd, `unexpected argument: ${parsed.positionals[cmd.positionals.max]}`);
  }
  return cmd.run(ctx);
}

/** Reads a string option; undefined when absent. */
export function str(ctx: CommandContext, name: string): string | undefined {
  const v = ctx.values[name];
  if (v === undefined) return undefined;
  if (Array.isArray(v)) return String(v[v.length - 1]);
  return typeof v === "string" ? v : undefined;
}

/** Reads a repeated string option as a list. */
export function strList(ctx: CommandContext, name: string): string[] {
  const v = ctx.values[name];
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : [v]).map(String);
}

export function bool(ctx: CommandContext, name: string): boolean {
  return ctx.values[name] === true;
}

/** Parses a numeric option with bounds, or throws a usage error naming the option. */
export function num(
  ctx: CommandContext,
  cmd: Pick<Command, "name">,
  name: string,
  opts: { integer?: boolean; min?: number; max?: number } = {},
): number | undefined {
  const raw = str(ctx, name);
  if (raw === undefined) return undefined;
  const v = Number(raw);
  const bad =
    raw.trim() === "" ||
    !Number.isFinite(v) ||
    (opts.integer && !Number.isInteger(v)) ||
    (opts.min !== undefined && v < opts.min) ||
    (opts.max !== undefined && v > opts.max);
  if (bad) {
    const range =
      opts.min !== undefined && opts.max !== undefined
        ? ` between ${opts.min} and ${opts.max}`
        : opts.min !== undefined
          ? ` >= ${opts.min}`
          : opts.max !== undefined
            ? ` <= ${opts.max}`
            : "";
    throw new TunekitError("usage", `--${name} must be ${opts.integer ? "an integer" : "a number"}${range}, got "${raw}"`, {
      hint: `run \`tunekit ${cmd.name} --help\` for usage`,
    });
  }
  return v;
}

/** Prints a JSON document on stdout (one line when `compact`). */
export function printJson(ctx: CommandContext, value: unknown, compact = false): void {
  ctx.io.stdout.write(JSON.stringify(value, null, compact ? undefined : 2) + "\n");
}
