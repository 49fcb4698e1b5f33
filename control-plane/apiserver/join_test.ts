import assert from "node:assert/strict";
import { join } from "node:path";
import { type Clock, systemClock } from "@skiff/api";
import { createApi } from "../control_plane.ts";
import { createCertificateAuthority } from "../pki/mod.ts";
import { openStore } from "../store/mod.ts";
import { newToken, TOKEN_NAMESPACE, type TokenRole } from "./auth.ts";
import { eventually } from "../../test/support/mod.ts";
import { ANNOTATION_JOIN_LAST_NODE, ANNOTATION_JOIN_USAGES, CA_CERTS_PATH, JOIN_PATH } from "./join.ts";

const T0 = Date.UTC(2026, 0, 1);

/** The API as the control plane assembles it, with a CA, a clock the test sets, and a way to make tokens. */
async function setUp() {
  const dir = await Deno.makeTempDir({ prefix: "skiff-join-test-" });
  let time = T0;
  const clock: Clock = {
    now: () => time,
    setTimeout: (fn, ms) => systemClock.setTimeout(fn, ms),
    clearTimeout: (handle) => systemClock.clearTimeout(handle),
  };
  const store = openStore(`sqlite://${join(dir, "state.db")}`, { compaction: false, durable: false });
  const ca = await createCertificateAuthority();
  const api = await createApi(store, { ca, clock });
  const secrets = api.types.find((t) => t.kind === "Secret")!;
  const makeToken = async (role: TokenRole, extra: { nodeName?: string; expiresAt?: number } = {}) => {
    const created = await newToken({ role, ...extra });
    await api.handler.objects.create(secrets, TOKEN_NAMESPACE, created.secret, { user: { name: "t", role: "admin" } });
    return created;
  };
  const send = async (method: string, path: string, options: { token?: string; body?: unknown } = {}) => {
    const headers = new Headers();
    if (options.token) headers.set("authorization", `Bearer ${options.token}`);
    if (options.body !== undefined) headers.set("content-type", "application/json");
    const res = await api.handler(
      new Request(`https://skiff.test${path}`, {
        method,
        headers,
        ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
      }),
    );
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // PEM.
    }
    // deno-lint-ignore no-explicit-any
    return { status: res.status, body: body as any, headers: res.headers };
  };
  const joinAs = (token: string, nodeName: string) =>
    send("POST", JOIN_PATH, { token, body: { apiVersion: "skiff.dev/v1", kind: "NodeJoin", spec: { nodeName } } });
  const getNode = (token: string, name: string) => send("GET", `/api/v1/nodes/${name}`, { token });
  return {
    ca,
    api,
    makeToken,
    send,
    joinAs,
    getNode,
    secret: (id: string) => api.handler.objects.get(secrets, TOKEN_NAMESPACE, `skiff-token-${id}`),
    setTime: (ms: number) => time = ms,
    async [Symbol.asyncDispose]() {
      api.close();
      await store.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

Deno.test("GET /cacerts serves the cluster CA without authentication, and only to GET", async () => {
  await using t = await setUp();
  const res = await t.send("GET", CA_CERTS_PATH);
  assert.equal(res.status, 200);
  assert.equal(res.body, t.ca.certPem);
  assert.equal(res.headers.get("content-type"), "application/x-pem-file");
  assert.equal((await t.send("POST", CA_CERTS_PATH)).status, 405);
});

Deno.test("POST /v1-skiff/join exchanges a join token for a node token bound to the node name, and counts the use", async () => {
  await using t = await setUp();
  const joinToken = await t.makeToken("join", { expiresAt: T0 + 3_600_000 });
  const res = await t.joinAs(joinToken.token, "pi-3");
  assert.equal(res.status, 201, JSON.stringify(res.body));
  assert.equal(res.body.kind, "NodeJoin");
  assert.equal(res.body.spec.nodeName, "pi-3");
  assert.equal(res.body.status.replacedTokens, 0);
  const nodeToken: string = res.body.status.token;
  assert.match(nodeToken, /^[a-z0-9]{6}\.[a-z0-9]{32}$/);

  const record = await t.api.tokens.verify(nodeToken);
  assert.equal(record?.role, "node");
  assert.equal(record?.nodeName, "pi-3");
  assert.equal((await t.getNode(nodeToken, "pi-3")).status, 404, "the node token reads nodes (none registered yet)");

  // The join token is reusable: a second node joins with it, and the uses are recorded.
  t.setTime(T0 + 60_000);
  assert.equal((await t.joinAs(joinToken.token, "pi-4")).status, 201);
  const annotations = (await t.secret(joinToken.id)).metadata.annotations ?? {};
  assert.equal(annotations[ANNOTATION_JOIN_USAGES], "2");
  assert.equal(annotations[ANNOTATION_JOIN_LAST_NODE], "pi-4");
  assert.equal(annotations["skiff.dev/join-last-used"], new Date(T0 + 60_000).toISOString());

  // Still nothing else: the join token may only join.
  assert.equal((await t.getNode(joinToken.token, "pi-3")).status, 403);
});

Deno.test("POST /v1-skiff/join again for the same name replaces the node's old token, which stops working", async () => {
  await using t = await setUp();
  const joinToken = await t.makeToken("join");
  const handMade = await t.makeToken("node", { nodeName: "pi-3" });
  const other = await t.makeToken("node", { nodeName: "pi-9" });
  const first = await t.joinAs(joinToken.token, "pi-3");
  assert.equal(first.body.status.replacedTokens, 1, "the hand-made node token of pi-3 is replaced too");
  const second = await t.joinAs(joinToken.token, "pi-3");
  assert.equal(second.status, 201);
  assert.equal(second.body.status.replacedTokens, 1);

  await eventually("the hand-made token is revoked", async () => !await t.api.tokens.verify(handMade.token));
  await eventually(
    "the first exchange's token is revoked",
    async () => !await t.api.tokens.verify(first.body.status.token),
  );
  assert.equal((await t.getNode(first.body.status.token, "pi-3")).status, 401);
  assert.equal((await t.getNode(second.body.status.token, "pi-3")).status, 404, "the new token works");
  assert.equal((await t.api.tokens.verify(other.token))?.nodeName, "pi-9", "other nodes' tokens stay");
});

Deno.test("POST /v1-skiff/join says which problem a refused token has: unknown, wrong secret, expired, not a join token", async () => {
  await using t = await setUp();
  const reason = (res: { body: { details?: { causes?: { reason?: string }[] } } }) =>
    res.body.details?.causes?.[0]?.reason;

  const missing = await t.send("POST", JOIN_PATH, { body: { kind: "NodeJoin", spec: { nodeName: "pi-3" } } });
  assert.equal(missing.status, 401);
  assert.equal(reason(missing), "TokenMalformed");

  const unknown = await t.joinAs("zzzzzz.0123456789abcdef0123456789abcdef", "pi-3");
  assert.equal(unknown.status, 401);
  assert.equal(reason(unknown), "TokenNotFound");
  assert.match(unknown.body.message, /join token "zzzzzz" does not exist on this cluster: it was deleted/);

  const joinToken = await t.makeToken("join", { expiresAt: T0 + 3_600_000 });
  const wrong = await t.joinAs(`${joinToken.id}.${"x".repeat(32)}`, "pi-3");
  assert.equal(wrong.status, 401);
  assert.equal(reason(wrong), "TokenSecretMismatch");
  assert.match(wrong.body.message, new RegExp(`secret of join token "${joinToken.id}" is wrong`));

  t.setTime(T0 + 3_600_000);
  const expired = await t.joinAs(joinToken.token, "pi-3");
  assert.equal(expired.status, 401);
  assert.equal(reason(expired), "TokenExpired");
  assert.ok(
    expired.body.message.includes(
      `join token "${joinToken.id}" expired at 2026-01-01T01:00:00.000Z; create a new one on the control plane with \`skiff token create\``,
    ),
    expired.body.message,
  );
  // With the wrong secret, an expired token is reported as a wrong secret: expiry is told only to its holder.
  assert.equal(reason(await t.joinAs(`${joinToken.id}.${"x".repeat(32)}`, "pi-3")), "TokenSecretMismatch");

  const nodeToken = await t.makeToken("node", { nodeName: "pi-3" });
  const notJoin = await t.joinAs(nodeToken.token, "pi-3");
  assert.equal(notJoin.status, 403);
  assert.equal(reason(notJoin), "NotAJoinToken");
});

Deno.test("POST /v1-skiff/join refuses a missing or invalid node name and a wrong method, writing nothing", async () => {
  await using t = await setUp();
  const joinToken = await t.makeToken("join");
  const noName = await t.send("POST", JOIN_PATH, {
    token: joinToken.token,
    body: { apiVersion: "skiff.dev/v1", kind: "NodeJoin", spec: {} },
  });
  assert.equal(noName.status, 400);
  assert.match(noName.body.message, /spec\.nodeName is required/);
  const badName = await t.joinAs(joinToken.token, "Pi_3");
  assert.equal(badName.status, 400);
  assert.match(badName.body.message, /Invalid spec\.nodeName "Pi_3"/);
  const wrongKind = await t.send("POST", JOIN_PATH, { token: joinToken.token, body: { kind: "Pod" } });
  assert.equal(wrongKind.status, 400);
  assert.equal((await t.send("GET", JOIN_PATH, { token: joinToken.token })).status, 405);
  const usages = (await t.secret(joinToken.id)).metadata.annotations?.[ANNOTATION_JOIN_USAGES];
  assert.equal(usages, undefined, "refused requests are not counted");
});

Deno.test("createApi() without a CA serves no join endpoints", async () => {
  const dir = await Deno.makeTempDir({ prefix: "skiff-join-test-" });
  const store = openStore(`sqlite://${join(dir, "state.db")}`, { compaction: false, durable: false });
  const api = await createApi(store);
  try {
    const res = await api.handler(new Request(`https://skiff.test${CA_CERTS_PATH}`));
    assert.equal(res.status, 401, "an unknown path needs authentication like any other");
    await res.body?.cancel();
  } finally {
    api.close();
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("POST /v1-skiff/join of one name twice at once leaves exactly one working node token", async () => {
  await using t = await setUp();
  const joinToken = await t.makeToken("join");
  const [a, b] = await Promise.all([t.joinAs(joinToken.token, "pi-3"), t.joinAs(joinToken.token, "pi-3")]);
  assert.equal(a.status, 201);
  assert.equal(b.status, 201);
  const working = async () => {
    let count = 0;
    for (const token of [a.body.status.token, b.body.status.token]) {
      if (await t.api.tokens.verify(token)) count++;
    }
    return count;
  };
  await eventually("one token works", async () => await working() === 1);
  const annotations = (await t.secret(joinToken.id)).metadata.annotations ?? {};
  assert.equal(annotations[ANNOTATION_JOIN_USAGES], "2");
});
