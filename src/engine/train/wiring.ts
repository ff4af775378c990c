/**
 * Adapters from the tokenize and dataset areas to what training needs. (Filled in as those areas land.)
 */
import type { SourcedExample } from "../../dataset/types.js";
import { TunekitError } from "../../util/errors.js";
import type { ModelConfig } from "../types.js";
import type { ExampleTokenizer } from "./prepare.js";

export async function trainingTokenizer(_dir: string, _config: ModelConfig): Promise<{ tokenize: ExampleTokenizer; template: { name: string; plain: boolean } }> {
  throw new TunekitError("not_available", "training tokenization is not available in this build");
}

export async function leakFreeSplit(_examples: SourcedExample[], _fraction: number, _seed: number): Promise<{ train: SourcedExample[]; test: SourcedExample[] }> {
  throw new TunekitError("not_available", "--test-split is not available in this build; pass --validation FILE");
}
