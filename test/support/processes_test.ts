import assert from "node:assert/strict";
import { processesMentioning } from "./processes.ts";

Deno.test("processesMentioning() finds a child by a word of its command line, and not this process", async () => {
  const marker = `skiff-marker-${crypto.randomUUID()}`;
  // Two commands, so the shell stays (it would exec a lone one); the marker is its $0.
  const child = new Deno.Command("sh", { args: ["-c", "sleep 30; true", marker] }).spawn();
  try {
    const found = processesMentioning(marker);
    assert.equal(found.length, 1, found.join("\n"));
    assert.match(found[0]!, new RegExp(`^${child.pid}: \\S*sh -c sleep 30; true ${marker}$`));
  } finally {
    child.kill("SIGKILL");
    await child.status;
  }
  assert.deepEqual(processesMentioning(marker), []);
});
