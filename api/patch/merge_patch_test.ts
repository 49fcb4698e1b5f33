import assert from "node:assert/strict";
import { BadRequestError } from "../errors.ts";
import { applyMergePatch, createMergePatch, createThreeWayMergePatch } from "./merge_patch.ts";

// RFC 7386, appendix A: target, patch, result.
const rfcCases: Array<[unknown, unknown, unknown]> = [
  [{ a: "b" }, { a: "c" }, { a: "c" }],
  [{ a: "b" }, { b: "c" }, { a: "b", b: "c" }],
  [{ a: "b" }, { a: null }, {}],
  [{ a: "b", b: "c" }, { a: null }, { b: "c" }],
  [{ a: ["b"] }, { a: "c" }, { a: "c" }],
  [{ a: "c" }, { a: ["b"] }, { a: ["b"] }],
  [{ a: { b: "c" } }, { a: { b: "d", c: null } }, { a: { b: "d" } }],
  [{ a: [{ b: "c" }] }, { a: [1] }, { a: [1] }],
  [["a", "b"], ["c", "d"], ["c", "d"]],
  [{ a: "b" }, ["c"], ["c"]],
  [{ a: "foo" }, null, null],
  [{ a: "foo" }, "bar", "bar"],
  [{ e: null }, { a: 1 }, { e: null, a: 1 }],
  [[1, 2], { a: "b", c: null }, { a: "b" }],
  [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
];

for (const [i, [target, patch, want]] of rfcCases.entries()) {
  Deno.test(`applyMergePatch() RFC 7386 example ${i + 1} gives ${JSON.stringify(want)}`, () => {
    assert.deepEqual(applyMergePatch(target, patch), want);
  });
}

Deno.test("applyMergePatch() never modifies its arguments nor shares their values", () => {
  const target = { spec: { replicas: 1, selector: { app: "web" } } };
  const patch = { spec: { replicas: 3, template: { labels: ["a"] } } };
  const targetBefore = structuredClone(target);
  const patchBefore = structuredClone(patch);
  const result = applyMergePatch(target, patch) as {
    spec: { selector: { app: string }; template: { labels: string[] } };
  };
  result.spec.selector.app = "changed";
  result.spec.template.labels.push("b");
  assert.deepEqual(target, targetBefore);
  assert.deepEqual(patch, patchBefore);
});

const createCases: Array<[string, unknown, unknown, unknown]> = [
  ["equal objects give an empty patch", { a: { b: [1] } }, { a: { b: [1] } }, {}],
  ["a removed key becomes null", { a: 1, b: 2 }, { a: 1 }, { b: null }],
  ["an added nested key is set", { a: { b: 1 } }, { a: { b: 1, c: { d: 2 } } }, { a: { c: { d: 2 } } }],
  ["a changed list is replaced whole", { a: [1, 2, 3] }, { a: [1, 3] }, { a: [1, 3] }],
  ["an object turned scalar is replaced", { a: { b: 1 } }, { a: "x" }, { a: "x" }],
  ["a scalar turned object is replaced", { a: "x" }, { a: { b: 1 } }, { a: { b: 1 } }],
  ["a non-object document is replaced whole", [1], { a: 1 }, { a: 1 }],
];

for (const [what, original, modified, want] of createCases) {
  Deno.test(`createMergePatch() ${what}`, () => {
    const patch = createMergePatch(original, modified);
    assert.deepEqual(patch, want);
    assert.deepEqual(applyMergePatch(original, patch), modified);
  });
}

// Cases from kubectl's three-way JSON merge patch: the patch keeps
// additions and changes from current to modified, deletions from
// last-applied to modified, and never touches fields only current has.
const threeWayCases: Array<{
  name: string;
  lastApplied?: Record<string, unknown>;
  modified: Record<string, unknown>;
  current: Record<string, unknown>;
  patch: Record<string, unknown>;
  result: Record<string, unknown>;
}> = [
  {
    name: "with no last-applied configuration only adds and changes",
    modified: { name: 1, value: 1 },
    current: { name: 1, other: "a" },
    patch: { value: 1 },
    result: { name: 1, value: 1, other: "a" },
  },
  {
    name: "with nothing to do is empty",
    lastApplied: { name: 1 },
    modified: { name: 1 },
    current: { name: 1, other: "a" },
    patch: {},
    result: { name: 1, other: "a" },
  },
  {
    name: "deletes a field dropped from the configuration",
    lastApplied: { name: 1, value: 1 },
    modified: { name: 1 },
    current: { name: 1, value: 1, other: "a" },
    patch: { value: null },
    result: { name: 1, other: "a" },
  },
  {
    name: "restores a field another writer changed",
    lastApplied: { name: 1 },
    modified: { name: 1, value: 1 },
    current: { name: "a", other: "a" },
    patch: { name: 1, value: 1 },
    result: { name: 1, value: 1, other: "a" },
  },
  {
    name: "deletes a nested field and keeps the server's",
    lastApplied: { simpleMap: { key1: 1, key2: 1 } },
    modified: { simpleMap: { key1: 1 } },
    current: { simpleMap: { key1: 1, key2: 1, other: "a" } },
    patch: { simpleMap: { key2: null } },
    result: { simpleMap: { key1: 1, other: "a" } },
  },
  {
    name: "replaces a changed list whole",
    lastApplied: { list: [1, 2] },
    modified: { list: [2, 3] },
    current: { list: [1, 2, 4] },
    patch: { list: [2, 3] },
    result: { list: [2, 3] },
  },
  {
    name: "keeps an explicitly empty object",
    lastApplied: {},
    modified: { spec: {} },
    current: { other: 1 },
    patch: { spec: {} },
    result: { other: 1, spec: {} },
  },
];

for (const c of threeWayCases) {
  Deno.test(`createThreeWayMergePatch() ${c.name}`, () => {
    const patch = createThreeWayMergePatch(c);
    assert.deepEqual(patch, c.patch);
    assert.deepEqual(applyMergePatch(c.current, patch), c.result);
  });
}

const hostile: Array<[string, () => unknown]> = [
  ["a patch with a __proto__ key", () => applyMergePatch({}, JSON.parse('{"__proto__":{"polluted":1}}'))],
  ["a nested __proto__ key", () => applyMergePatch({ a: {} }, JSON.parse('{"a":{"__proto__":{"polluted":1}}}'))],
  ["a target that is not JSON", () => applyMergePatch(new Map(), {})],
  ["an undefined patch", () => applyMergePatch({}, undefined)],
  ["an Infinity value", () => createMergePatch({}, { a: Infinity })],
  [
    "a three-way input that is a list",
    () => createThreeWayMergePatch({ modified: [] as unknown as Record<string, unknown>, current: {} }),
  ],
];

for (const [what, run] of hostile) {
  Deno.test(`merge patch functions refuse ${what} with BadRequestError`, () => {
    assert.throws(run, BadRequestError);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });
}

Deno.test("applyMergePatch() treats inherited names as ordinary keys", () => {
  assert.deepEqual(applyMergePatch({}, { constructor: { a: 1 }, toString: null }), {
    constructor: { a: 1 },
  });
});

Deno.test("applyMergePatch() refuses input nested too deep instead of overflowing the stack", () => {
  let deep: unknown = 1;
  for (let i = 0; i < 5000; i++) deep = { a: deep };
  assert.throws(() => applyMergePatch({}, deep), /nested deeper than 1000 levels/);
});
