/** tunekit's own folder: $TUNEKIT_HOME, default ~/.tunekit (the store, caches). */
import { homedir } from "node:os";
import { join, resolve } from "node:path";

export function tunekitHome(options: { home?: string; env?: NodeJS.ProcessEnv } = {}): string {
  const env = options.env ?? process.env;
  if (options.home) return resolve(options.home);
  if (env.TUNEKIT_HOME) return resolve(env.TUNEKIT_HOME);
  return join(homedir(), ".tunekit");
}
