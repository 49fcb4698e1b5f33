import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { KubeObject, Node } from "@skiff/api";
import { ApiClient } from "@skiff/client";
import { newToken, startControlPlane, SYSTEM_USER } from "@skiff/control-plane";
import { credentialsPath, loadCredentials } from "@skiff/node-agent";
import {
  createLab,
  createTempDir,
  type LabNode,
  processesMentioning,
  requireTools,
  uniqueName,
} from "../test/support/mod.ts";
import { captureIo } from "./_test_harness.ts";
import { runCli } from "./main.ts";
import { createJoinToken } from "./token_run.ts";

const MAIN = fileURLToPath(new URL("./main.ts", import.meta.url));
const ROOT = fileURLToPath(new URL("..", import.meta.url));

Deno.test("skiff agent --help tells where the credentials are kept and what token to pass", async () => {
  const { io, stdout } = captureIo();
  assert.equal(await runCli(["agent", "--help"], io), 0);
  const help = stdout();
  for (const flag of ["--server", "--token", "--ca-cert", "--node-name", "--data-dir", "--containerd-address"]) {
    assert.ok(help.includes(flag), `--help mentions ${flag}`);
  }
  assert.match(help, /credentials\.json/);
  assert.match(help, /node token .*or an admin/);
  assert.match(help, /a join token K10…::<id>\.<secret>/);
  assert.match(help, /checks it against the hash the token carries before it sends/);
});

Deno.test("skiff agent without stored credentials or flags says to pass --server and --token", async () => {
  await using tmp = await createTempDir({ prefix: "skiff-agent-cli-" });
  const { io, stderr } = captureIo();
  assert.equal(await runCli(["agent", "--data-dir", tmp.path], io), 1);
  assert.match(stderr(), /pass --server URL and --token TOKEN the first time/);
});

Deno.test("skiff agent --node-external-ip that is not an IP address is a usage error naming the flag", async () => {
  await using tmp = await createTempDir({ prefix: "skiff-agent-cli-" });
  const { io, stdout, stderr } = captureIo();
  assert.equal(await runCli(["agent", "--help"], io), 0);
  assert.match(stdout(), /--node-external-ip <ip>\s+the node's ExternalIP/);
  const bad = captureIo();
  assert.equal(
    await runCli(["agent", "--data-dir", tmp.path, "--node-external-ip", "home.example.org"], bad.io),
    2,
  );
  assert.match(bad.stderr(), /Invalid --node-external-ip "home\.example\.org": not an IPv4 or IPv6 address/);
  assert.equal(stderr(), "");
});

Deno.test("skiff agent with an unreadable --ca-cert is a usage error naming the file", async () => {
  await using tmp = await createTempDir({ prefix: "skiff-agent-cli-" });
  const { io, stderr } = captureIo();
  const file = tmp.join("missing.crt");
  assert.equal(await runCli(["agent", "--data-dir", tmp.path, "--ca-cert", file], io), 2);
  assert.ok(stderr().includes(`Cannot read --ca-cert "${file}"`), stderr());
});

/**
 * A `skiff agent` process in the lab host `host`'s network namespace (the
 * agent keeps its pod bridge, routes and nft table when it stops, by design:
 * they stay off this machine's own network); resolves `ready` when it says
 * its node is Ready.
 */
function spawnAgent(host: LabNode, args: string[]) {
  const child = new Deno.Command("nsenter", {
    args: [`--net=/run/netns/${host.netns}`, Deno.execPath(), "run", "-A", MAIN, "agent", ...args],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output: string[] = [];
  const ready = Promise.withResolvers<void>();
  const collect = async (stream: ReadableStream<Uint8Array>) => {
    let buffer = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      buffer += chunk;
      let nl;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        output.push(line);
        if (/^Node ".*" is Ready/.test(line)) ready.resolve();
      }
    }
  };
  const reading = Promise.all([collect(child.stdout), collect(child.stderr)]);
  const status = child.status.then((s) => {
    ready.reject(new Error(`skiff agent exited with code ${s.code}`));
    return s;
  });
  const timer = setTimeout(() => ready.reject(new Error("skiff agent did not report Ready within 60 s")), 60_000);
  return {
    output,
    ready: ready.promise.finally(() => clearTimeout(timer)).catch((error) => {
      throw new Error(`${error.message}; output:\n${output.join("\n")}`);
    }),
    async stop(): Promise<number> {
      clearTimeout(timer);
      try {
        child.kill("SIGTERM");
      } catch {
        // Exited already.
      }
      const { code } = await status;
      await reading;
      return code;
    },
  };
}

Deno.test({
  name: "skiff agent registers over HTTPS with a node token, and restarts from its stored credentials as the same node",
  ...requireTools(["containerd", "containerd-shim-runc-v2", "ctr", "runc", "nsenter", "ip"], { root: true }),
  fn: async () => {
    await using tmp = await createTempDir({ prefix: "skiff-agent-e2e-" });
    await using lab = await createLab({ nodes: 1 });
    const host = lab.nodes[0]!;
    const plane = await startControlPlane({
      dataDir: tmp.join("plane"),
      port: 0,
      bind: lab.gateway,
      tlsSans: [lab.gateway],
      controllers: true,
      log: () => {},
    });
    const admin = new ApiClient({ server: plane.url, transport: plane.handler.as(SYSTEM_USER) });
    try {
      const nodeName = uniqueName("agent-e2e").toLowerCase();
      const { token, secret } = await newToken({ role: "node", nodeName });
      await admin.kind("v1", "Secret").create(secret as KubeObject);
      const dataDir = tmp.join("agent");
      const caFile = join(tmp.join("plane"), "pki", "ca.crt");

      const first = spawnAgent(host, [
        "--server",
        plane.url,
        "--token",
        token,
        "--ca-cert",
        caFile,
        "--node-name",
        nodeName,
        "--data-dir",
        dataDir,
      ]);
      let code: number;
      try {
        await first.ready;
        const node = await admin.kind<Node>("v1", "Node").get(nodeName);
        assert.equal(node.status?.conditions?.find((c) => c.type === "Ready")?.status, "True");
        assert.match(node.status?.nodeInfo?.containerRuntimeVersion ?? "", /^containerd:\/\//);
      } finally {
        code = await first.stop();
      }
      assert.equal(code, 0, first.output.join("\n"));
      assert.ok(first.output.some((line) => /^Stopping the agent/.test(line)), first.output.join("\n"));
      const uid = (await admin.kind<Node>("v1", "Node").get(nodeName)).metadata.uid;

      const second = spawnAgent(host, ["--data-dir", dataDir]);
      try {
        await second.ready;
        assert.ok(second.output.some((line) => line.includes(`"${nodeName}" of ${plane.url} (stored in`)));
        assert.ok(second.output.some((line) => line.startsWith(`Node "${nodeName}" was registered before`)));
        assert.equal((await admin.kind<Node>("v1", "Node").get(nodeName)).metadata.uid, uid);
      } finally {
        code = await second.stop();
      }
      assert.equal(code, 0, second.output.join("\n"));
      assert.deepEqual(processesMentioning(dataDir), [], "no process of the agent outlives it");
    } finally {
      await plane.stop();
    }
  },
});

Deno.test({
  name: "skiff agent --server URL --token K10… joins with a join token and stores the node credential it gets for it",
  ...requireTools(["containerd", "containerd-shim-runc-v2", "ctr", "runc", "nsenter", "ip"], { root: true }),
  fn: async () => {
    await using tmp = await createTempDir({ prefix: "skiff-agent-join-" });
    await using lab = await createLab({ nodes: 1 });
    const host = lab.nodes[0]!;
    const plane = await startControlPlane({
      dataDir: tmp.join("plane"),
      port: 0,
      bind: lab.gateway,
      tlsSans: [lab.gateway],
      controllers: true,
      log: () => {},
    });
    const admin = new ApiClient({ server: plane.url, transport: plane.handler.as(SYSTEM_USER) });
    try {
      const nodeName = uniqueName("agent-join").toLowerCase();
      const { joinToken, id } = await createJoinToken(admin, {
        caHash: plane.pki.caHash,
        ttlMs: 3_600_000,
        now: Date.now(),
      });
      const dataDir = tmp.join("agent");
      const agent = spawnAgent(host, [
        "--server",
        plane.url,
        "--token",
        joinToken,
        "--node-name",
        nodeName,
        "--data-dir",
        dataDir,
      ]);
      let code: number;
      try {
        await agent.ready;
        const node = await admin.kind<Node>("v1", "Node").get(nodeName);
        assert.equal(node.status?.conditions?.find((c) => c.type === "Ready")?.status, "True");
      } finally {
        code = await agent.stop();
      }
      assert.equal(code, 0, agent.output.join("\n"));
      assert.ok(
        agent.output.some((line) =>
          line.startsWith(`Joined the cluster at ${plane.url} as node "${nodeName}" with join token "${id}"`)
        ),
        agent.output.join("\n"),
      );
      const stored = await loadCredentials(dataDir);
      assert.equal(stored?.caPem, plane.pki.caPem);
      assert.equal((await plane.tokens.verify(stored!.token))?.nodeName, nodeName, "a node token of this name");
      assert.equal((await Deno.stat(credentialsPath(dataDir))).mode! & 0o777, 0o600);
      assert.deepEqual(processesMentioning(dataDir), [], "no process of the agent outlives it");
    } finally {
      await plane.stop();
    }
  },
});
