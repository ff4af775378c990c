/**
 * The metric catalogue: names as they appear in results.json, --fail-if gates and reports, with how
 * to print them and which direction is better.
 */

export type PerExampleMetric =
  | "format_compliance"
  | "valid_json"
  | "schema_conformance"
  | "template_match"
  | "exact_match"
  | "token_f1"
  | "chrf"
  | "factual_accuracy"
  | "judge_score"
  | "length_ratio";

export interface MetricInfo {
  label: string;
  /** Compared between models with a bootstrap interval. */
  compared: boolean;
  lowerIsBetter?: boolean;
  /** Shown as points (x100) rather than a raw number. */
  points: boolean;
  description: string;
}

export const PER_EXAMPLE_METRICS: Record<PerExampleMetric, MetricInfo> = {
  format_compliance: { label: "format compliance", compared: true, points: true, description: "reply has the references' format (JSON schema or line template)" },
  valid_json: { label: "valid JSON", compared: true, points: true, description: "reply parses as JSON as-is (no code fence); JSON tasks only" },
  schema_conformance: { label: "schema conformance", compared: true, points: true, description: "reply's JSON matches the given or inferred schema (a fenced reply still counts)" },
  template_match: { label: "line template", compared: true, points: true, description: "reply follows the line template inferred from the references" },
  exact_match: { label: "exact match", compared: true, points: true, description: "normalised reply equals the reference" },
  token_f1: { label: "token F1", compared: true, points: true, description: "SQuAD token F1 against the reference" },
  chrf: { label: "chrF", compared: true, points: true, description: "character n-gram F-score (n <= 6, beta 2) against the reference" },
  factual_accuracy: { label: "factual accuracy", compared: true, points: true, description: "reference specifics (numbers, dates, amounts, emails, names) present, none contradicted" },
  judge_score: { label: "judge score", compared: true, points: true, description: "LLM judge's rubric score scaled to 0..1" },
  length_ratio: { label: "length ratio", compared: false, points: false, description: "reply words / reference words" },
};

/** Per-model aggregate-only metrics (gates can use these too). */
export const AGGREGATE_METRICS: Record<string, string> = {
  retention: "share of the general-skills retention set answered correctly",
  error_rate: "share of calls that failed after retries",
  tokens_in: "mean prompt tokens per call",
  tokens_out: "mean completion tokens per call",
  cost_per_1k_calls: "USD per 1,000 calls (null without a price)",
  latency_ms_p50: "median latency in ms",
  latency_ms_p95: "95th percentile latency in ms",
};

export const ALL_METRIC_NAMES = [...Object.keys(PER_EXAMPLE_METRICS), ...Object.keys(AGGREGATE_METRICS)];

/** The order metrics are headlined in: what a fine-tune for behaviour is meant to move first. */
export const HEADLINE_ORDER: PerExampleMetric[] = [
  "format_compliance",
  "factual_accuracy",
  "judge_score",
  "exact_match",
  "token_f1",
  "chrf",
  "schema_conformance",
  "valid_json",
  "template_match",
];
