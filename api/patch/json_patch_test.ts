import assert from "node:assert/strict";
import { BadRequestError, InvalidError, TooLargeError } from "../errors.ts";
import { applyJsonPatch, MAX_JSON_PATCH_OPERATIONS } from "./json_patch.ts";

// The examples of RFC 6902, appendix A.
const rfcCases: Array<{
  name: string;
  doc: unknown;
  patch: unknown;
  want?: unknown;
  error?: RegExp;
}> = [
  {
    name: "A.1 adds an object member",
    doc: { foo: "bar" },
    patch: [{ op: "add", path: "/baz", value: "qux" }],
    want: { baz: "qux", foo: "bar" },
  },
  {
    name: "A.2 adds an array element",
    doc: { foo: ["bar", "baz"] },
    patch: [{ op: "add", path: "/foo/1", value: "qux" }],
    want: { foo: ["bar", "qux", "baz"] },
  },
  {
    name: "A.3 removes an object member",
    doc: { baz: "qux", foo: "bar" },
    patch: [{ op: "remove", path: "/baz" }],
    want: { foo: "bar" },
  },
  {
    name: "A.4 removes an array element",
    doc: { foo: ["bar", "qux", "baz"] },
    patch: [{ op: "remove", path: "/foo/1" }],
    want: { foo: ["bar", "baz"] },
  },
  {
    name: "A.5 replaces a value",
    doc: { baz: "qux", foo: "bar" },
    patch: [{ op: "replace", path: "/baz", value: "boo" }],
    want: { baz: "boo", foo: "bar" },
  },
  {
    name: "A.6 moves a value",
    doc: { foo: { bar: "baz", waldo: "fred" }, qux: { corge: "grault" } },
    patch: [{ op: "move", from: "/foo/waldo", path: "/qux/thud" }],
    want: { foo: { bar: "baz" }, qux: { corge: "grault", thud: "fred" } },
  },
  {
    name: "A.7 moves an array element",
    doc: { foo: ["all", "grass", "cows", "eat"] },
    patch: [{ op: "move", from: "/foo/1", path: "/foo/3" }],
    want: { foo: ["all", "cows", "eat", "grass"] },
  },
  {
    name: "A.8 passes a test",
    doc: { baz: "qux", foo: ["a", 2, "c"] },
    patch: [
      { op: "test", path: "/baz", value: "qux" },
      { op: "test", path: "/foo/1", value: 2 },
    ],
    want: { baz: "qux", foo: ["a", 2, "c"] },
  },
  {
    name: "A.9 fails a test",
    doc: { baz: "qux" },
    patch: [{ op: "test", path: "/baz", value: "bar" }],
    error: /test failed: the value is "qux", not "bar"/,
  },
  {
    name: "A.10 adds a nested member object",
    doc: { foo: "bar" },
    patch: [{ op: "add", path: "/child", value: { grandchild: {} } }],
    want: { foo: "bar", child: { grandchild: {} } },
  },
  {
    name: "A.11 ignores unrecognized members of an operation",
    doc: { foo: "bar" },
    patch: [{ op: "add", path: "/baz", value: "qux", xyz: 123 }],
    want: { foo: "bar", baz: "qux" },
  },
  {
    name: "A.12 fails to add to a nonexistent target",
    doc: { foo: "bar" },
    patch: [{ op: "add", path: "/baz/bat", value: "qux" }],
    error: /the parent of the path does not exist/,
  },
  {
    name: "A.14 unescapes ~0 and ~1",
    doc: { "/": 9, "~1": 10 },
    patch: [{ op: "test", path: "/~01", value: 10 }],
    want: { "/": 9, "~1": 10 },
  },
  {
    name: "A.15 compares strings and numbers strictly",
    doc: { "/": 9, "~1": 10 },
    patch: [{ op: "test", path: "/~01", value: "10" }],
    error: /test failed/,
  },
  {
    name: "A.16 adds an array value",
    doc: { foo: ["bar"] },
    patch: [{ op: "add", path: "/foo/-", value: ["abc", "def"] }],
    want: { foo: ["bar", ["abc", "def"]] },
  },
  {
    name: "copy duplicates a subtree",
    doc: { a: { b: [1] } },
    patch: [{ op: "copy", from: "/a", path: "/c" }],
    want: { a: { b: [1] }, c: { b: [1] } },
  },
  {
    name: "replace on the root replaces the document",
    doc: { a: 1 },
    patch: [{ op: "replace", path: "", value: { b: 2 } }],
    want: { b: 2 },
  },
];

for (const c of rfcCases) {
  Deno.test(`applyJsonPatch() RFC 6902 ${c.name}`, () => {
    if (c.error) {
      assert.throws(() => applyJsonPatch(c.doc, c.patch), c.error);
    } else {
      assert.deepEqual(applyJsonPatch(c.doc, c.patch), c.want);
    }
  });
}

Deno.test("applyJsonPatch() edits a Deployment as kubectl patch --type json does", () => {
  const deployment = {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "web", labels: { app: "web" } },
    spec: {
      replicas: 1,
      template: {
        spec: {
          containers: [{
            name: "web",
            image: "nginx:1.25",
            livenessProbe: { httpGet: { path: "/", port: 80 } },
          }],
        },
      },
    },
  };
  const result = applyJsonPatch(deployment, [
    { op: "replace", path: "/spec/template/spec/containers/0/image", value: "nginx:1.27" },
    { op: "remove", path: "/spec/template/spec/containers/0/livenessProbe" },
    { op: "add", path: "/metadata/labels/tier", value: "front" },
  ]);
  assert.deepEqual(result, {
    ...deployment,
    metadata: { name: "web", labels: { app: "web", tier: "front" } },
    spec: {
      replicas: 1,
      template: { spec: { containers: [{ name: "web", image: "nginx:1.27" }] } },
    },
  });
});

Deno.test("applyJsonPatch() never modifies its arguments", () => {
  const doc = { a: { b: [1, 2] } };
  const patch = [
    { op: "add", path: "/a/b/-", value: { c: 1 } },
    { op: "move", from: "/a/b/0", path: "/x" },
  ];
  const docBefore = structuredClone(doc);
  const patchBefore = structuredClone(patch);
  const result = applyJsonPatch(doc, patch) as { a: { b: unknown[] } };
  assert.deepEqual(doc, docBefore);
  assert.deepEqual(patch, patchBefore);
  assert.deepEqual(result, { a: { b: [2, { c: 1 }] }, x: 1 });
  (result.a.b[1] as { c: number }).c = 99;
  assert.deepEqual(patch, patchBefore);
});

Deno.test("applyJsonPatch() failures name the operation index and path", () => {
  const doc = {
    kind: "Deployment",
    metadata: { name: "web" },
    spec: { replicas: 1 },
  };
  let error: unknown;
  try {
    applyJsonPatch(doc, [
      { op: "test", path: "/spec/replicas", value: 1 },
      { op: "replace", path: "/spec/paused", value: true },
    ]);
  } catch (caught) {
    error = caught;
  }
  assert.ok(error instanceof InvalidError);
  assert.equal(
    error.message,
    'Deployment "web" is invalid: /spec/paused: JSON patch operation 1 (replace): the path does not exist',
  );
  assert.equal(error.code, 422);
  assert.deepEqual(error.causes.map((c) => c.field), ["/spec/paused"]);
});

const malformed: Array<[string, unknown, RegExp]> = [
  ["a patch that is an object", { op: "add" }, /expected a list of operations, got object/],
  ["an operation that is not an object", [5], /operation 0 must be an object, got number/],
  ["an unknown op", [{ op: "merge", path: "/a" }], /operation 0 has op "merge"/],
  ["a missing op", [{ path: "/a" }], /operation 0 has op null/],
  ["a missing path", [{ op: "remove" }], /operation 0 \(remove\) has no "path" string/],
  ["a path without a leading slash", [{ op: "remove", path: "a" }], /must start with "\/"/],
  ["a bad escape", [{ op: "remove", path: "/a~2" }], /"~" not followed by 0 or 1/],
  ["add without a value", [{ op: "add", path: "/a" }], /operation 0 \(add\) at "\/a" has no "value"/],
  ["copy without from", [{ op: "copy", path: "/a" }], /has no "from" string/],
  ["a move into its own child", [{ op: "move", from: "/a", path: "/a/b" }], /cannot move "\/a" into its own child/],
  ["a second bad operation", [{ op: "test", path: "/a", value: 1 }, { op: "nope" }], /operation 1 has op "nope"/],
];

for (const [what, patch, message] of malformed) {
  Deno.test(`applyJsonPatch() rejects ${what} with BadRequestError`, () => {
    assert.throws(() => applyJsonPatch({ a: 1 }, patch), (error: unknown) => {
      assert.ok(error instanceof BadRequestError, String(error));
      assert.match(error.message, message);
      return true;
    });
  });
}

const hostile: Array<[string, unknown, unknown, typeof BadRequestError | typeof InvalidError]> = [
  ["add under __proto__", {}, [{ op: "add", path: "/__proto__/polluted", value: 1 }], BadRequestError],
  ["add of an escaped-looking __proto__", {}, [{ op: "add", path: "/__proto__", value: {} }], BadRequestError],
  ["copy from __proto__", { a: 1 }, [{ op: "copy", from: "/__proto__", path: "/x" }], BadRequestError],
  [
    "add under constructor/prototype",
    {},
    [{ op: "add", path: "/constructor/prototype/polluted", value: 1 }],
    InvalidError,
  ],
  ["replace of an inherited member", { a: 1 }, [{ op: "replace", path: "/constructor", value: 1 }], InvalidError],
  ["remove of an inherited member", { a: 1 }, [{ op: "remove", path: "/toString" }], InvalidError],
  ["copy of an inherited function", { a: 1 }, [{ op: "copy", from: "/constructor", path: "/x" }], InvalidError],
  ["test of an inherited member", { a: 1 }, [{ op: "test", path: "/hasOwnProperty", value: {} }], InvalidError],
  [
    "a value with a __proto__ key",
    {},
    JSON.parse('[{"op":"add","path":"/a","value":{"__proto__":{"x":1}}}]'),
    BadRequestError,
  ],
  ["a non-JSON value", {}, [{ op: "add", path: "/a", value: () => 1 }], BadRequestError],
  ["a NaN value", {}, [{ op: "add", path: "/a", value: NaN }], BadRequestError],
  ["an index past the end", { a: [1] }, [{ op: "add", path: "/a/5", value: 1 }], InvalidError],
  ["a non-numeric list index", { a: [1] }, [{ op: "replace", path: "/a/x", value: 1 }], InvalidError],
  ["a path through a scalar", { a: 1 }, [{ op: "add", path: "/a/b", value: 1 }], InvalidError],
];

for (const [what, doc, patch, errorClass] of hostile) {
  Deno.test(`applyJsonPatch() refuses ${what} with ${errorClass.name}`, () => {
    assert.throws(() => applyJsonPatch(doc, patch), errorClass);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.equal(Object.prototype.hasOwnProperty.call(Object, "polluted"), false);
  });
}

Deno.test("applyJsonPatch() refuses a cyclic document with BadRequestError", () => {
  const doc: Record<string, unknown> = {};
  doc.self = doc;
  assert.throws(() => applyJsonPatch(doc, []), /nested deeper than/);
});

Deno.test("applyJsonPatch() refuses more operations than the limit with TooLargeError", () => {
  const patch = Array.from(
    { length: MAX_JSON_PATCH_OPERATIONS + 1 },
    () => ({ op: "test", path: "", value: {} }),
  );
  assert.throws(() => applyJsonPatch({}, patch), TooLargeError);
});
