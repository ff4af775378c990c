/**
 * llama.cpp through node-llama-cpp, loaded only when a GGUF file is run (other commands never pay
 * for it). node-llama-cpp is an optional peer dependency: without it, a clear error says how to
 * install it. Its prebuilt CPU binary is used (no GPU probing, no compiling); a file llama.cpp
 * refuses is reported with llama.cpp's own log lines.
 */
import { existsSync, statSync } from "node:fs";
import type { Llama, LlamaModel } from "node-llama-cpp";
import { TunekitError } from "../util/errors.js";

type NodeLlamaCpp = typeof import("node-llama-cpp");

let module: Promise<NodeLlamaCpp> | undefined;
let llama: Promise<Llama> | undefined;
/** Recent llama.cpp log lines: its reasons for refusing a file are logged, not thrown. */
const log: string[] = [];

export const LLAMA_CPP_INSTALL_HINT = "install it next to tunekit: npm install node-llama-cpp@3.21.1 (it brings llama.cpp's prebuilt CPU binaries)";

/** The node-llama-cpp module, or a `llama_cpp_missing` error. */
export async function nodeLlamaCpp(): Promise<NodeLlamaCpp> {
  module ??= import("node-llama-cpp").catch((e: NodeJS.ErrnoException) => {
    module = undefined;
    if (e?.code === "ERR_MODULE_NOT_FOUND" || /Cannot find (package|module) 'node-llama-cpp'/.test(String(e?.message))) {
      throw new TunekitError("llama_cpp_missing", "running a GGUF file needs node-llama-cpp (llama.cpp for Node.js), which is not installed", { hint: LLAMA_CPP_INSTALL_HINT });
    }
    throw e;
  });
  return module;
}

async function getLlamaCpp(): Promise<Llama> {
  const m = await nodeLlamaCpp();
  llama ??= m
    .getLlama({
      gpu: false,
      build: "never",
      logLevel: m.LlamaLogLevel.warn,
      logger: (_level, message) => {
        log.push(message.trim());
        if (log.length > 100) log.splice(0, log.length - 100);
      },
    })
    .catch((e: Error) => {
      llama = undefined;
      throw new TunekitError("llama_cpp_unavailable", `llama.cpp could not start: ${e.message}`, {
        hint: "node-llama-cpp's prebuilt binary does not run on this machine; see node-llama-cpp's docs to build it from source",
      });
    });
  return llama;
}

/** Whether a --model value names a GGUF file (rather than a model folder or hub id). */
export function isGgufPath(path: string): boolean {
  return /\.gguf$/i.test(path) || (existsSync(path) && statSync(path).isFile());
}

/** Loads a GGUF file into llama.cpp; a file llama.cpp refuses is a `gguf_load_failed` error with its messages. */
export async function loadGgufModel(path: string): Promise<LlamaModel> {
  if (!existsSync(path)) throw new TunekitError("file_not_found", `no such GGUF file: ${path}`, { file: path, hint: "check the path" });
  const l = await getLlamaCpp();
  log.length = 0;
  try {
    return await l.loadModel({ modelPath: path });
  } catch (e) {
    const detail = log.filter((x) => x.length > 0).slice(-8).join("; ");
    throw new TunekitError("gguf_load_failed", `llama.cpp could not load ${path}: ${(e as Error).message}${detail ? ` (llama.cpp: ${detail})` : ""}`, {
      file: path,
      hint: "the file may be incomplete or written for another llama.cpp version; export it again with tunekit export",
    });
  }
}
