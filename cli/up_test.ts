import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Node } from "@skiff/api";
import { ApiClient } from "@skiff/client";
import {
  createLab,
  createTempDir,
  findProgram,
  type LabNode,
  processesMentioning,
  requireTools,
  uniqueName,
} from "../test/support/mod.ts";

const MAIN = fileURLToPath(new URL("./main.ts", import.meta.url));
const ROOT = fileURLToPath(new URL("..", import.meta.url));

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

Deno.test({
  name: "skiff up --no-install with runc missing from PATH prints the preflight table and refuses with the fix",
  ...requireTools(["containerd", "nft", "ip", "df"], { root: true }),
  fn: async () => {
    await using tmp = await createTempDir({ prefix: "skiff-up-preflight-" });
    const bin = tmp.join("bin");
    await Deno.mkdir(bin);
    for (const name of ["containerd", "ctr", "containerd-shim-runc-v2", "nft", "ip", "df", "mkfs.ext4", "losetup"]) {
      const found = findProgram(name);
      if (found) await Deno.symlink(found, join(bin, name));
    }
    const dataDir = tmp.join("data");
    const result = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", MAIN, "up", "--no-install", "--data-dir", dataDir, "--port", "0", "--bind", "127.0.0.1"],
      cwd: ROOT,
      env: { PATH: bin },
      stdin: "null",
    }).output();
    const stdout = new TextDecoder().decode(result.stdout);
    const stderr = new TextDecoder().decode(result.stderr);
    assert.equal(result.code, 1, `${stdout}\n${stderr}`);
    assert.match(stdout, /^Preflight:\n {2}CHECK +STATUS +DETAIL\n/);
    assert.match(stdout, /\n {2}runc +missing +"runc" not found on PATH \(starts containers\)\n/);
    assert.match(stdout, /\n {2}containerd +ok +/);
    assert.match(stderr, /runc: apt-get install -y runc \(or run skiff up without --no-install\)/);
    assert.doesNotMatch(stdout, /apt-get update|Installing/, "nothing is installed with --no-install");
    await assert.rejects(Deno.stat(join(dataDir, "admin.kubeconfig")), Deno.errors.NotFound, "no cluster was started");
  },
});

const needs = requireTools(["containerd", "containerd-shim-runc-v2", "ctr", "runc", "unshare", "nsenter", "hostname"], {
  root: true,
});

/**
 * Runs `skiff up` on `dataDir` with `nodeName` as its hostname, in the lab
 * host `host`'s network namespace, until it prints the join command (its
 * last step), then calls `check` and stops it with SIGTERM; returns what it
 * printed.
 */
async function runUpUntilReady(
  dataDir: string,
  nodeName: string,
  host: LabNode,
  check: (client: ApiClient, output: string[]) => Promise<void>,
): Promise<string[]> {
  // A UTS namespace of its own gives the up process its own hostname, hence its own node name, so this test
  // never meets another agent's node; a lab host's network namespace keeps the pod bridge, routes and nft table
  // that the local agent leaves in place (by design) off this machine's own network.
  const child = new Deno.Command("unshare", {
    args: [
      "--uts",
      "nsenter",
      `--net=/run/netns/${host.netns}`,
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
      host.address,
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
        if (/^Join other machines as nodes/.test(line)) ready.resolve();
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
    await using lab = await createLab({ nodes: 1 });
    const host = lab.nodes[0]!;
    const nodeName = uniqueName("up-e2e").toLowerCase();
    let uid: string | undefined;
    await runUpUntilReady(tmp.path, nodeName, host, async (client, output) => {
      const node = await client.kind<Node>("v1", "Node").get(nodeName);
      const ready = node.status?.conditions?.find((c) => c.type === "Ready");
      assert.equal(ready?.status, "True", `${JSON.stringify(ready)}\n${output.join("\n")}`);
      assert.equal(node.metadata.labels?.["node-role.kubernetes.io/control-plane"], "");
      assert.match(node.spec?.podCIDR ?? "", /^10\.42\.\d+\.0\/24$/);
      assert.match(node.status?.nodeInfo?.containerRuntimeVersion ?? "", /^containerd:\/\//);
      uid = node.metadata.uid;
      const text = output.join("\n");
      assert.match(text, /^Preflight:\n {2}CHECK +STATUS +DETAIL\n/);
      assert.match(text, /\n {2}memory cgroup +ok +/);
      const order = [
        /^containerd (is up|: using)/,
        /^Skiff API server is up/,
        /^Volumes: local\.csi\.skiff\.dev serves /,
      ];
      const at = order.map((pattern) => output.findIndex((line) => pattern.test(line)));
      assert.ok(
        at.every((i, n) => i >= 0 && (n === 0 || i > at[n - 1]!)),
        `containerd, API, plugin in order:\n${text}`,
      );
      assert.ok(
        output.some((line) => /^agent: Volume provisioner: provisions local\.csi\.skiff\.dev volumes/.test(line)),
        text,
      );
      assert.equal(
        node.metadata.labels?.["csi.skiff.dev/local.csi.skiff.dev"],
        "true",
        "the provisioner labelled the node",
      );
    });
    assert.deepEqual(processesMentioning(tmp.path), [], "no process of this cluster outlives skiff up");

    await runUpUntilReady(tmp.path, nodeName, host, async (client, output) => {
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
