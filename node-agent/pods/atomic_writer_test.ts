import assert from "node:assert/strict";
import { join } from "node:path";
import { checkPayloadPath, type Payload, writeAtomically } from "./atomic_writer.ts";

const text = (s: string, mode = 0o644) => ({ data: new TextEncoder().encode(s), mode });

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "skiff-atomic-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function entries(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  return names.sort();
}

Deno.test("writeAtomically() writes the payload behind ..data and links each top-level name to it", async () => {
  await withDir(async (dir) => {
    const payload: Payload = new Map([["app.yaml", text("port: 80\n")], ["conf/extra.ini", text("[x]\n", 0o600)]]);
    assert.equal(await writeAtomically(dir, payload), true);
    assert.equal(await Deno.readTextFile(join(dir, "app.yaml")), "port: 80\n");
    assert.equal(await Deno.readTextFile(join(dir, "conf", "extra.ini")), "[x]\n");
    assert.equal(await Deno.readLink(join(dir, "app.yaml")), "..data/app.yaml");
    assert.equal(await Deno.readLink(join(dir, "conf")), "..data/conf");
    assert.match(await Deno.readLink(join(dir, "..data")), /^\.\.\d{4}_\d\d_\d\d_\d\d_\d\d_\d\d\.[0-9a-f]{10}$/);
    assert.equal((await Deno.stat(join(dir, "conf", "extra.ini"))).mode! & 0o777, 0o600);
    const names = await entries(dir);
    assert.equal(names.length, 4);
  });
});

Deno.test("writeAtomically() swaps to a new payload, removes names no longer there and the old directory", async () => {
  await withDir(async (dir) => {
    await writeAtomically(dir, new Map([["a", text("1")], ["b", text("2")]]));
    const first = await Deno.readLink(join(dir, "..data"));
    assert.equal(await writeAtomically(dir, new Map([["a", text("one")], ["c", text("3")]])), true);
    const second = await Deno.readLink(join(dir, "..data"));
    assert.notEqual(second, first);
    assert.deepEqual(await entries(dir), ["..data", second, "a", "c"].sort());
    assert.equal(await Deno.readTextFile(join(dir, "a")), "one");
  });
});

Deno.test("writeAtomically() with the same payload changes nothing", async () => {
  await withDir(async (dir) => {
    const payload: Payload = new Map([["a", text("1")]]);
    await writeAtomically(dir, payload);
    const before = await Deno.readLink(join(dir, "..data"));
    assert.equal(await writeAtomically(dir, new Map([["a", text("1")]])), false);
    assert.equal(await Deno.readLink(join(dir, "..data")), before);
    assert.equal(await writeAtomically(dir, new Map([["a", text("1", 0o400)]])), true, "a mode change is a change");
  });
});

Deno.test("writeAtomically() with an empty payload leaves an empty ..data", async () => {
  await withDir(async (dir) => {
    await writeAtomically(dir, new Map([["a", text("1")]]));
    await writeAtomically(dir, new Map());
    assert.equal((await entries(dir)).filter((n) => !n.startsWith("..")).length, 0);
  });
});

Deno.test("checkPayloadPath() refuses absolute, empty and escaping paths", () => {
  assert.throws(() => checkPayloadPath("/etc/passwd"), /Invalid path "\/etc\/passwd": it must be relative/);
  assert.throws(() => checkPayloadPath("a/../../b"), /must not contain "\.\."/);
  assert.throws(() => checkPayloadPath("..data"), /must not start with "\.\."/);
  assert.throws(() => checkPayloadPath(""), /must not be empty/);
  checkPayloadPath("a/b.txt");
});
