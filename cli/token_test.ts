import assert from "node:assert/strict";
import { ApiClient, createTlsFetch } from "@skiff/client";
import { startControlPlane, SYSTEM_USER } from "@skiff/control-plane";
import { caHashOfPem, joinCluster, loadCredentials, type NodeCredentials, parseJoinToken } from "@skiff/node-agent";
import { type ApiError, NotFoundError, UnauthorizedError } from "@skiff/api";
import { createTempDir, eventually } from "../test/support/mod.ts";
import { HOUR, SetClock, type TestCluster, withCluster } from "./_test_harness.ts";
import { advertisedServer, ensureJoinToken, primaryAddress } from "./token_run.ts";

/** Creates a join token with `skiff token create` and returns it with the output. */
async function createToken(cluster: TestCluster, args: string[] = [], now?: () => number) {
  const result = await cluster.run(["token", "create", ...args], now ? { now } : {});
  assert.equal(result.code, 0, result.stderr);
  const joinToken = result.stdout.split("\n")[0]!;
  return { joinToken, ...parseJoinToken(joinToken), stdout: result.stdout };
}

/** Whether the API accepts `token` (a 404 for a node that does not exist counts as accepted). */
async function accepted(credentials: NodeCredentials): Promise<boolean> {
  using tls = createTlsFetch({ caPem: credentials.caPem! });
  const client = new ApiClient({ server: credentials.server, token: credentials.token, transport: tls });
  try {
    await client.request("GET", `/api/v1/nodes/${credentials.nodeName}`);
    return true;
  } catch (error) {
    if (error instanceof NotFoundError) return true;
    if (error instanceof UnauthorizedError) return false;
    throw error;
  }
}

function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

Deno.test("skiff token create, list and delete: a join token's life cycle, its secret printed only once", async () => {
  const clock = new SetClock(Date.UTC(2026, 0, 1));
  await withCluster(async (cluster) => {
    const now = () => clock.time;
    const created = await createToken(cluster, ["--ttl", "2h", "--description", "pis in the shed"], now);
    assert.equal(created.caHash, await caHashOfPem(cluster.server.pki.caPem), "the token pins the cluster's CA");
    const server = advertisedServer(cluster.server.url, primaryAddress());
    assert.ok(created.stdout.includes(`is valid for 120m, until 2026-01-01T02:00:00Z`), created.stdout);
    assert.ok(created.stdout.includes(`\`skiff token delete ${created.id}\` revokes it`), created.stdout);
    assert.ok(
      created.stdout.includes(`\n  skiff agent --server ${server} --token ${created.joinToken}\n`),
      created.stdout,
    );

    const forever = await createToken(cluster, ["--ttl", "0"], now);
    assert.match(forever.stdout, /This join token never expires/);

    // A node joins with the first token: the use is counted, and the node's own token is listed.
    await using tmp = await createTempDir({ prefix: "skiff-token-" });
    clock.time += 30 * 60_000;
    await joinCluster({
      token: created.joinToken,
      server: cluster.server.url,
      nodeName: "pi-3",
      dataDir: tmp.path,
      defaultNodeName: "unused",
    });
    clock.time += 5 * 60_000;

    const list = await cluster.run(["token", "list"], { now });
    assert.equal(list.code, 0, list.stderr);
    const lines = list.stdout.trimEnd().split("\n");
    assert.match(lines[0]!, /^ID\s+ROLE\s+NODE\s+TTL\s+EXPIRES\s+USAGES\s+DESCRIPTION$/);
    const row = (id: string) => lines.find((line) => line.startsWith(`${id} `))?.split(/\s{2,}/);
    assert.deepEqual(row(created.id), [
      created.id,
      "join",
      "<none>",
      "85m",
      "2026-01-01T02:00:00Z",
      "1 (last: pi-3, 5m ago)",
      "pis in the shed",
    ]);
    assert.deepEqual(row(forever.id), [forever.id, "join", "<none>", "<forever>", "<never>", "0", "<none>"]);
    const nodeRow = lines.map((line) => line.split(/\s{2,}/)).find((cells) => cells[2] === "pi-3");
    assert.equal(nodeRow?.[1], "node");
    assert.match(nodeRow?.[6] ?? "", new RegExp(`from join token ${created.id}`));
    assert.ok(lines.some((line) => / admin /.test(line)), "the admin kubeconfig's token is listed");
    for (const token of [created, forever]) {
      assert.ok(!list.stdout.includes(token.token.split(".")[1]!), "no secret is ever listed");
    }

    clock.time += 2 * HOUR;
    assert.match(
      (await cluster.run(["token", "list"], { now })).stdout,
      new RegExp(`${created.id} +join +<none> +<expired>`),
    );

    const deleted = await cluster.run(["token", "delete", created.id, forever.joinToken]);
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.equal(deleted.stdout, `join token "${created.id}" deleted\njoin token "${forever.id}" deleted\n`);
    const after = await cluster.run(["token", "list"], { now });
    const ids = after.stdout.split("\n").map((line) => line.split(" ")[0]);
    assert.ok(!ids.includes(created.id) && !ids.includes(forever.id), after.stdout);

    const again = await cluster.run(["token", "delete", created.id]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, new RegExp(`error: token "${created.id}" not found: it was deleted already`));
  }, { clock });
});

Deno.test("skiff token delete and create refuse bad input, and delete refuses the kubeconfig's own token", async () => {
  await withCluster(async (cluster) => {
    const badId = await cluster.run(["token", "delete", "NOT-AN-ID"]);
    assert.equal(badId.code, 2);
    assert.match(badId.stderr, /Invalid token id "NOT-AN-ID": an id is 6 lower-case letters and digits/);

    const badTtl = await cluster.run(["token", "create", "--ttl", "soon"]);
    assert.equal(badTtl.code, 2);
    assert.match(badTtl.stderr, /--ttl.*must be a duration such as 30s, 5m or 1h30m, got "soon"/);

    const kubeconfig = await Deno.readTextFile(cluster.kubeconfig);
    const own = /token: ([a-z0-9]{6})\./.exec(kubeconfig)![1]!;
    const self = await cluster.run(["token", "delete", own]);
    assert.equal(self.code, 1);
    assert.match(self.stderr, /is the one this kubeconfig uses: deleting it would lock you out/);
  });
});

/** Runs `skiff agent` in process with a join token; it must fail before it needs containerd. */
async function agentFails(cluster: TestCluster, server: string, token: string, dataDir: string): Promise<string> {
  const result = await cluster.run([
    "agent",
    "--server",
    server,
    "--token",
    token,
    "--node-name",
    "pi-3",
    "--data-dir",
    dataDir,
  ]);
  assert.equal(result.code, 1, `skiff agent should fail; stderr: ${result.stderr}`);
  assert.equal(await loadCredentials(dataDir), undefined, "a failed join stores nothing");
  return result.stderr;
}

Deno.test("skiff agent --token K10… says which join failure it is: expired, deleted, wrong secret, other CA, unreachable", async () => {
  const clock = new SetClock(Date.now());
  await using tmp = await createTempDir({ prefix: "skiff-join-" });
  await withCluster(async (cluster) => {
    const url = cluster.server.url;
    const now = () => clock.time;

    const short = await createToken(cluster, ["--ttl", "1h"], now);
    clock.time += HOUR;
    const expiredAt = new Date(clock.time).toISOString();
    assert.ok(
      (await agentFails(cluster, url, short.joinToken, tmp.join("expired"))).includes(
        `error: Cannot join the cluster at ${url}: the join token "${short.id}" expired at ${expiredAt}; create a new one on the control plane with \`skiff token create\``,
      ),
    );

    const gone = await createToken(cluster, [], now);
    assert.equal((await cluster.run(["token", "delete", gone.id])).code, 0);
    assert.match(
      await agentFails(cluster, url, gone.joinToken, tmp.join("deleted")),
      new RegExp(
        `error: Cannot join the cluster at .*: the join token "${gone.id}" does not exist on this cluster: it was deleted`,
      ),
    );

    const good = await createToken(cluster, [], now);
    const wrongSecret = good.joinToken.replace(/\.[a-z0-9]+$/, `.${"0".repeat(32)}`);
    assert.match(
      await agentFails(cluster, url, wrongSecret, tmp.join("wrong")),
      new RegExp(`error: Cannot join the cluster at .*: the secret of join token "${good.id}" is wrong`),
    );

    await withCluster(async (other) => {
      const foreign = await createToken(other);
      const stderr = await agentFails(cluster, url, foreign.joinToken, tmp.join("foreign"));
      assert.ok(
        stderr.includes(
          `error: The server's CA does not match the join token: ${foreign.caHash} expected, ${good.caHash} found — check the server URL, or the token is from another cluster`,
        ),
        stderr,
      );
      const caFile = tmp.join("other-ca.crt");
      await Deno.writeTextFile(caFile, other.server.pki.caPem);
      const withCa = await cluster.run([
        "agent",
        "--server",
        url,
        "--token",
        good.joinToken,
        "--ca-cert",
        caFile,
        "--data-dir",
        tmp.join("ca-cert"),
      ]);
      assert.equal(withCa.code, 1);
      assert.match(withCa.stderr, /error: The CA given with --ca-cert does not match the join token/);
    });

    const down = `https://127.0.0.1:${closedPort()}`;
    assert.match(
      await agentFails(cluster, down, good.joinToken, tmp.join("down")),
      new RegExp(`error: Cannot reach the API server at ${down.replaceAll(".", "\\.")} to join: .*ECONNREFUSED`),
    );

    for (const malformed of ["K10abc::x.y", good.joinToken.slice(0, 40)]) {
      const result = await cluster.run(["agent", "--server", url, "--token", malformed, "--data-dir", tmp.path]);
      assert.equal(result.code, 1);
      assert.match(result.stderr, /Invalid join token: expected K10<64 hex digits of the CA hash>::<id>\.<secret>/);
    }
  }, { clock });
});

Deno.test("joinCluster() stores a node credential; a reinstalled node rejoins under its name and the old credential stops working", async () => {
  await using tmp = await createTempDir({ prefix: "skiff-rejoin-" });
  await withCluster(async (cluster) => {
    const first = await createToken(cluster);
    const lines: string[] = [];
    const join = async (dataDir: string, token: string) =>
      await joinCluster({
        token,
        stored: await loadCredentials(dataDir),
        server: cluster.server.url,
        nodeName: "pi-3",
        dataDir,
        defaultNodeName: "unused",
        log: (line) => lines.push(line),
      });

    const original = await join(tmp.join("first-install"), first.joinToken);
    assert.equal(original.caPem, cluster.server.pki.caPem);
    assert.match(original.token, /^[a-z0-9]{6}\.[a-z0-9]{32}$/);
    assert.deepEqual(await loadCredentials(tmp.join("first-install")), original);
    assert.ok(await accepted(original));
    assert.ok(lines.at(-1)!.startsWith(`Joined the cluster at ${cluster.server.url} as node "pi-3" with join token`));

    // The machine is reinstalled (no credentials) and joins again with a fresh token; nobody deletes anything.
    const fresh = await createToken(cluster);
    const reinstalled = await join(tmp.join("second-install"), fresh.joinToken);
    assert.notEqual(reinstalled.token, original.token);
    assert.ok(await accepted(reinstalled));
    await eventually("the old node credential is refused", async () => !await accepted(original));

    // A restart that passes the join token again keeps the stored credential (and does not count a use).
    const restarted = await join(tmp.join("second-install"), fresh.joinToken);
    assert.equal(restarted.token, reinstalled.token, lines.join("\n"));
    assert.match(lines.at(-1)!, /^Joined before as node "pi-3": keeping the node credential stored in /);
    const list = await cluster.run(["token", "list"]);
    assert.match(list.stdout, new RegExp(`${fresh.id} +join .* 1 \\(last: pi-3`));

    // Retired with skiff node delete, it joins again on its next start.
    const retired = await cluster.run(["node", "delete", "pi-3"]);
    assert.equal(retired.code, 0, retired.stderr);
    await eventually("the retired node's credential is refused", async () => !await accepted(reinstalled));
    const rejoined = await join(tmp.join("second-install"), fresh.joinToken);
    assert.ok(
      lines.some((line) => line.startsWith(`The stored node credential of "pi-3" was refused`)),
      lines.join("\n"),
    );
    assert.notEqual(rejoined.token, reinstalled.token);
    assert.ok(await accepted(rejoined));
  });
});

Deno.test("ensureJoinToken() keeps skiff up's join token in a 0600 file, and makes a new one once it is revoked", async () => {
  await using tmp = await createTempDir({ prefix: "skiff-up-token-" });
  const plane = await startControlPlane({ dataDir: tmp.join("plane"), port: 0, bind: "127.0.0.1", log: () => {} });
  try {
    const client = new ApiClient({ server: plane.url, transport: plane.handler.as(SYSTEM_USER) });
    const file = tmp.join("plane", "join-token");
    const ensure = () =>
      ensureJoinToken({
        client,
        caHash: plane.pki.caHash,
        file,
        verify: (t) => plane.tokens.verify(t),
        now: Date.now(),
      });

    const first = await ensure();
    assert.ok(first.created);
    assert.equal(parseJoinToken(first.joinToken).caHash, plane.pki.caHash);
    assert.equal((await Deno.readTextFile(file)).trim(), first.joinToken);
    assert.equal((await Deno.stat(file)).mode! & 0o777, 0o600);
    assert.ok(Math.abs(first.expiresAt! - Date.now() - 24 * HOUR) < 60_000, "valid for 24 hours");

    const second = await ensure();
    assert.equal(second.created, false);
    assert.equal(second.joinToken, first.joinToken);

    await client.kind("v1", "Secret").delete(`skiff-token-${first.id}`, { namespace: "kube-system" });
    await eventually(
      "the deleted token is refused",
      async () => !await plane.tokens.verify(parseJoinToken(first.joinToken).token),
    );
    const third = await ensure();
    assert.ok(third.created);
    assert.notEqual(third.joinToken, first.joinToken);
  } finally {
    await plane.stop();
  }
});

Deno.test("advertisedServer() replaces a loopback or unspecified host with this machine's address", () => {
  assert.equal(advertisedServer("https://127.0.0.1:6443", "192.168.1.10"), "https://192.168.1.10:6443");
  assert.equal(advertisedServer("https://localhost:6443/", "192.168.1.10"), "https://192.168.1.10:6443");
  assert.equal(advertisedServer("https://[::1]:6443", "fd00::5"), "https://[fd00::5]:6443");
  assert.equal(advertisedServer("https://skiff.lan:6443", "192.168.1.10"), "https://skiff.lan:6443");
  assert.equal(advertisedServer("https://127.0.0.1:6443", undefined), "https://127.0.0.1:6443");
});

Deno.test("a join token may do nothing but join", async () => {
  await withCluster(async (cluster) => {
    const { token } = await createToken(cluster);
    using tls = createTlsFetch({ caPem: cluster.server.pki.caPem });
    const client = new ApiClient({ server: cluster.server.url, token, transport: tls });
    const error = await client.request("GET", "/api/v1/nodes").then(() => undefined, (e: ApiError) => e);
    assert.equal(error?.code, 403);
    assert.match(error!.message, /this token may only join a node/);
  });
});
