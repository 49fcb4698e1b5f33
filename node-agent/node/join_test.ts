import assert from "node:assert/strict";
import { type KubeObject, type Node, NotFoundError } from "@skiff/api";
import { ApiClient, createTlsFetch } from "@skiff/client";
import {
  ANNOTATION_JOIN_USAGES,
  type ControlPlane,
  ensurePki,
  newToken,
  startControlPlane,
  SYSTEM_USER,
  TOKEN_NAMESPACE,
  tokenRecordOf,
  type TokenRole,
} from "@skiff/control-plane";
import { createTempDir, eventually, type TempDir } from "../../test/support/mod.ts";
import { credentialsPath, loadCredentials, type NodeCredentials } from "./credentials.ts";
import { joinCluster, type JoinClusterOptions, JoinError, type JoinFailure } from "./join.ts";
import { formatJoinToken } from "./join_token.ts";

/** A real control plane over HTTPS on loopback, in a temporary directory, and ways to make tokens on it. */
async function setUp() {
  const tmp = await createTempDir({ prefix: "skiff-join-agent-" });
  let plane: ControlPlane;
  try {
    plane = await startControlPlane({ dataDir: tmp.join("plane"), port: 0, bind: "127.0.0.1", log: () => {} });
  } catch (error) {
    await tmp[Symbol.asyncDispose]();
    throw error;
  }
  const admin = new ApiClient({ server: plane.url, transport: plane.handler.as(SYSTEM_USER) });
  const secrets = admin.kind("v1", "Secret");
  /** Makes a token of `role` on the cluster and gives it as a join token carrying the cluster's CA hash. */
  const makeToken = async (role: TokenRole = "join", options: { expiresAt?: number; nodeName?: string } = {}) => {
    const created = await newToken({ role, ...options });
    await secrets.create(created.secret);
    return { ...created, joinToken: formatJoinToken(plane.pki.caHash, created.token) };
  };
  const nodeTokensOf = async (nodeName: string) =>
    (await secrets.listAll({ namespace: TOKEN_NAMESPACE })).items.filter((secret: KubeObject) => {
      const record = tokenRecordOf(secret);
      return record?.role === "node" && record.nodeName === nodeName;
    });
  const usages = async (id: string) =>
    (await secrets.get(`skiff-token-${id}`, { namespace: TOKEN_NAMESPACE })).metadata.annotations
      ?.[ANNOTATION_JOIN_USAGES];
  const join = (
    dataDir: string,
    token: string,
    extra: Partial<JoinClusterOptions> = {},
  ): Promise<NodeCredentials> =>
    joinCluster({ token, server: plane.url, nodeName: "pi-3", dataDir, defaultNodeName: "unused", ...extra });
  return {
    tmp,
    plane,
    admin,
    secrets,
    makeToken,
    nodeTokensOf,
    usages,
    join,
    async [Symbol.asyncDispose]() {
      try {
        await plane.stop();
      } finally {
        await tmp[Symbol.asyncDispose]();
      }
    },
  };
}

/** A client of the cluster that uses `credentials`, as the agent does. */
function clientOf(credentials: NodeCredentials) {
  const transport = createTlsFetch({ caPem: credentials.caPem! });
  return {
    client: new ApiClient({ server: credentials.server, token: credentials.token, transport }),
    [Symbol.dispose]: () => transport[Symbol.dispose](),
  };
}

/** Whether the API server still accepts `credentials` (a 404 is an answer to an authenticated request). */
async function accepted(credentials: NodeCredentials): Promise<boolean> {
  using node = clientOf(credentials);
  try {
    await node.client.request("GET", `/api/v1/nodes/${credentials.nodeName}`);
    return true;
  } catch (error) {
    return error instanceof NotFoundError;
  }
}

/** Asserts that `promise` fails with a {@linkcode JoinError} for `reason` whose message includes `text`. */
async function assertJoinFails(promise: Promise<unknown>, reason: JoinFailure, text: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof JoinError, `a JoinError, not ${error}`);
    assert.equal(error.reason, reason, error.message);
    assert.ok(error.message.includes(text), `"${error.message}" should include "${text}"`);
    return true;
  });
}

/** An HTTPS server that is not the cluster: it records every request and hands out its own CA. */
async function startImpostor(tmp: TempDir) {
  const pki = await ensurePki(tmp.join("impostor-pki"));
  const requests: { method: string; path: string; authorization: string | null; body: string }[] = [];
  const server = Deno.serve({
    port: 0,
    hostname: "127.0.0.1",
    cert: pki.certPem,
    key: pki.keyPem,
    onListen: () => {},
  }, async (req) => {
    const path = new URL(req.url).pathname;
    requests.push({
      method: req.method,
      path,
      authorization: req.headers.get("authorization"),
      body: await req.text(),
    });
    if (path === "/cacerts") return new Response(pki.caPem, { headers: { "content-type": "application/x-pem-file" } });
    return Response.json({ status: { token: "stolen.token" } }, { status: 201 });
  });
  return {
    pki,
    url: `https://127.0.0.1:${server.addr.port}`,
    requests,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

Deno.test("joinCluster() refuses a server whose CA does not match the token's hash before it sends the token", async () => {
  await using t = await setUp();
  await using impostor = await startImpostor(t.tmp);
  const dataDir = t.tmp.join("agent");
  const good = await t.makeToken();

  // A server that hands out another CA sees one unauthenticated GET /cacerts, and nothing else.
  await assertJoinFails(
    t.join(dataDir, good.joinToken, { server: impostor.url }),
    "ca-mismatch",
    `The server's CA does not match the join token: ${t.plane.pki.caHash} expected, ${impostor.pki.caHash} found`,
  );
  assert.deepEqual(impostor.requests, [{ method: "GET", path: "/cacerts", authorization: null, body: "" }]);

  // A CA given with --ca-cert is checked before anything goes on the wire at all.
  await assertJoinFails(
    t.join(dataDir, good.joinToken, { server: impostor.url, caPem: impostor.pki.caPem }),
    "ca-mismatch",
    `The CA given with --ca-cert does not match the join token: ${t.plane.pki.caHash} expected`,
  );
  assert.equal(impostor.requests.length, 1, "no second request");

  // The real cluster with a token pinning another CA: the token is valid there, yet never used.
  const otherHash = formatJoinToken(impostor.pki.caHash, good.token);
  await assertJoinFails(
    t.join(dataDir, otherHash),
    "ca-mismatch",
    `${impostor.pki.caHash} expected, ${t.plane.pki.caHash} found — check the server URL, or the token is from another cluster`,
  );
  assert.equal(await t.usages(good.id), undefined, "the join token was not used");
  assert.deepEqual(await t.nodeTokensOf("pi-3"), [], "no node credential was made");
  assert.equal(await loadCredentials(dataDir), undefined, "nothing is stored");
});

Deno.test("joinCluster() says which problem a refused token has: expired, deleted, wrong secret, malformed", async () => {
  await using t = await setUp();
  const dataDir = t.tmp.join("agent");

  const expiresAt = Date.now() - 60_000;
  const expired = await t.makeToken("join", { expiresAt });
  await assertJoinFails(
    t.join(dataDir, expired.joinToken),
    "expired",
    `Cannot join the cluster at ${t.plane.url}: the join token "${expired.id}" expired at ${
      new Date(expiresAt).toISOString()
    }; create a new one on the control plane with \`skiff token create\``,
  );

  const deleted = await t.makeToken();
  await t.secrets.delete(`skiff-token-${deleted.id}`, { namespace: TOKEN_NAMESPACE });
  await eventually(
    "the API server forgets the deleted token",
    async () => !await t.plane.tokens.verify(deleted.token),
    {
      timeoutMs: 5000,
      intervalMs: 10,
    },
  );
  await assertJoinFails(
    t.join(dataDir, deleted.joinToken),
    "unknown-token",
    `Cannot join the cluster at ${t.plane.url}: the join token "${deleted.id}" does not exist on this cluster: it was deleted, or was never created here`,
  );

  const good = await t.makeToken();
  const wrongSecret = good.joinToken.replace(/\.[a-z0-9]+$/, `.${"0".repeat(32)}`);
  await assertJoinFails(
    t.join(dataDir, wrongSecret),
    "wrong-secret",
    `Cannot join the cluster at ${t.plane.url}: the secret of join token "${good.id}" is wrong: copy the whole token again`,
  );

  const nodeToken = await t.makeToken("node", { nodeName: "pi-3" });
  await assertJoinFails(
    t.join(dataDir, nodeToken.joinToken),
    "not-a-join-token",
    `token "${nodeToken.id}" has the role "node", not "join"`,
  );

  for (const malformed of [good.token, `K10${"0".repeat(63)}::${good.token}`, `${good.joinToken.split(".")[0]}`]) {
    await assert.rejects(
      t.join(dataDir, malformed),
      {
        name: "TypeError",
        message:
          "Invalid join token: expected K10<64 hex digits of the CA hash>::<id>.<secret>, as `skiff token create` prints it; copy it whole",
      },
    );
  }

  const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const down = `https://127.0.0.1:${closed.addr.port}`;
  closed.close();
  await assertJoinFails(
    t.join(dataDir, good.joinToken, { server: down }),
    "unreachable",
    `Cannot reach the API server at ${down} to join:`,
  );

  assert.equal(await t.usages(good.id), undefined, "refused joins are not counted");
  assert.equal(await loadCredentials(dataDir), undefined, "a failed join stores nothing");
});

Deno.test("joinCluster() exchanges a valid token for a node credential bound to the node name, stored with mode 0600", async () => {
  await using t = await setUp();
  const dataDir = t.tmp.join("agent");
  const good = await t.makeToken();
  const lines: string[] = [];

  const credentials = await t.join(dataDir, good.joinToken, { log: (line) => lines.push(line) });
  assert.equal(credentials.server, t.plane.url);
  assert.equal(credentials.nodeName, "pi-3");
  assert.equal(credentials.caPem, t.plane.pki.caPem, "the CA that matched the token is trusted from now on");
  assert.match(credentials.token, /^[a-z0-9]{6}\.[a-z0-9]{32}$/);
  assert.notEqual(credentials.token, good.token, "the join token itself is not kept");
  assert.deepEqual(await loadCredentials(dataDir), credentials);
  assert.equal((await Deno.stat(credentialsPath(dataDir))).mode! & 0o777, 0o600);
  assert.deepEqual(lines, [
    `Joined the cluster at ${t.plane.url} as node "pi-3" with join token "${good.id}": its node credential is stored in ${
      credentialsPath(dataDir)
    }`,
  ]);

  const record = await t.plane.tokens.verify(credentials.token);
  assert.equal(record?.role, "node");
  assert.equal(record?.nodeName, "pi-3");
  assert.equal(await t.usages(good.id), "1");

  // The credential acts as node pi-3: it registers its own Node, and may not touch another's.
  using node = clientOf(credentials);
  const nodes = node.client.kind<Node>("v1", "Node");
  await nodes.create({ apiVersion: "v1", kind: "Node", metadata: { name: "pi-3" } });
  await t.admin.kind<Node>("v1", "Node").create({ apiVersion: "v1", kind: "Node", metadata: { name: "pi-4" } });
  const other = await nodes.get("pi-4");
  await assert.rejects(nodes.update({ ...other, metadata: { ...other.metadata, labels: { stolen: "yes" } } }), {
    name: "ForbiddenError",
  });
});

Deno.test("joinCluster() lets a node reinstalled under the same name rejoin with a fresh token, nothing deleted by hand", async () => {
  await using t = await setUp();
  const first = await t.makeToken();
  const original = await t.join(t.tmp.join("first-install"), first.joinToken);
  {
    using node = clientOf(original);
    await node.client.kind<Node>("v1", "Node").create({
      apiVersion: "v1",
      kind: "Node",
      metadata: { name: "pi-3", labels: { install: "first" } },
    });
  }

  // Reinstalled: the first token has expired meanwhile (deleted here), the data directory is empty.
  await t.secrets.delete(`skiff-token-${first.id}`, { namespace: TOKEN_NAMESPACE });
  const fresh = await t.makeToken();
  const lines: string[] = [];
  const reinstalledDir = t.tmp.join("second-install");
  const reinstalled = await t.join(reinstalledDir, fresh.joinToken, { log: (line) => lines.push(line) });
  assert.notEqual(reinstalled.token, original.token);
  assert.equal(reinstalled.nodeName, "pi-3");
  await eventually("the first install's credential is refused", async () => !await accepted(original), {
    timeoutMs: 5000,
    intervalMs: 20,
  });
  assert.equal((await t.nodeTokensOf("pi-3")).length, 1, "exactly one node credential of pi-3 is left");

  // The new credential owns the existing Node: no "node password rejected".
  {
    using node = clientOf(reinstalled);
    const nodes = node.client.kind<Node>("v1", "Node");
    const existing = await nodes.get("pi-3");
    const updated = await nodes.update({
      ...existing,
      metadata: { ...existing.metadata, labels: { install: "second" } },
    });
    assert.equal(updated.metadata.labels?.install, "second");
  }

  // A restart that passes the same join token keeps the stored credential and does not use the token again.
  const restarted = await t.join(reinstalledDir, fresh.joinToken, {
    stored: await loadCredentials(reinstalledDir),
    log: (line) => lines.push(line),
  });
  assert.equal(restarted.token, reinstalled.token);
  assert.match(lines.at(-1)!, /^Joined before as node "pi-3": keeping the node credential stored in /);
  assert.equal(await t.usages(fresh.id), "1");

  // Retired (its node credential deleted, as `skiff node delete` does), it joins again on its next start.
  for (const secret of await t.nodeTokensOf("pi-3")) {
    await t.secrets.delete(secret.metadata.name!, { namespace: TOKEN_NAMESPACE });
  }
  await eventually("the retired credential is refused", async () => !await accepted(reinstalled), {
    timeoutMs: 5000,
    intervalMs: 20,
  });
  const rejoined = await t.join(reinstalledDir, fresh.joinToken, {
    stored: await loadCredentials(reinstalledDir),
    log: (line) => lines.push(line),
  });
  assert.ok(lines.includes(`The stored node credential of "pi-3" was refused (the node was deleted?): joining again`));
  assert.notEqual(rejoined.token, reinstalled.token);
  assert.ok(await accepted(rejoined));
  assert.deepEqual(await loadCredentials(reinstalledDir), rejoined);
});
