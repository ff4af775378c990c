/**
 * Errors a user can cause (bad input, bad usage, missing files) are TunekitErrors: they carry a stable
 * code, where the problem is and what to do. The CLI prints them without a stack trace; anything else
 * that escapes is a bug in tunekit and is reported as one.
 */

/** Process exit codes shared by every command. */
export const EXIT = {
  ok: 0,
  /** The input has errors (invalid dataset rows, failed CI gate, ...). */
  inputErrors: 1,
  /** Usage problem, unreadable file, network failure: the command could not do its job. */
  usage: 2,
} as const;

export interface ErrorLocation {
  file?: string;
  /** 1-based physical line. */
  line?: number;
  /** 1-based column. */
  column?: number;
}

export interface TunekitErrorOptions extends ErrorLocation {
  /** What the user can do about it. */
  hint?: string;
  /** 1 for "the input has errors", 2 (default) for usage/I-O problems. */
  exitCode?: 1 | 2;
  cause?: unknown;
}

export class TunekitError extends Error {
  readonly code: string;
  readonly hint?: string;
  readonly file?: string;
  readonly line?: number;
  readonly column?: number;
  readonly exitCode: 1 | 2;

  constructor(code: string, message: string, options: TunekitErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "TunekitError";
    this.code = code;
    this.hint = options.hint;
    this.file = options.file;
    this.line = options.line;
    this.column = options.column;
    this.exitCode = options.exitCode ?? 2;
  }

  /** "file:line:column" or whichever part is known. */
  get location(): string | undefined {
    if (this.file === undefined) return this.line === undefined ? undefined : `line ${this.line}`;
    let s = this.file;
    if (this.line !== undefined) s += `:${this.line}`;
    if (this.line !== undefined && this.column !== undefined) s += `:${this.column}`;
    return s;
  }

  toJSON(): Record<string, unknown> {
    return {
      code: this.code,
      message: this.message,
      ...(this.file !== undefined ? { file: this.file } : {}),
      ...(this.line !== undefined ? { line: this.line } : {}),
      ...(this.column !== undefined ? { column: this.column } : {}),
      ...(this.hint !== undefined ? { hint: this.hint } : {}),
    };
  }
}

export function isTunekitError(e: unknown): e is TunekitError {
  return e instanceof TunekitError;
}

/**
 * Turns a Node file-system error into a TunekitError with a plain message (missing file, directory,
 * permission, disk full). Anything else is returned unchanged.
 */
export function fsError(e: unknown, file: string, action = "read"): unknown {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case "ENOENT":
      return new TunekitError("file_not_found", `cannot ${action} ${file}: no such file or directory`, {
        file,
        hint: "check the path",
        cause: e,
      });
    case "EISDIR":
      return new TunekitError("is_a_directory", `cannot ${action} ${file}: it is a directory, not a file`, {
        file,
        hint: "pass a file path",
        cause: e,
      });
    case "EACCES":
    case "EPERM":
      return new TunekitError("permission_denied", `cannot ${action} ${file}: permission denied`, {
        file,
        hint: "check the file's permissions",
        cause: e,
      });
    case "ENOSPC":
      return new TunekitError("disk_full", `cannot ${action} ${file}: no space left on device`, {
        file,
        hint: "free some disk space and try again; nothing partial was left behind",
        cause: e,
      });
    case "EEXIST":
      // mkdir (even recursive) says EEXIST when a file stands where the folder should go.
      return new TunekitError("already_exists", `cannot ${action} ${file}: a file of that name is already there`, {
        file,
        hint: "choose another path, or move that file away",
        cause: e,
      });
    case "ENOTDIR":
      return new TunekitError("not_a_directory", `cannot ${action} ${file}: a parent of this path is not a directory`, {
        file,
        cause: e,
      });
    default:
      return e;
  }
}
