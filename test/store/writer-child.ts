// Child process for the concurrency test: opens the store and writes jobs, events and metrics as fast
// as it can, interleaving with a sibling process doing the same.
import { openStore } from "../../src/store/index.js";

const [home, tag, countText] = process.argv.slice(2);
const count = Number(countText);
const store = openStore({ home });
for (let i = 0; i < count; i++) {
  const job = store.createJob({ kind: "hosted", provider: "openai", remoteId: `ftjob-${tag}-${i}`, model: "m", params: { i } });
  store.addEvents(job.id, [{ remoteId: `ev-${i}`, createdAt: i, level: "info", type: "message", message: `hello ${tag} ${i}` }]);
  store.addMetrics(job.id, [{ step: 1, values: { train_loss: i } }]);
  store.updateJob(job.id, { status: "running" });
}
store.close();
process.stdout.write("done\n");
