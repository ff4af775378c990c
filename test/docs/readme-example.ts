import { validateFile, splitFile, findLeakage, adviseFile, openRagStore, indexDocuments, retrieve, isTunekitError } from "../../src/index.js";

try {
  // Check a dataset: every issue has a 1-based line and a stable code.
  const report = await validateFile("examples/support-tickets.jsonl");
  console.log(`${report.examples} examples, ${report.errorCount} errors, ${report.warningCount} warnings`);
  for (const issue of report.errors) console.log(`line ${issue.line}: ${issue.code} ${issue.message}`);

  // Split without leakage, then prove it.
  const split = await splitFile("examples/support-tickets.jsonl", { outDir: "data", testFraction: 0.2, seed: 42 });
  const leaks = await findLeakage(split.train.path, split.test.path);
  console.log(`train ${split.train.examples}, test ${split.test.examples}, leaked ${leaks.leakedTestExamples}`);

  // Fine-tune or retrieve?
  const advice = await adviseFile("examples/policy-facts.jsonl");
  console.log(`${advice.recommendation}: move ${advice.moveToRetrieval.length} examples to retrieval`);

  // Retrieval: index a folder of Markdown, ask a question.
  const store = openRagStore("policy.db");
  await indexDocuments(store, "examples");
  const [best] = retrieve(store, "Within how many days can I get a full refund?", 1);
  console.log(`${best.source} > ${best.heading}`);
  store.close();
} catch (e) {
  // Bad input is a TunekitError with a code, file, line and hint; anything else is a bug.
  if (!isTunekitError(e)) throw e;
  console.error(`${e.code}: ${e.message}`);
  process.exitCode = 2;
}
