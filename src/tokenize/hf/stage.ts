/** What the tokenizer.json pipeline stages share: the JSON they are built from, and their error. */
import { TunekitError } from "../../util/errors.js";

export type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Receives a pre-tokenised piece; `atStart`: it begins at offset 0 of the input (Metaspace "first"). */
export type Emit = (piece: string, atStart: boolean) => void;
/** Splits text into pieces, handing each to `emit` (no intermediate arrays on the hot path). */
export type PreTokenizer = (text: string, atStart: boolean, emit: Emit) => void;
export type Normalizer = (s: string) => string;
export type Decoder = (tokens: string[]) => string[];

export function unsupported(where: string, what: string, hint: string): TunekitError {
  return new TunekitError("unsupported_tokenizer", `${where}: unsupported tokenizer component: ${what}`, { file: where, hint });
}
