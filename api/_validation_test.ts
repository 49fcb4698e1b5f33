import assert from "node:assert/strict";
import { Check, deepEqual, firstDifferences, render } from "./_validation.ts";

Deno.test("render() shows values in Go syntax, bounded", () => {
  assert.equal(render("x"), '"x"');
  assert.equal(render(3), "3");
  assert.equal(render(-0), "0");
  assert.equal(render(null), "null");
  assert.equal(render({ b: "2", a: "1" }), 'map[string]string{"a":"1", "b":"2"}');
  assert.equal(render(["a", "b"]), '[]string{"a", "b"}');
  assert.equal(render([1, { a: 1 }]), '[]interface {}{1, map[string]interface {}{"a":1}}');
  assert.ok(render("x".repeat(10_000)).length < 300);
  assert.ok(render(Array.from({ length: 1000 }, (_, i) => ({ i, s: "y".repeat(100) }))).length < 500);
});

Deno.test("Check readers report wrong types and return undefined", () => {
  const c = new Check();
  assert.equal(c.int("7", "a"), undefined);
  assert.equal(c.int(2 ** 31, "b"), undefined);
  assert.equal(c.int(2 ** 31, "c", { int64: true }), 2 ** 31);
  assert.equal(c.str(5, "d"), undefined);
  assert.equal(c.obj([], "e"), undefined);
  assert.deepEqual(c.strMap({ a: "x", b: 1 }, "f"), { a: "x" });
  assert.equal(c.port(0, "g"), undefined);
  assert.equal(c.ip("1.2.3", "h"), undefined);
  assert.equal(c.quantity("1Mi", "i")?.toString(), "1Mi");
  assert.deepEqual(c.errors.map((e) => `${e.field}: ${e.message}`), [
    'a: Invalid value: "7": must be an integer',
    "b: Invalid value: 2147483648: must be a 32-bit integer",
    "d: Invalid value: 5: must be a string",
    "e: Invalid value: []interface {}{}: must be an object",
    "f[b]: Invalid value: 1: must be a string",
    'h: Invalid value: "1.2.3": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)',
  ]);
});

Deno.test("firstDifferences() finds changed paths and treats null as absent", () => {
  assert.deepEqual(firstDifferences({ a: 1, b: [1, 2] }, { a: 1, b: [1, 3], c: null }, "spec"), ["spec.b[1]"]);
  assert.deepEqual(firstDifferences({ a: { x: 1 } }, { a: { x: 1, y: 2 } }, ""), ["a.y"]);
  assert.ok(deepEqual({ a: [{ b: "c" }] }, { a: [{ b: "c" }] }));
  assert.ok(!deepEqual([1], [1, 2]));
});

Deno.test("deepEqual() handles nesting far deeper than the call stack", () => {
  let a: unknown = 1;
  let b: unknown = 1;
  let c: unknown = 2;
  for (let i = 0; i < 300_000; i++) {
    a = [a];
    b = [b];
    c = [c];
  }
  assert.ok(deepEqual(a, b));
  assert.ok(!deepEqual(a, c));
  const [path] = firstDifferences(a, c, "x");
  assert.ok(path?.startsWith("x[0][0]") && path.endsWith("…") && path.length < 300, path ?? "");
});
