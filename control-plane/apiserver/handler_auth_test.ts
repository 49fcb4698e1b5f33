import assert from "node:assert/strict";
import { configMap, node, pod, startHarness } from "./_test_harness.ts";

const CM = "/api/v1/namespaces/default/configmaps";
const PODS = "/api/v1/namespaces/default/pods";
const MERGE = "application/merge-patch+json";

Deno.test("requests without a valid token are 401 Unauthorized Status objects", async () => {
  await using h = await startHarness();
  const expired = await h.token("admin", { expiresAt: Date.now() - 1000 });
  const cases: [string, Record<string, string>, string | null][] = [
    ["missing", {}, null],
    ["wrong secret", {}, `${h.tokens.admin.split(".")[0]}.${"x".repeat(32)}`],
    ["unknown id", {}, "zzzzzz.abcdefabcdefabcdefabcdefabcdefab"],
    ["no dot", {}, "garbage"],
    ["expired", {}, expired],
    ["basic auth", { authorization: "Basic YWRtaW46YWRtaW4=" }, null],
  ];
  for (const [what, headers, token] of cases) {
    const res = await h.call("GET", CM, { token, headers });
    assert.equal(res.status, 401, what);
    assert.equal(res.body.kind, "Status", what);
    assert.equal(res.body.reason, "Unauthorized", what);
  }
  const unknownPath = await h.call("GET", "/nowhere", { token: null });
  assert.equal(unknownPath.status, 401);
});

Deno.test("a token works as soon as its Secret is written, and stops when it is deleted", async () => {
  await using h = await startHarness();
  const token = await h.token("viewer");
  assert.equal((await h.call("GET", CM, { token })).status, 200);
  const id = token.split(".")[0];
  assert.equal((await h.call("DELETE", `/api/v1/namespaces/kube-system/secrets/skiff-token-${id}`)).status, 200);
  const deadline = Date.now() + 5000;
  let status = 200;
  while (status === 200 && Date.now() < deadline) {
    status = (await h.call("GET", CM, { token })).status;
    if (status === 200) await new Promise((resolve) => setTimeout(resolve, 5));
  }
  assert.equal(status, 401);
});

Deno.test("a viewer may read but not write, and may not read secrets", async () => {
  await using h = await startHarness();
  await h.call("POST", CM, { body: configMap("c") });
  const viewer = { token: h.tokens.viewer };
  assert.equal((await h.call("GET", `${CM}/c`, viewer)).status, 200);
  assert.equal((await h.call("GET", "/api/v1/pods", viewer)).status, 200);
  const events = await h.fetch("GET", `${CM}?watch=1&timeoutSeconds=1`, viewer);
  assert.equal(events.status, 200);
  await events.body?.cancel();
  for (
    const [method, path, body] of [
      ["POST", CM, configMap("d")],
      ["PUT", `${CM}/c`, configMap("c")],
      ["DELETE", `${CM}/c`, undefined],
      ["DELETE", CM, undefined],
      ["GET", "/api/v1/namespaces/default/secrets", undefined],
      ["GET", "/api/v1/namespaces/kube-system/secrets/anything", undefined],
      ["GET", "/api/v1/secrets?watch=1", undefined],
    ] as const
  ) {
    const res = await h.call(method, path, { ...viewer, ...(body ? { body } : {}) });
    assert.equal(res.status, 403, `${method} ${path}`);
    assert.equal(res.body.reason, "Forbidden");
    assert.match(res.body.message, /is forbidden: User "viewer:/);
  }
  const patch = await h.call("PATCH", `${CM}/c`, { ...viewer, body: { data: {} }, contentType: MERGE });
  assert.equal(patch.status, 403);
});

Deno.test("a node may write only its own Node and Lease", async () => {
  await using h = await startHarness();
  const asA = { token: h.tokens.nodeA };
  assert.equal((await h.call("POST", "/api/v1/nodes", { ...asA, body: node("node-a") })).status, 201);
  assert.equal((await h.call("POST", "/api/v1/nodes", { ...asA, body: node("node-b") })).status, 403);
  await h.call("POST", "/api/v1/nodes", { body: node("node-b") });
  const own = await h.call("PATCH", "/api/v1/nodes/node-a/status", {
    ...asA,
    body: { status: { conditions: [{ type: "Ready", status: "True" }] } },
    contentType: MERGE,
  });
  assert.equal(own.status, 200, JSON.stringify(own.body));
  for (const path of ["/api/v1/nodes/node-b", "/api/v1/nodes/node-b/status"]) {
    const other = await h.call("PATCH", path, {
      ...asA,
      body: { metadata: { labels: { x: "y" } } },
      contentType: MERGE,
    });
    assert.equal(other.status, 403, path);
  }
  const restricted = await h.call("PATCH", "/api/v1/nodes/node-a", {
    ...asA,
    body: { metadata: { labels: { "node-restriction.kubernetes.io/pool": "gpu" } } },
    contentType: MERGE,
  });
  assert.equal(restricted.status, 403);
  assert.equal((await h.call("DELETE", "/api/v1/nodes/node-b", asA)).status, 403);
  const lease = (name: string) => ({
    apiVersion: "coordination.k8s.io/v1",
    kind: "Lease",
    metadata: { name, namespace: "kube-node-lease" },
    spec: { holderIdentity: name, leaseDurationSeconds: 40 },
  });
  const leases = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases";
  assert.equal((await h.call("POST", leases, { ...asA, body: lease("node-a") })).status, 201);
  assert.equal((await h.call("POST", leases, { ...asA, body: lease("node-b") })).status, 403);
});

Deno.test("a node may change the status of and delete only pods bound to it", async () => {
  await using h = await startHarness();
  const asA = { token: h.tokens.nodeA };
  await h.call("POST", PODS, { body: pod("mine", { nodeName: "node-a" }) });
  await h.call("POST", PODS, { body: pod("theirs", { nodeName: "node-b" }) });
  await h.call("POST", PODS, { body: pod("pending") });
  const status = { body: { status: { phase: "Running" } }, contentType: MERGE };
  assert.equal((await h.call("PATCH", `${PODS}/mine/status`, { ...asA, ...status })).status, 200);
  for (const name of ["theirs", "pending"]) {
    const res = await h.call("PATCH", `${PODS}/${name}/status`, { ...asA, ...status });
    assert.equal(res.status, 403, name);
    assert.equal(res.body.reason, "Forbidden");
    assert.equal((await h.call("DELETE", `${PODS}/${name}`, asA)).status, 403, name);
  }
  assert.equal((await h.call("POST", PODS, { ...asA, body: pod("new", { nodeName: "node-a" }) })).status, 403);
  assert.equal(
    (await h.call("PATCH", `${PODS}/mine`, { ...asA, body: { metadata: { labels: { a: "b" } } }, contentType: MERGE }))
      .status,
    403,
  );
  const binding = { apiVersion: "v1", kind: "Binding", metadata: { name: "pending" }, target: { name: "node-a" } };
  assert.equal((await h.call("POST", `${PODS}/pending/binding`, { ...asA, body: binding })).status, 403);
  assert.equal((await h.call("GET", `${PODS}/theirs`, asA)).status, 200);
  assert.equal((await h.call("GET", "/api/v1/namespaces/default/secrets", asA)).status, 403);
  assert.equal((await h.call("DELETE", `${PODS}/mine?gracePeriodSeconds=0`, asA)).status, 200);
});

Deno.test("bodies over 3 MiB are refused with 413, declared or streamed", async () => {
  await using h = await startHarness();
  const big = configMap("big", "default", { data: { blob: "x".repeat(3 * 1024 * 1024 + 10) } });
  const declared = await h.call("POST", CM, { body: big });
  assert.equal(declared.status, 413);
  assert.equal(declared.body.reason, "RequestEntityTooLarge");
  const chunk = new TextEncoder().encode("x".repeat(64 * 1024));
  let sent = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent > 4 * 1024 * 1024) return controller.close();
      sent += chunk.byteLength;
      controller.enqueue(chunk);
    },
  });
  const res = await h.api.handler(
    new Request(`https://skiff.test${CM}`, {
      method: "POST",
      headers: { authorization: `Bearer ${h.tokens.admin}`, "content-type": "application/json" },
      body: stream,
    }),
  );
  assert.equal(res.status, 413);
  assert.equal((await res.json()).reason, "RequestEntityTooLarge");
  const patch = await h.call("PATCH", `${CM}/big`, {
    body: JSON.stringify({ data: { blob: "y".repeat(3 * 1024 * 1024 + 1) } }),
    contentType: MERGE,
  });
  assert.equal(patch.status, 413);
});

Deno.test("bodies in a format the endpoint does not read are 415 UnsupportedMediaType", async () => {
  await using h = await startHarness();
  for (
    const contentType of ["text/plain", "application/x-www-form-urlencoded", "application/vnd.kubernetes.protobuf"]
  ) {
    const res = await h.call("POST", CM, { body: JSON.stringify(configMap("c")), contentType });
    assert.equal(res.status, 415, contentType);
    assert.equal(res.body.reason, "UnsupportedMediaType");
  }
  const patchAsJson = await h.call("PATCH", `${CM}/c`, { body: {}, contentType: "application/json" });
  assert.equal(patchAsJson.status, 415);
  const yaml = await h.call("POST", CM, {
    body: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-yaml\ndata:\n  a: b\n",
    contentType: "application/yaml",
  });
  assert.equal(yaml.status, 201);
  const charset = await h.call("POST", CM, {
    body: JSON.stringify(configMap("charset")),
    contentType: "application/json; charset=utf-8",
  });
  assert.equal(charset.status, 201);
});

Deno.test("malformed bodies are 400 BadRequest saying what is wrong", async () => {
  await using h = await startHarness();
  const cases: [string, string | Uint8Array, string, RegExp][] = [
    ["truncated JSON", '{"apiVersion": "v1", "kind": "Con', "application/json", /not valid JSON/],
    ["empty", "", "application/json", /empty/],
    ["not UTF-8", new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]), "application/json", /UTF-8/],
    ["deep nesting", "[".repeat(5000) + "]".repeat(5000), "application/json", /nested/],
    ["several YAML documents", "a: 1\n---\nb: 2\n", "application/yaml", /several YAML documents/],
    ["invalid YAML", "a: [1, 2\nb: }", "application/yaml", /not valid YAML/],
    ["duplicate YAML keys", "metadata:\n  name: a\n  name: b\n", "application/yaml", /YAML/],
    [
      "YAML alias bomb",
      'a: &a ["x","x","x","x","x","x","x","x","x"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n' +
      "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n" +
      "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\nh: [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n",
      "application/yaml",
      /alias|YAML/i,
    ],
    ["a number", "42", "application/json", /must be an object/],
  ];
  for (const [what, body, contentType, message] of cases) {
    const res = await h.call("POST", CM, { body, contentType });
    assert.equal(res.status, 400, `${what}: ${JSON.stringify(res.body)}`);
    assert.equal(res.body.kind, "Status", what);
    assert.equal(res.body.reason, "BadRequest", what);
    assert.match(res.body.message, message, what);
  }
});

Deno.test("fieldValidation=Strict refuses duplicate and unknown fields, Warn warns, Ignore is silent", async () => {
  await using h = await startHarness();
  const duplicate = '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"d","name":"e"},"data":{}}';
  const strictDup = await h.call("POST", `${CM}?fieldValidation=Strict`, { body: duplicate });
  assert.equal(strictDup.status, 400);
  assert.equal(strictDup.body.message, 'strict decoding error: duplicate field "metadata.name"');
  const unknown = { ...configMap("u"), spec: { replicas: 1 }, metadata: { name: "u", labelz: { a: "b" } } };
  const strictUnknown = await h.call("POST", `${CM}?fieldValidation=Strict`, { body: unknown });
  assert.equal(strictUnknown.status, 400);
  assert.equal(
    strictUnknown.body.message,
    'strict decoding error: unknown field "spec", unknown field "metadata.labelz"',
  );
  const warned = await h.call("POST", `${CM}?fieldValidation=Warn`, { body: unknown });
  assert.equal(warned.status, 201);
  assert.equal(
    warned.headers.get("warning"),
    '299 - "unknown field \\"spec\\"", 299 - "unknown field \\"metadata.labelz\\""',
  );
  assert.equal(warned.body.spec, undefined);
  const byDefault = await h.call("POST", CM, { body: duplicate });
  assert.equal(byDefault.status, 201);
  assert.match(byDefault.headers.get("warning") ?? "", /duplicate field/);
  assert.equal(byDefault.body.metadata.name, "e");
  const ignored = await h.call("POST", `${CM}?fieldValidation=Ignore`, {
    body: { ...unknown, metadata: { name: "i" } },
  });
  assert.equal(ignored.status, 201);
  assert.equal(ignored.headers.get("warning"), null);
  const patch = await h.call("PATCH", `${CM}/i?fieldValidation=Strict`, {
    body: { dataa: { x: "y" } },
    contentType: MERGE,
  });
  assert.equal(patch.status, 400);
  assert.match(patch.body.message, /unknown field "dataa"/);
  const patchDup = await h.call("PATCH", `${CM}/i?fieldValidation=Strict`, {
    body: '{"data":{"x":"1","x":"2"}}',
    contentType: MERGE,
  });
  assert.equal(patchDup.status, 400);
  assert.match(patchDup.body.message, /duplicate field "data.x"/);
  const bad = await h.call("POST", `${CM}?fieldValidation=Loose`, { body: configMap("l") });
  assert.equal(bad.status, 400);
  assert.match(bad.body.message, /fieldValidation/);
});

Deno.test("path segments that are not names are 400, never a lookup", async () => {
  await using h = await startHarness();
  // A literal or percent-encoded ".." segment is resolved by URL parsing before routing (the request is for the
  // parent path, and is authorized as such); encoded slashes and percents inside a segment never name an object.
  for (
    const path of [`${CM}/a%2Fb`, `${CM}/x%2F..%2F..%2Fsecrets`, "/api/v1/namespaces/%2F/configmaps", `${CM}/a%25b`]
  ) {
    const res = await h.call("GET", path);
    assert.ok(res.status === 400 || res.status === 404, `${path}: ${res.status}`);
    assert.equal(res.body.kind, "Status");
  }
  const bad = await h.call("GET", "/api/v1/namespaces/%E0%A4%A/configmaps");
  assert.equal(bad.status, 404);
});
