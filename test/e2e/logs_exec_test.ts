/**
 * Logs and exec end to end: a real control plane, a real agent (`runAgent`
 * with containerd, runc and its HTTPS server on loopback) running a pod,
 * and the clients a person uses: `skiff logs -f`, `skiff exec`, and the
 * real kubectl (`logs`, `logs -f`, `exec`, `exec -i`), each through the API
 * server's `pods/log` and `pods/exec` proxy to the agent.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type KubeObject, type Node, type Pod } from "@skiff/api";
import { ApiClient } from "@skiff/client";
import { newToken, startControlPlane, SYSTEM_USER } from "@skiff/control-plane";
import { type Agent, CniPodNetwork, ContainerdRuntime, runAgent } from "@skiff/node-agent";
import { buildBusyboxImage } from "../fixtures/build_busybox.ts";
import { createLab, createTempDir, findKubectl, requireTools, startContainerd, uniqueName } from "../support/mod.ts";

const MAIN = fileURLToPath(new URL("../../cli/main.ts", import.meta.url));
const ROOT = fileURLToPath(new URL("../..", import.meta.url));

const needs = requireTools(
  ["containerd", "containerd-shim-runc-v2", "ctr", "runc", "mount", "umount", "ip", "script", "stty", "kubectl"],
  { root: true },
);

/** A command running in the background whose output is watched line by line. */
interface Watched {
  /** Everything it printed on standard output so far. */
  readonly stdout: () => string;
  /** Resolves once standard output matches `pattern` (rejects after `timeoutMs`). */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
  /** Stops it (SIGTERM) and waits for it. */
  stop(): Promise<void>;
}

function watch(cmd: string[], env: Record<string, string>): Watched {
  const child = new Deno.Command(cmd[0]!, {
    args: cmd.slice(1),
    env,
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let out = "";
  let err = "";
  const changed = new Set<() => void>();
  const read = async (stream: ReadableStream<Uint8Array>, into: (text: string) => void) => {
    for await (const text of stream.pipeThrough(new TextDecoderStream())) {
      into(text);
      for (const wake of changed) wake();
    }
  };
  const reading = Promise.all([read(child.stdout, (t) => out += t), read(child.stderr, (t) => err += t)]);
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    for (const wake of changed) wake();
    return s;
  });
  return {
    stdout: () => out,
    async waitFor(pattern, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      while (!pattern.test(out)) {
        if (exited) {
          throw new Error(`${cmd.join(" ")} ended before printing ${pattern}; stdout:\n${out}\nstderr:\n${err}`);
        }
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`${cmd.join(" ")} did not print ${pattern}; stdout:\n${out}\nstderr:\n${err}`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(wake, Math.min(left, 1000));
          function wake() {
            clearTimeout(timer);
            changed.delete(wake);
            resolve();
          }
          changed.add(wake);
        });
      }
    },
    async stop() {
      if (!exited) child.kill("SIGTERM");
      await status;
      await reading;
    },
  };
}

async function runCommand(
  cmd: string[],
  env: Record<string, string>,
  stdin?: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = new Deno.Command(cmd[0]!, {
    args: cmd.slice(1),
    env,
    cwd: ROOT,
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(stdin));
    await writer.close();
  }
  const out = await child.output();
  const decoder = new TextDecoder();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

Deno.test({
  name: "Logs and exec through the API server: skiff logs -f and exec, kubectl logs -f, exec and exec -i",
  ...needs,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async (t) => {
    const image = await buildBusyboxImage();
    const kubectl = await findKubectl();
    await using tmp = await createTempDir({ prefix: "skiff-logs-exec-" });
    await using containerd = await startContainerd();
    await using lab = await createLab({ nodes: 1 });
    await containerd.ctr(["images", "import", image.path]);
    const plane = await startControlPlane({
      dataDir: tmp.join("plane"),
      port: 0,
      bind: "127.0.0.1",
      controllers: true,
      log: () => {},
    });
    const admin = new ApiClient({ server: "https://in-process", transport: plane.handler.as(SYSTEM_USER) });
    const nodeName = uniqueName("logs-e2e").toLowerCase();
    const dataDir = tmp.join("agent");
    await Deno.mkdir(dataDir, { recursive: true });
    const runtime = new ContainerdRuntime({
      stateDir: join(dataDir, "runtime"),
      address: containerd.address,
      namespace: containerd.namespace,
      onError: () => {},
    });
    const agentLog: string[] = [];
    let agent: Agent | undefined;
    const env = { KUBECONFIG: plane.kubeconfigPath, HOME: tmp.path, PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin" };
    const skiff = (...args: string[]) => [Deno.execPath(), "run", "-A", MAIN, ...args];
    try {
      const node = await newToken({ role: "node", nodeName, description: "logs and exec e2e" });
      await admin.kind("v1", "Secret").create(node.secret as KubeObject);
      agent = await runAgent({
        server: plane.url,
        token: node.token,
        caPem: plane.pki.caPem,
        nodeName,
        dataDir,
        runtime,
        nodeIp: "127.0.0.1",
        port: 0,
        bindAddress: "127.0.0.1",
        network: (podCidr) =>
          new CniPodNetwork({
            nodeName,
            podCidr,
            stateDir: join(dataDir, "network"),
            hostNetns: lab.nodes[0]!.netns,
          }),
        // The agent runs in this machine's network namespace: keep its routes, nft table and DNS off it.
        clusterNetwork: false,
        log: (line) => agentLog.push(line),
      });
      assert.ok(
        agentLog.some((line) => /^Logs and exec: serving on https:\/\/127\.0\.0\.1:\d+ /.test(line)),
        agentLog.join("\n"),
      );
      const registered = await admin.kind<Node>("v1", "Node").get(nodeName);
      assert.notEqual(registered.status?.daemonEndpoints?.kubeletEndpoint?.Port, 10250, "the port picked, not 10250");

      const pods = admin.kind<Pod>("v1", "Pod");
      const podSpec = (name: string, containers: Pod["spec"] extends infer S ? S : never) => ({
        apiVersion: "v1" as const,
        kind: "Pod" as const,
        metadata: { name, namespace: "default" },
        spec: containers,
      });
      const ticker = "echo hello from skiff; i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.5; done";
      await pods.create(podSpec("web", {
        nodeName,
        hostNetwork: true,
        containers: [{ name: "app", image: "busybox", imagePullPolicy: "IfNotPresent", command: ["sh", "-c", ticker] }],
      }));
      await pods.create(podSpec("pair", {
        nodeName,
        hostNetwork: true,
        containers: [
          { name: "one", image: "busybox", imagePullPolicy: "IfNotPresent", command: ["sleep", "3600"] },
          { name: "two", image: "busybox", imagePullPolicy: "IfNotPresent", command: ["sleep", "3600"] },
        ],
      }));
      for (const name of ["web", "pair"]) {
        await eventually(`pod ${name} Running`, async () => {
          const pod = await pods.get(name, { namespace: "default" });
          return pod.status?.phase === "Running" ? pod : undefined;
        });
      }

      await t.step("skiff logs -f streams the container's output as it is written", async () => {
        const follow = watch(skiff("logs", "-f", "web"), env);
        try {
          await follow.waitFor(/hello from skiff\n/);
          const seen = Number(/tick (\d+)\n(?![\s\S]*tick)/.exec(follow.stdout())?.[1] ?? 0);
          await follow.waitFor(new RegExp(`tick ${seen + 2}\\n`));
        } finally {
          await follow.stop();
        }
      });

      await t.step("skiff exec pod -- echo ok prints ok", async () => {
        const result = await runCommand(skiff("exec", "web", "--", "echo", "ok"), env);
        assert.equal(result.stdout, "ok\n", result.stderr);
        assert.equal(result.code, 0);
      });

      await t.step("skiff exec passes the exit code of the command on", async () => {
        const result = await runCommand(skiff("exec", "web", "--", "sh", "-c", "echo oops >&2; exit 3"), env);
        assert.equal(result.code, 3);
        assert.match(result.stderr, /oops\n/);
      });

      await t.step("kubectl logs and logs --tail print what the container wrote", async () => {
        const all = await runCommand([kubectl, "logs", "web"], env);
        assert.equal(all.code, 0, all.stderr);
        assert.match(all.stdout, /^hello from skiff\ntick 1\ntick 2\n/);
        const tail = await runCommand([kubectl, "logs", "web", "--tail=1", "--timestamps"], env);
        assert.match(tail.stdout, /^\d{4}-\d\d-\d\dT[\d:.]+Z tick \d+\n$/);
        const previous = await runCommand([kubectl, "logs", "web", "--previous"], env);
        assert.notEqual(previous.code, 0);
        assert.match(previous.stderr, /previous terminated container "app" in pod "web" not found/);
      });

      await t.step("kubectl logs -f streams", async () => {
        const follow = watch([kubectl, "logs", "-f", "web", "--tail=1"], env);
        try {
          await follow.waitFor(/tick \d+\n/);
          const first = Number(/tick (\d+)/.exec(follow.stdout())![1]);
          await follow.waitFor(new RegExp(`tick ${first + 2}\\n`));
          assert.doesNotMatch(follow.stdout(), /hello from skiff/);
        } finally {
          await follow.stop();
        }
      });

      await t.step("kubectl exec pod -- echo ok prints ok; exit codes come back", async () => {
        const ok = await runCommand([kubectl, "exec", "web", "--", "echo", "ok"], env);
        assert.equal(ok.stdout, "ok\n", ok.stderr);
        assert.equal(ok.code, 0);
        const failed = await runCommand([kubectl, "exec", "web", "--", "sh", "-c", "exit 7"], env);
        assert.equal(failed.code, 7, failed.stderr);
        assert.match(failed.stderr, /command terminated with exit code 7/);
      });

      await t.step("kubectl exec -i passes standard input to the command", async () => {
        const result = await runCommand(
          [kubectl, "exec", "-i", "web", "--", "sh", "-c", "tr a-z A-Z"],
          env,
          "piped through\nthe container\n",
        );
        assert.equal(result.stdout, "PIPED THROUGH\nTHE CONTAINER\n", result.stderr);
        assert.equal(result.code, 0);
      });

      await t.step("kubectl exec -it gives the command a terminal of the client's size", async () => {
        // script gives kubectl a terminal (91 × 33), as a person's shell would; its input stays open, as a
        // person's keyboard does. ctr sizes the container's terminal just after the command starts: hence the sleep.
        const inner = `stty cols 91 rows 33; exec ${kubectl} exec -it web -- sh -c 'sleep 0.5; stty size; tty; exit 4'`;
        const child = new Deno.Command("script", {
          args: ["--quiet", "--return", "--command", inner, "/dev/null"],
          env,
          stdin: "piped",
          stdout: "piped",
          stderr: "piped",
        }).spawn();
        const result = await child.output();
        const stdout = new TextDecoder().decode(result.stdout);
        assert.equal(result.code, 4, stdout);
        assert.match(stdout, /^33 91\r\n\/dev\/pts\/\d+\r\n/);
      });

      await t.step(
        "kubectl logs -p of a crash-looping container prints its last run, as kubectl logs does",
        async () => {
          await pods.create(podSpec("crash", {
            nodeName,
            hostNetwork: true,
            containers: [{
              name: "app",
              image: "busybox",
              imagePullPolicy: "IfNotPresent",
              command: ["sh", "-c", "echo run $(cat /proc/sys/kernel/random/uuid); exit 1"],
            }],
          }));
          await eventually("the container waiting after its run", async () => {
            const status = (await pods.get("crash", { namespace: "default" })).status?.containerStatuses?.[0];
            return status?.state?.waiting && status.lastState?.terminated ? status : undefined;
          });
          const last = await runCommand([kubectl, "logs", "crash"], env);
          const previous = await runCommand([kubectl, "logs", "-p", "crash"], env);
          assert.match(last.stdout, /^(run [0-9a-f-]{36}\n)+$/, last.stderr);
          assert.equal(previous.stdout, last.stdout, previous.stderr);
        },
      );

      await t.step("requests the API server refuses are Kubernetes Status errors", async () => {
        const wrong = await runCommand([kubectl, "exec", "web", "-c", "nope", "--", "true"], env);
        assert.notEqual(wrong.code, 0);
        assert.match(wrong.stderr, /container nope is not valid for pod web/);
        await assert.rejects(
          admin.request("GET", "/api/v1/namespaces/default/pods/pair/log"),
          /a container name must be specified for pod pair, choose one of: \[one two\]/,
        );
        const two = await admin.request("GET", "/api/v1/namespaces/default/pods/pair/log", {
          query: { container: "two" },
          accept: "text/plain",
        });
        assert.equal(await two.text(), "");
      });

      await t.step("stopping the control plane ends a followed log at once", async () => {
        const follow = watch([kubectl, "logs", "-f", "web", "--tail=1"], env);
        try {
          await follow.waitFor(/tick \d+\n/);
          const started = Date.now();
          await plane.stop();
          assert.ok(Date.now() - started < 5_000, `the control plane took ${Date.now() - started} ms to stop`);
        } finally {
          await follow.stop();
        }
      });
    } finally {
      await agent?.stop();
      for (const pod of await runtime.listContainers()) {
        await runtime.stopContainer(pod.id, { gracePeriodSeconds: 0 }).catch(() => {});
        await runtime.removeContainer(pod.id).catch(() => {});
      }
      await runtime.close();
      await plane.stop();
    }
  },
});
