import assert from "node:assert/strict";
import { fixtureRoots } from "./_testdata.ts";
import { parseLoadavgTasks, pidsFingerprinter } from "./pids.ts";

Deno.test("pidsFingerprinter() on a Raspberry Pi 4 limits tasks by threads-max below pid_max", async () => {
  const reading = await pidsFingerprinter({ roots: fixtureRoots("pi4") }).read();
  assert.deepEqual({ ...reading, sampledAt: 0 }, { limit: 29879, running: 312, available: 29567, sampledAt: 0 });
});

Deno.test("parseLoadavgTasks() reads the task count and rejects a malformed line", () => {
  assert.equal(parseLoadavgTasks("1.12 0.87 0.66 3/845 123456\n"), 845);
  assert.throws(() => parseLoadavgTasks("0.1 0.2"), /Cannot parse the task count/);
});
