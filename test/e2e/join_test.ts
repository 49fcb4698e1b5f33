/**
 * Joining end to end (issue 9): `skiff up` runs in one network host of a
 * lab (control plane and local agent), and a second machine, an agent in
 * its own network namespace, joins that cluster with the join token `up`
 * printed (`skiff agent --server URL --token K10…`, no CA file: the token
 * pins the CA), turns Ready and runs a pod that answers over the pod
 * network.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Node, Pod } from "@skiff/api";
import { ApiClient } from "@skiff/client";
import { buildBusyboxImage } from "../fixtures/build_busybox.ts";
import { createLab, createTempDir, eventually, requireTools, startContainerd, uniqueName } from "../support/mod.ts";
import { MULTI_NODE_TOOL_HINTS, MULTI_NODE_TOOLS, removePodNamespaces, spawnLabAgent } from "../support/multi_node.ts";
import { BUSYBOX } from "./_multi_node_workloads.ts";

const MAIN = fileURLToPath(new URL("../../cli/main.ts", import.meta.url));
const ROOT = fileURLToPath(new URL("../..", import.meta.url));

const needs = requireTools(MULTI_NODE_TOOLS, { root: true, hints: MULTI_NODE_TOOL_HINTS });

/** `skiff up` running in a lab node's network namespace, in a process group of its own. */
function startUp(netns: string, args: string[]) {
  const child = new Deno.Command("setsid", {
    args: ["nsenter", `--net=/run/netns/${netns}`, Deno.execPath(), "run", "-A", MAIN, "up", ...args],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  let output = "";
  let exited = false;
  const reading = Promise.all([child.stdout, child.stderr].map(async (stream) => {
    for await (const text of stream.pipeThrough(new TextDecoderStream())) output += text;
  }));
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });
  return {
    output: () => output,
    get exited() {
      return exited;
    },
    /** SIGTERM to the group (a graceful stop), SIGKILL after 15 s. */
    async stop() {
      const signal = (name: Deno.Signal) => {
        try {
          Deno.kill(-child.pid, name);
        } catch {
          // Gone already.
        }
      };
      if (!exited) signal("SIGTERM");
      const timer = setTimeout(() => signal("SIGKILL"), 15_000);
      await status;
      clearTimeout(timer);
      await reading;
    },
  };
}

Deno.test({
  name: "skiff agent with a join token joins the cluster of skiff up from another network host and runs a pod",
  ...needs,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    await using tmp = await createTempDir({ prefix: "skiff-join-" });
    const image = await buildBusyboxImage();
    await using containerd = await startContainerd({ dir: tmp.join("ctd") });
    await using lab = await createLab({ nodes: 2 });
    const [server, machine] = lab.nodes;
    const nodeName = uniqueName("join").toLowerCase();
    const containerdNamespace = `skiff-${nodeName}`;
    await containerd.ctr(["images", "import", image.path], { namespace: containerdNamespace });

    const up = startUp(server!.netns, ["--data-dir", tmp.join("up"), "--port", "0", "--bind", server!.address]);
    const dataDir = tmp.join("machine");
    await Deno.mkdir(dataDir);
    let agent: ReturnType<typeof spawnLabAgent> | undefined;
    try {
      // What `up` prints for other machines: `skiff agent --server URL --token K10…`.
      const command = await eventually("skiff up printing the join command", () => {
        if (up.exited) throw new Error(`skiff up exited:\n${up.output()}`);
        return /skiff agent --server (\S+) --token (K10\S+)/.exec(up.output()) ?? undefined;
      }, { timeoutMs: 60_000 });
      const [, url, joinToken] = command;
      assert.equal(new URL(url!).hostname, server!.address);

      agent = spawnLabAgent({
        node: machine!,
        nodeName,
        dataDir,
        server: url!,
        token: joinToken!,
        containerdAddress: containerd.address,
        containerdNamespace,
      });
      await agent.ready();

      // The join token was exchanged for a node credential, which is what the agent keeps.
      const stored = JSON.parse(await Deno.readTextFile(join(dataDir, "agent", "credentials.json")));
      assert.equal(stored.nodeName, nodeName);
      assert.ok(!String(stored.token).startsWith("K10"), "the agent stored the join token, not a node token");
      assert.match(stored.caPem, /BEGIN CERTIFICATE/);

      // Act as the administrator with up's admin kubeconfig.
      const { client } = await ApiClient.fromKubeconfig({ kubeconfig: join(tmp.join("up"), "admin.kubeconfig") });
      const node = await eventually(`node "${nodeName}" Ready`, async () => {
        const node = await client.kind<Node>("v1", "Node").get(nodeName);
        return node.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ? node : undefined;
      }, { timeoutMs: 30_000 });
      assert.ok(node.status?.addresses?.some((a) => a.type === "InternalIP" && a.address === machine!.address));

      const pods = client.kind<Pod>("v1", "Pod");
      await pods.create({
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: "hello", namespace: "default" },
        spec: {
          nodeSelector: { "kubernetes.io/hostname": nodeName },
          terminationGracePeriodSeconds: 0,
          containers: [{
            name: "web",
            ...BUSYBOX,
            command: ["sh", "-c", "mkdir -p /www && echo joined > /www/index.html && exec httpd -f -p 8080 -h /www"],
          }],
        },
      });
      const running = await eventually("pod hello Running on the joined node", async () => {
        const pod = await pods.get("hello", { namespace: "default" });
        return pod.status?.phase === "Running" && pod.status.podIP ? pod : undefined;
      }, { timeoutMs: 90_000 });
      assert.equal(running.spec?.nodeName, nodeName);
      const answer = await eventually("the pod answering over HTTP", async () => {
        const got = await lab.exec(machine!, [
          "timeout",
          "5",
          "busybox",
          "wget",
          "-q",
          "-O",
          "-",
          `http://${running.status!.podIP}:8080/`,
        ], { check: false });
        return got.success ? got.stdout.trim() : undefined;
      }, { timeoutMs: 30_000 });
      assert.equal(answer, "joined");
      client.close();
    } catch (error) {
      console.error(`--- skiff up ---\n${up.output().split("\n").slice(-30).join("\n")}`);
      if (agent) console.error(`--- joining agent ---\n${agent.output().split("\n").slice(-30).join("\n")}`);
      throw error;
    } finally {
      await agent?.kill();
      await up.stop();
      await removePodNamespaces([nodeName]);
    }
  },
});
