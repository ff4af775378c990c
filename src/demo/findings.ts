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
  if (r.settings.quick) out.push(quickCaveat(r));
  return out;
}

/**
 * What --quick on a tiny model can and cannot show. A reply format is learned from a few dozen examples
 * even by a 260K-parameter story model; answering from a retrieved passage needs a model that reads its
 * context, so when base + retrieval stayed low the sentence says that its knowledge figures show the
 * pipeline, not the effect.
 */
function quickCaveat(r: DemoResult): string {
  const retrieval = [...r.knowledge.accuracy.map((a) => a.retrieval), r.knowledge.afterChange.retrievalAccuracy].filter((v): v is number => v !== null);
  const best = retrieval.length > 0 ? Math.max(...retrieval) : null;
  const lead = `These figures come from --quick settings on ${r.model.spec}, a very small model`;
  const [baseShort, baseLong, tuned] = r.behaviour.configs;
  const baseBest = Math.max(baseShort?.formatCompliance ?? 0, baseLong?.formatCompliance ?? 0);
  const learned = tuned?.formatCompliance != null && tuned.formatCompliance >= 0.5 && tuned.formatCompliance >= baseBest + 0.3;
  const format = learned
    ? `it learned the reply format from ${r.behaviour.trainExamples} examples`
    : `it did not clearly learn the reply format in ${r.settings.maxSteps ?? r.settings.epochs} ${r.settings.maxSteps !== undefined ? "steps" : "epochs"}`;
  if (best !== null && best < 0.5) {
    return (
      `${lead}: ${format}, but it cannot answer from a retrieved passage ` +
      `(base + retrieval answered at most ${pct(best)} of the policy questions), so the knowledge and retrieval figures show the pipeline, not the effect. ` +
      `Retrieval needs a model that reads its context: \`tunekit demo\` without --quick runs the same steps on SmolLM2-135M-Instruct.`
    );
  }
  return `${lead} and few training steps: the figures show the pipeline more than the size of the effect.`;
}

