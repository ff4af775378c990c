export { openStore, Store, isTerminalStatus, TERMINAL_STATUSES, newJobId } from "./store.js";
export type {
  JobKind,
  JobStatus,
  JobError,
  JobRecord,
  NewJob,
  JobPatch,
  StoredEvent,
  MetricPoint,
  StoredCheckpoint,
  StatusChange,
  UploadedFile,
} from "./store.js";
export { openDatabase, migrate, tunekitHome, databasePath } from "./open.js";
export type { OpenDatabaseOptions, SqliteDatabase } from "./open.js";
export { migrations } from "./migrations.js";
export type { Migration } from "./migrations.js";
