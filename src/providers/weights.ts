/** Finds what a provider's download left in a folder: a PEFT adapter, or a full (merged) model. */
import { promises as fsp } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fail, ok, type DownloadedWeights, type TrainerResult } from "./types.js";

async function walk(dir: string, out: string[] = []): Promise<string[]> {
  for (const e of await fsp.readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) await walk(p, out);
    else if (e.isFile()) out.push(p);
  }
  return out;
}

/**
 * The shallowest folder under `root` with adapter_config.json + adapter_model.safetensors (an
 * adapter), else with config.json and safetensors weights (merged weights).
 */
export async function findWeights(root: string, expected: "adapter" | "merged"): Promise<TrainerResult<DownloadedWeights>> {
  const files = await walk(root);
  const byDir = new Map<string, string[]>();
  for (const f of files) {
    const d = dirname(f);
    byDir.set(d, [...(byDir.get(d) ?? []), f]);
  }
  const dirs = [...byDir.keys()].sort((a, b) => a.split("/").length - b.split("/").length);
  const names = (d: string) => new Set(byDir.get(d)!.map((f) => f.slice(d.length + 1)));
  const bytesOf = async (d: string) => (await Promise.all(byDir.get(d)!.map((f) => fsp.stat(f)))).reduce((s, st) => s + st.size, 0);
  const adapter = dirs.find((d) => names(d).has("adapter_config.json") && names(d).has("adapter_model.safetensors"));
  const merged = dirs.find((d) => names(d).has("config.json") && [...names(d)].some((n) => n.endsWith(".safetensors")));
  const pick = expected === "adapter" ? (adapter ? ["adapter", adapter] : merged ? ["merged", merged] : undefined) : merged ? ["merged", merged] : adapter ? ["adapter", adapter] : undefined;
  if (!pick) {
    const listed = files.slice(0, 10).map((f) => relative(root, f)).join(", ") || "nothing";
    return fail({ code: "no_weights", message: `the download holds no PEFT adapter (adapter_config.json + adapter_model.safetensors) and no safetensors model; it held: ${listed}`, retryable: false });
  }
  const [kind, dir] = pick as ["adapter" | "merged", string];
  return ok({ kind, dir, files: [...names(dir)].sort(), bytes: await bytesOf(dir) });
}
