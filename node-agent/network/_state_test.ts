import assert from "node:assert/strict";
import { createTempDir } from "../../test/support/mod.ts";
import { JsonRecords } from "./_state.ts";

Deno.test("JsonRecords keeps one JSON file per key and reads back what was put", async () => {
  await using tmp = await createTempDir({ prefix: "skiff-state-" });
  const records = new JsonRecords<{ n: number }>(tmp.join("records"));
  assert.deepEqual(await records.list(), []);
  assert.equal(await records.get("a"), undefined);
  await records.put("b", { n: 2 });
  await records.put("a", { n: 1 });
  await records.put("a", { n: 3 });
  assert.deepEqual(await records.get("a"), { n: 3 });
  assert.deepEqual(await records.list(), [{ key: "a", value: { n: 3 } }, { key: "b", value: { n: 2 } }]);
  await records.remove("a");
  await records.remove("a");
  assert.deepEqual((await records.list()).map((entry) => entry.key), ["b"]);
  assert.deepEqual([...Deno.readDirSync(records.dir)].map((entry) => entry.name), ["b.json"]);
});

Deno.test("JsonRecords treats a file that is not JSON as no record, and refuses a key with a slash", async () => {
  await using tmp = await createTempDir({ prefix: "skiff-state-" });
  const records = new JsonRecords<unknown>(tmp.path);
  await Deno.writeTextFile(tmp.join("x.json"), "{");
  assert.equal(await records.get("x"), undefined);
  assert.deepEqual(await records.list(), [{ key: "x", value: undefined }]);
  await assert.rejects(records.put("../x", {}), /Invalid record key "..\/x"/);
});

Deno.test("JsonRecords.removeTemporaries() removes interrupted writes except those of busy keys", async () => {
  await using tmp = await createTempDir({ prefix: "skiff-state-" });
  const records = new JsonRecords<unknown>(tmp.path);
  await Deno.writeTextFile(tmp.join("a.json.tmp-1234abcd"), "{");
  await Deno.writeTextFile(tmp.join("b.json.tmp-1234abcd"), "{");
  assert.deepEqual(await records.removeTemporaries(new Set(["b"])), ["a.json.tmp-1234abcd"]);
  assert.deepEqual([...Deno.readDirSync(tmp.path)].map((entry) => entry.name), ["b.json.tmp-1234abcd"]);
});
