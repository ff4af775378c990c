export interface DownloadProgress {
  file: string;
  loaded: number;
  total?: number;
}

export interface ResolveOptions {
  /** Never touch the network (also HF_HUB_OFFLINE=1). */
  offline?: boolean;
  onProgress?: (p: DownloadProgress) => void;
  /** Files to fetch instead of the default set (config, tokenizer files, safetensors). */
  files?: string[];
  /** Environment to read HF_* variables from (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Working folder for relative paths (default process.cwd()). */
  cwd?: string;
}

/** A hub model id: `owner/name` and the revision (branch, tag or commit) after `@`. */
export interface HubSpec {
  repo: string;
  revision: string;
}

const HUB_ID = /^([A-Za-z0-9][\w.-]*)\/([A-Za-z0-9][\w.-]*)(?:@([\w./-]+))?$/;
export const COMMIT = /^[0-9a-f]{40}$/;

/** Parses `owner/name[@revision]`; undefined when `spec` does not look like a hub id. */
export function parseHubId(spec: string): HubSpec | undefined {
  const m = HUB_ID.exec(spec);
  if (!m || m[1] === "." || m[1] === "..") return undefined;
  return { repo: `${m[1]}/${m[2]}`, revision: m[3] ?? "main" };
}
