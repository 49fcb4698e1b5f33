import assert from "node:assert/strict";
import { BadRequestError } from "../errors.ts";
import { assertJson, clone, deepEqual, MAX_DEPTH, own } from "./_json.ts";

const refused: Array<[string, unknown, string]> = [
  ["undefined", undefined, "Invalid thing: undefined is not a JSON value"],
  ["a function inside", { a: [1, () => 1] }, 'Invalid thing: function is not a JSON value at "a[1]"'],
  ["Infinity", { a: Infinity }, 'Invalid thing: number Infinity is not valid JSON at "a"'],
  ["a bigint", { a: 1n }, 'Invalid thing: bigint is not a JSON value at "a"'],
  ["a Date", { a: new Date(0) }, 'Invalid thing: value is not a plain object at "a"'],
  ["a hole", { a: [1, , 3] }, 'Invalid thing: list has a hole at "a[1]"'],
  [
    "a __proto__ key",
    JSON.parse('{"a":{"__proto__":1}}'),
    'Invalid thing: key "__proto__" is not allowed at "a.__proto__"',
  ],
];

for (const [what, value, message] of refused) {
  Deno.test(`assertJson() refuses ${what} naming the path`, () => {
    assert.throws(() => assertJson(value, "thing"), (error: unknown) => {
      assert.ok(error instanceof BadRequestError);
      assert.equal(error.message, message);
      return true;
    });
  });
}

Deno.test("assertJson() accepts JSON trees, null-prototype objects included", () => {
  const bare = Object.assign(Object.create(null), { a: 1 });
  assertJson({ a: [1, "x", true, null, { b: bare }] }, "thing");
});

Deno.test("assertJson() refuses nesting deeper than MAX_DEPTH", () => {
  let deep: unknown = 1;
  for (let i = 0; i <= MAX_DEPTH; i++) deep = [deep];
  assert.throws(() => assertJson(deep, "thing"), /nested deeper than 1000 levels/);
});

Deno.test("clone() copies deeply and deepEqual() ignores key order", () => {
  const value = { a: [{ b: 1 }], c: { d: null } };
  const copy = clone(value);
  assert.deepEqual(copy, value);
  assert.notEqual(copy.a[0], value.a[0]);
  assert.ok(deepEqual({ x: 1, y: [1, { z: 2 }] }, { y: [1, { z: 2 }], x: 1 }));
  assert.ok(!deepEqual({ x: 1 }, { x: 1, y: undefined as unknown as null }));
  assert.ok(!deepEqual([1, 2], [2, 1]));
});

Deno.test("own() never returns inherited properties", () => {
  assert.equal(own({}, "constructor"), undefined);
  assert.equal(own({ constructor: 1 }, "constructor"), 1);
});
