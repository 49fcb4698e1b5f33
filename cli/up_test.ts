import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Node } from "@skiff/api";
import { ApiClient } from "@skiff/client";
import { createTempDir, requireTools, uniqueName } from "../test/support/mod.ts";
import { localAgentProblem } from "./up_run.ts";

const MAIN = fileURLToPath(new URL("./main.ts", import.meta.url));
const ROOT = fileURLToPath(new URL("..", import.meta.url));

Deno.test("localAgentProblem() says in one line why the local agent cannot start, or nothing", () => {
  assert.equal(localAgentProblem({ uid: 0, findProgram: () => true }), undefined);
  assert.match(localAgentProblem({ uid: 1000, findProgram: () => true })!, /must run as root.*sudo deno task up/);
  assert.match(
    localAgentProblem({ uid: 0, findProgram: (name) => name !== "runc" })!,
    /^runc is not installed; install with `apt-get install containerd runc`, or pass --no-agent$/,
  );
  assert.match(localAgentProblem({ uid: 0, findProgram: () => false })!, /^containerd and runc are not installed/);
});

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** Pids of processes whose command line mentions `text`. */
function processesMentioning(text: string): string[] {
  const found: string[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name) || entry.name === String(Deno.pid)) continue;
    try {
      const cmdline = Deno.readTextFileSync(`/proc/${entry.name}/cmdline`).replaceAll("\0", " ");
      if (cmdline.includes(text)) found.push(`${entry.name}: ${cmdline.trim()}`);
    } catch {
      // The process ended meanwhile.
    }
  }
  return found;
}

const needs = requireTools(["containerd", "containerd-shim-runc-v2", "ctr", "runc", "unshare", "hostname"], {
  root: true,
});

/**
 * Runs `skiff up` on `dataDir` with `nodeName` as its hostname until its local agent says the node is Ready, then
 * calls `check` and stops it with SIGTERM; returns what it printed.
 */
async function runUpUntilReady(
  dataDir: string,
  nodeName: string,
  check: (client: ApiClient, output: string[]) => Promise<void>,
): Promise<string[]> {
  // A UTS namespace of its own gives the up process its own hostname, hence its own node name, so this test
  // never meets another agent's network namespaces or node.
  const child = new Deno.Command("unshare", {
    args: [
      "--uts",
      "sh",
      "-c",
      `hostname "${nodeName}" && exec "$0" "$@"`,
      Deno.execPath(),
      "run",
      "-A",
      MAIN,
      "up",
      "--data-dir",
      dataDir,
      "--port",
      String(freePort()),
      "--bind",
      "127.0.0.1",
    ],
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
        if (/^agent: Node ".*" is Ready/.test(line)) ready.resolve();
        if (/^Local agent (could not start|not started)/.test(line)) {
          ready.reject(new Error("the local agent did not start"));
        }
      }
    }
  };
  const reading = Promise.all([collect(child.stdout), collect(child.stderr)]);
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    ready.reject(new Error(`skiff up exited with code ${s.code}`));
    return s;
  });
  const timer = setTimeout(() => ready.reject(new Error("skiff up did not report the node Ready within 90 s")), 90_000);
  try {
    await ready.promise.catch((error) => {
      throw new Error(`${error.message}; output:\n${output.join("\n")}`);
    });
    const { client } = await ApiClient.fromKubeconfig({ kubeconfig: join(dataDir, "admin.kubeconfig") });
    try {
      await check(client, output);
    } finally {
      client.close();
    }
  } finally {
    clearTimeout(timer);
    if (!exited) child.kill("SIGTERM");
    const { code } = await status;
    await reading;
    assert.equal(code, 0, `skiff up exited with code ${code}; output:\n${output.join("\n")}`);
  }
  assert.ok(output.some((line) => line.startsWith("Shutting down")), output.join("\n"));
  return output;
}

Deno.test({
  name: "skiff up starts a local agent whose node turns Ready, reuses its node token on restart, and leaves no process",
  ...needs,
  fn: async () => {
    await using tmp = await createTempDir({ prefix: "skiff-up-" });
    const nodeName = uniqueName("up-e2e").toLowerCase();
    let uid: string | undefined;
    await runUpUntilReady(tmp.path, nodeName, async (client, output) => {
      const node = await client.kind<Node>("v1", "Node").get(nodeName);
      const ready = node.status?.conditions?.find((c) => c.type === "Ready");
      assert.equal(ready?.status, "True", `${JSON.stringify(ready)}\n${output.join("\n")}`);
      assert.equal(node.metadata.labels?.["node-role.kubernetes.io/control-plane"], "");
      assert.match(node.spec?.podCIDR ?? "", /^10\.42\.\d+\.0\/24$/);
      assert.match(node.status?.nodeInfo?.containerRuntimeVersion ?? "", /^containerd:\/\//);
      uid = node.metadata.uid;
    });
    assert.deepEqual(processesMentioning(tmp.path), [], "no process of this cluster outlives skiff up");

    await runUpUntilReady(tmp.path, nodeName, async (client, output) => {
      assert.ok(output.some((line) => line.startsWith(`agent: Node "${nodeName}" was registered before`)));
      assert.equal((await client.kind<Node>("v1", "Node").get(nodeName)).metadata.uid, uid);
      const tokens = await client.kind("v1", "Secret").list({
        namespace: "kube-system",
        labelSelector: "skiff.dev/token-role=node",
      });
      assert.equal(tokens.items.length, 1, "the node token of the first start is reused");
    });
    assert.deepEqual(processesMentioning(tmp.path), [], "no process of this cluster outlives skiff up");
  },
});
