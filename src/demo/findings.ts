/** The demo's lesson in plain words, built from the measured numbers. */
import type { AccuracyRow, DemoResult } from "./types.js";

const pct = (v: number | null) => (v === null ? "n/a" : `${Math.round(v * 100)}%`);

/** Plain-words conclusions, each sentence carrying the measured numbers it rests on. */
export function findings(r: DemoResult): string[] {
  const out: string[] = [];
  const [baseShort, baseLong, tuned] = r.behaviour.configs;
  if (baseShort && baseLong && tuned) {
    out.push(
      `Behaviour: held-out format compliance was ${pct(baseShort.formatCompliance)} for the base model with a short prompt, ` +
        `${pct(baseLong.formatCompliance)} with the long prompt and examples, and ${pct(tuned.formatCompliance)} for the tuned model with the short prompt.`,
    );
    if (baseLong.meanTokensIn > 0) {
      const saved = 1 - tuned.meanTokensIn / baseLong.meanTokensIn;
      out.push(
        `The tuned model's prompt averaged ${Math.round(tuned.meanTokensIn)} tokens against ${Math.round(baseLong.meanTokensIn)} for the prompting baseline ` +
          `(${Math.round(saved * 100)}% fewer input tokens per call).`,
      );
    }
  }
  const row = (set: AccuracyRow["set"]) => r.knowledge.accuracy.find((a) => a.set === set);
  const trained = row("trained");
  const para = row("paraphrased");
  const unseen = row("never trained");
  if (trained && para && unseen) {
    out.push(
      `Knowledge: the model fine-tuned on policy facts answered ${pct(trained.tuned)} of the trained questions, ${pct(para.tuned)} of paraphrases ` +
        `and ${pct(unseen.tuned)} of never-trained policy questions correctly; the base model with retrieval answered ${pct(trained.retrieval)}, ${pct(para.retrieval)} and ${pct(unseen.retrieval)}.`,
    );
  }
  const a = r.knowledge.afterChange;
  out.push(
    `After the policy changed (${a.change}), ${pct(a.tunedStale)} of the tuned model's answers still stated the old fact ` +
      `(accuracy on the new policy ${pct(a.tunedAccuracy)}); with retrieval over the updated document, accuracy was ${pct(a.retrievalAccuracy)} ` +
      `with ${pct(a.retrievalStale)} stale answers, and no training was needed.`,
  );
  if (r.settings.quick) {
    out.push(`These figures come from --quick settings on ${r.model.spec}: a very small model and a few training steps, so they show the pipeline, not the size of the effect.`);
  }
  return out;
}
