/**
 * Opens the tunekit database (`$TUNEKIT_HOME/tunekit.db`, default `~/.tunekit`) and brings its schema
 * up to date. Several tunekit processes may use it at once: WAL lets readers and one writer work
 * together, and the busy timeout makes a second writer wait instead of failing.
 */
import Database from "better-sqlite3";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { TunekitError, fsError } from "../util/errors.js";
import { tunekitHome } from "../util/home.js";
import { migrations as defaultMigrations, type Migration } from "./migrations.js";

export type SqliteDatabase = Database.Database;

export interface OpenDatabaseOptions {
  /** Folder holding tunekit.db; default $TUNEKIT_HOME, then ~/.tunekit. */
  home?: string;
  /** Environment to read TUNEKIT_HOME from (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** How long a writer waits for another process's lock, in ms (default 10 s). */
  busyTimeoutMs?: number;
  /** For tests of the migration runner. */
  migrations?: Migration[];
}

export { tunekitHome };

export function databasePath(options: { home?: string; env?: NodeJS.ProcessEnv } = {}): string {
  return join(tunekitHome(options), "tunekit.db");
}

/** Applies the migrations newer than the database's user_version, each in its own transaction. */
export function migrate(db: SqliteDatabase, list: Migration[] = defaultMigrations): number {
  for (let i = 0; i < list.length; i++) {
    if (list[i].version !== i + 1) throw new Error(`migration #${i} has version ${list[i].version}, expected ${i + 1}`);
  }
  const current = () => db.pragma("user_version", { simple: true }) as number;
  if (current() > list.length) {
    throw new TunekitError(
      "store_too_new",
      `the tunekit database is at schema version ${current()}, newer than this tunekit understands (${list.length})`,
      { hint: "upgrade tunekit, or point TUNEKIT_HOME at another folder" },
    );
  }
  for (const m of list) {
    if (current() >= m.version) continue;
    // IMMEDIATE takes the write lock first, so two processes opening a fresh database at once
    // serialise here and the second one sees the version the first one wrote.
    db.exec("BEGIN IMMEDIATE");
    try {
      if (current() < m.version) {
        db.exec(m.up);
        db.pragma(`user_version = ${m.version}`);
      }
      db.exec("COMMIT");
    } catch (e) {
      db.exec("ROLLBACK");
      throw e;
    }
  }
  return current();
}

export function openDatabase(options: OpenDatabaseOptions = {}): SqliteDatabase {
  const home = tunekitHome(options);
  try {
    mkdirSync(home, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw fsError(e, home, "create folder");
  }
  const file = join(home, "tunekit.db");
  let db: SqliteDatabase;
  try {
    db = new Database(file, { timeout: options.busyTimeoutMs ?? 10_000 });
  } catch (e) {
    throw new TunekitError("store_open_failed", `cannot open the tunekit database ${file}: ${(e as Error).message}`, {
      file,
      hint: "check the folder's permissions, or set TUNEKIT_HOME to another folder",
      cause: e,
    });
  }
  try {
    db.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 10_000}`);
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = NORMAL");
    db.pragma("foreign_keys = ON");
    migrate(db, options.migrations);
  } catch (e) {
    db.close();
    // "file is not a database" and friends: a damaged or foreign file, not a bug in tunekit.
    if (e instanceof TunekitError || (e as { code?: string }).code?.startsWith("SQLITE_") !== true) throw e;
    throw new TunekitError("store_unreadable", `cannot use the tunekit database ${file}: ${(e as Error).message}`, {
      file,
      hint: "the file is damaged or not a tunekit database: move it away (a new one is created), or set TUNEKIT_HOME to another folder",
      cause: e,
    });
  }
  return db;
}
