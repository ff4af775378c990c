/**
 * The command table. Modules load lazily so `tunekit validate` never pays for the engine or SQLite.
 * A command module's default export is its Command.
 */
import type { Command } from "../command.js";

export interface CommandEntry {
  name: string;
  summary: string;
  load: () => Promise<{ default: Command }>;
}

export const commandTable: CommandEntry[] = [
];
