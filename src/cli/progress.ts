/**
 * A progress bar on stderr for long work: done/total, rate, ETA. It shows only on a terminal and only
 * once the work has run for `delayMs` (about a second), so short commands and pipes stay clean.
 */
import type { CliIO } from "./io.js";

export interface ProgressOptions {
  label: string;
  /** Total units of work, if known (bytes, examples, steps). */
  total?: number;
  /** How units are printed: "bytes" formats as KB/MB/GB. */
  unit?: "bytes" | string;
  delayMs?: number;
  /** Force drawing even when stderr is not a TTY (tests). */
  force?: boolean;
  /** Show the bar's own rate (units per second); off when the status text carries a better one. */
  showRate?: boolean;
}

export interface Progress {
  /**
   * Sets the absolute amount done, with an optional short status text (e.g. "loss 1.23") and, when the
   * caller knows better than the bar's own rate, the remaining seconds.
   */
  update(done: number, status?: string, etaSeconds?: number): void;
  setTotal(total: number): void;
  /** Erases the bar (and prints nothing else). */
  finish(): void;
}

export function formatBytes(n: number): string {
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  return `${n >= 100 || i === 0 ? n.toFixed(0) : n.toFixed(1)} ${units[i]}`;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "--";
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

function formatNumber(n: number): string {
  return Number.isInteger(n) ? n.toLocaleString("en-US") : n.toFixed(1);
}

function formatAmount(n: number, unit: string | undefined): string {
  if (unit === "bytes") return formatBytes(n);
  return unit ? `${formatNumber(n)} ${unit}` : formatNumber(n);
}

/** "35/150 steps", "1.2 MB/300 MB". */
function formatFraction(done: number, total: number, unit: string | undefined): string {
  if (unit === "bytes") return `${formatBytes(done)}/${formatBytes(total)}`;
  return `${formatNumber(done)}/${formatAmount(total, unit)}`;
}

const noop: Progress = { update() {}, setTotal() {}, finish() {} };

/** Columns for one status line (80 when the terminal reports none, as some ptys do). */
function lineWidth(stream: CliIO["stderr"]): number {
  return Math.max(20, Math.min(stream.columns || 80, 120));
}

export function createProgress(io: Pick<CliIO, "stderr"> & { env?: NodeJS.ProcessEnv }, options: ProgressOptions): Progress {
  const stream = io.stderr;
  if (!options.force && stream.isTTY !== true) return noop;
  const start = Date.now();
  const delay = options.delayMs ?? 1000;
  let total = options.total;
  let lastDraw = 0;
  let drawn = false;
  let done = 0;
  let status = "";
  let givenEta: number | undefined;
  // The rate counts from the first update, so setup before the first unit of work (loading a model,
  // building a session) does not make the ETA too long.
  let firstAt: number | undefined;
  let firstDone = 0;

  const draw = () => {
    const now = Date.now();
    const elapsed = (now - start) / 1000;
    const span = firstAt === undefined ? 0 : (now - firstAt) / 1000;
    const rate = span > 0 ? (done - firstDone) / span : 0;
    const width = lineWidth(stream);
    // Until a second update there is no rate to show (nor an ETA from it).
    const rateText = options.showRate === false ? "" : rate > 0 ? ` ${formatAmount(rate, options.unit)}/s` : " --/s";
    let line: string;
    if (total !== undefined && total > 0) {
      const frac = Math.min(1, done / total);
      const eta = givenEta ?? (rate > 0 ? (total - done) / rate : Number.NaN);
      const right = ` ${(frac * 100).toFixed(0).padStart(3)}% ${formatFraction(done, total, options.unit)}${rateText} ETA ${formatDuration(eta)}${status ? " " + status : ""}`;
      const barWidth = Math.max(10, width - options.label.length - right.length - 4);
      const filled = Math.round(frac * barWidth);
      line = `${options.label} [${"#".repeat(filled)}${"-".repeat(barWidth - filled)}]${right}`;
    } else {
      line = `${options.label} ${formatAmount(done, options.unit)}${rateText} ${formatDuration(elapsed)}${status ? " " + status : ""}`;
    }
    stream.write(`\r${line.slice(0, width - 1)}\u001b[K`);
    drawn = true;
    lastDraw = now;
  };

  return {
    update(d: number, s?: string, eta?: number) {
      if (firstAt === undefined) {
        firstAt = Date.now();
        firstDone = d;
      }
      done = d;
      if (s !== undefined) status = s;
      givenEta = eta;
      const now = Date.now();
      if (now - start < delay) return;
      if (now - lastDraw < 100) return;
      draw();
    },
    setTotal(t: number) {
      total = t;
    },
    finish() {
      if (drawn) stream.write("\r\u001b[K");
      drawn = false;
    },
  };
}

/** The onProgress callback of the dataset readers: bytes read against the file size, examples so far. */
export function datasetReadProgress(progress: Progress): (p: { bytesRead: number; totalBytes: number; examples: number }) => void {
  return (p) => {
    progress.setTotal(p.totalBytes);
    progress.update(p.bytesRead, `${p.examples.toLocaleString("en-US")} examples`);
  };
}

/** One line of status on stderr for a phase of work that has no count ("loading the model ..."). */
export interface StatusLine {
  show(text: string): void;
  /** Erases the line (and prints nothing else). */
  clear(): void;
}

/** Like the progress bar: only on a terminal (or with `force`), so pipes and logs stay clean. */
export function createStatusLine(io: Pick<CliIO, "stderr">, options: { force?: boolean } = {}): StatusLine {
  const stream = io.stderr;
  if (!options.force && stream.isTTY !== true) return { show() {}, clear() {} };
  let drawn = false;
  return {
    show(text: string) {
      const width = lineWidth(stream);
      stream.write(`\r${text.slice(0, width - 1)}\u001b[K`);
      drawn = true;
    },
    clear() {
      if (drawn) stream.write("\r\u001b[K");
      drawn = false;
    },
  };
}
