/** Public API of the tokenize area (re-exported from src/index.ts). */
export type { Tokenizer } from "./types.js";
export {
  OpenAiTokenizer,
  getOpenAiTokenizer,
  openAiEncodingForModel,
  openAiTokenizerForModel,
  type OpenAiEncodingName,
} from "./openai.js";
export { countChatTokens, countChatTokensDetailed, toolsTokens, type ChatTokenCount } from "./chatTokens.js";
export { fineTuneTokenLimit, OPENAI_FINE_TUNE_LIMITS, type FineTuneLimit } from "./limits.js";
export { HfTokenizer, loadTokenizerFromDir, type HfTokenizerOptions, type SpecialTokenNames } from "./hf.js";
export { StreamDecoder } from "./streamDecode.js";
export {
  chatTemplateFor,
  renderChatTemplate,
  encodeChatPrompt,
  jinjaChatTemplate,
  plainChatTemplate,
  templateMessages,
  templateSpecialTokens,
  type ChatTemplateRenderer,
  type RenderOptions,
  type TemplateSpecialTokens,
} from "./chatTemplate.js";
export { tokenizeForTraining, trainingExampleTokenizer, type TrainingTokens, type TrainingTokenizeOptions } from "./trainingMask.js";
export { resolveTokenizer, type ResolveTokenizerOptions } from "./resolve.js";
export { countTemplateTokens, templateTokenCounter, type TemplateTokenCount } from "./templateCount.js";
