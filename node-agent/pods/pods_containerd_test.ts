/**
 * Pods on a real node: the pod agent (`_test_agent.ts`, a PodManager over
 * containerd and the CNI plugins) runs as its own process against a real
 * control plane, with a private containerd, the offline busybox image, and
 * a simulated node (a network namespace of a netns lab) holding the pod
 * bridge; the host routes the node's pod range to it, so pod addresses
 * answer from here as they do from a node.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { type Node, NotFoundError, type Pod, type PodSpec } from "@skiff/api";
import { ApiClient, writeKubeconfig } from "@skiff/client";
import { newToken, startControlPlane, SYSTEM_USER } from "../../control-plane/mod.ts";
import { buildBusyboxImage } from "../../test/fixtures/build_busybox.ts";
import { createLab, createTempDir, requireTools, startContainerd } from "../../test/support/mod.ts";
import { run } from "../_exec.ts";
import { CniPodNetwork } from "../network/mod.ts";
import type { TestAgentConfig } from "./_test_agent.ts";

const needs = requireTools(
  [
    "containerd",
    "ctr",
    "runc",
    "ip",
    "iptables",
    "mount",
    "umount",
    "mkfifo",
    "tar",
    "busybox",
    "/usr/lib/cni/bridge",
    "/usr/lib/cni/host-local",
    "/usr/lib/cni/loopback",
    "/usr/lib/cni/portmap",
  ],
  { root: true },
);

/** Unique per run: an agent left by a crashed run must not collect this run's namespaces. */
const NODE = `pods-it-${crypto.randomUUID().slice(0, 6)}`;

async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined | false>,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** A /24 of 10.199.0.0/16 that no route on the host touches. */
async function freePodCidr(): Promise<string> {
  const routes = (await run(["ip", "-4", "route", "show"])).stdout;
  for (;;) {
    const n = 1 + Math.floor(Math.random() * 250);
    if (!routes.includes(`10.199.${n}.`)) return `10.199.${n}.0/24`;
  }
}

class Agent {
  #child: Deno.ChildProcess | undefined;
  #logFile: string;
  #config: TestAgentConfig;

  constructor(config: TestAgentConfig, logFile: string) {
    this.#config = config;
    this.#logFile = logFile;
  }

  async start(): Promise<void> {
    const log = await Deno.open(this.#logFile, { append: true, create: true, write: true });
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", new URL("./_test_agent.ts", import.meta.url).pathname, JSON.stringify(this.#config)],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#child = child;
    child.stderr.pipeTo(log.writable).catch(() => {});
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let out = "";
    const deadline = Date.now() + 60_000;
    let pending = reader.read();
    while (!out.includes("started")) {
      const timeout = new Promise<"timeout">((resolve) => setTimeout(() => resolve("timeout"), 1000));
      const chunk = await Promise.race([pending, timeout]);
      if (chunk === "timeout") {
        if (Date.now() > deadline) throw new Error(`The agent did not start:\n${await this.logTail()}`);
        continue;
      }
      if (chunk.done) throw new Error(`The agent exited while starting:\n${await this.logTail()}`);
      out += chunk.value;
      pending = reader.read();
    }
    pending.catch(() => {});
    await reader.cancel().catch(() => {});
  }

  /** Ends the agent with `signal` and waits for it to exit. */
  async stop(signal: Deno.Signal): Promise<void> {
    const child = this.#child;
    if (!child) return;
    this.#child = undefined;
    try {
      child.kill(signal);
    } catch {
      // It has exited already.
    }
    await child.status;
    await child.stdin.close().catch(() => {});
  }

  async logTail(): Promise<string> {
    const text = await Deno.readTextFile(this.#logFile).catch(() => "");
    return text.split("\n").slice(-40).join("\n");
  }
}

Deno.test({
  name: "Pods on containerd and CNI: serve HTTP, crash-loop, OOM, probes, survive an agent SIGKILL, go away on delete",
  ...needs,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async (t) => {
    const image = await buildBusyboxImage();
    await using tmp = await createTempDir({ prefix: "skiff-pods-it-" });
    await using containerd = await startContainerd();
    await using lab = await createLab({ nodes: 1 });
    const node = lab.nodes[0]!;
    const podCidr = await freePodCidr();
    const plane = await startControlPlane({ dataDir: tmp.join("plane"), port: 0, bind: "127.0.0.1", log: () => {} });
    const admin = new ApiClient({ server: "https://in-process", transport: plane.handler.as(SYSTEM_USER) });
    const pods = admin.kind<Pod>("v1", "Pod");
    const dataDir = tmp.join("agent");
    const config: TestAgentConfig = {
      kubeconfig: tmp.join("node.kubeconfig"),
      nodeName: NODE,
      hostIP: node.address,
      dataDir,
      containerdAddress: containerd.address,
      containerdNamespace: containerd.namespace,
      podCidr,
      hostNetns: node.netns,
    };
    const agent = new Agent(config, tmp.join("agent.log"));
    const get = async (name: string) => {
      try {
        return await pods.get(name, { namespace: "default" });
      } catch (error) {
        if (error instanceof NotFoundError) return undefined;
        throw error;
      }
    };
    const create = (name: string, spec: Partial<PodSpec>) =>
      pods.create({
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name, namespace: "default" },
        spec: { nodeName: NODE, containers: [], ...spec },
      });
    const container = (command: string, extra: Partial<PodSpec["containers"][number]> = {}) => ({
      name: "app",
      image: "busybox",
      imagePullPolicy: "IfNotPresent" as const,
      command: ["sh", "-c", command],
      ...extra,
    });
    const ready = (pod: Pod | undefined) =>
      pod?.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True");
    const runningTasks = async () => {
      const tasks = new Map<string, string>();
      for (const line of (await containerd.ctr(["tasks", "ls"])).stdout.split("\n").slice(1)) {
        const [id, pid, status] = line.trim().split(/\s+/);
        if (id && pid && status === "RUNNING") tasks.set(id, pid);
      }
      return tasks;
    };
    const fetchText = async (url: string) => {
      const response = await fetch(url, { signal: AbortSignal.timeout(3000) });
      return await response.text();
    };
    let routed = false;
    try {
      await containerd.ctr(["images", "import", image.path]);
      await run(["ip", "route", "add", podCidr, "via", node.address]);
      routed = true;
      await admin.kind<Node>("v1", "Node").create({
        apiVersion: "v1",
        kind: "Node",
        metadata: { name: NODE },
        spec: { podCIDR: podCidr },
        status: { capacity: { cpu: "2", memory: "4Gi", pods: "110" }, allocatable: { cpu: "2", memory: "4Gi" } },
      });
      const { token, secret } = await newToken({ role: "node", nodeName: NODE });
      await admin.kind("v1", "Secret").create(secret);
      await writeKubeconfig(config.kubeconfig, {
        server: plane.url,
        caPem: plane.pki.caPem,
        token,
        clusterName: "skiff",
        userName: NODE,
        contextName: "skiff",
      });
      await agent.start();

      // Started first: its back-off grows while the other steps run.
      await create("crash", { containers: [container("echo boom; exit 1")] });
      // When each run of the crashing container started (by its restart count, the end of its id), as the
      // agent reports it: unlike the moment this watcher sees a restart, it does not depend on the load.
      const runStarts = new Map<number, number>();
      const recordStart = (containerID: string | undefined, startedAt: string | undefined) => {
        const run = /_(\d+)$/.exec(containerID ?? "")?.[1];
        if (run !== undefined && startedAt) runStarts.set(Number(run), Date.parse(startedAt));
      };
      const waitingMessages = new Set<string>();
      let watching = true;
      const watcher = (async () => {
        while (watching) {
          const status = (await get("crash"))?.status?.containerStatuses?.[0];
          recordStart(status?.containerID, status?.state?.running?.startedAt);
          recordStart(status?.state?.terminated?.containerID, status?.state?.terminated?.startedAt);
          recordStart(status?.lastState?.terminated?.containerID, status?.lastState?.terminated?.startedAt);
          if (status?.state?.waiting?.reason === "CrashLoopBackOff") waitingMessages.add(status.state.waiting.message!);
          await new Promise((resolve) => setTimeout(resolve, 250));
        }
      })();

      let webIp = "";
      await t.step("a busybox httpd pod becomes Running and Ready and answers HTTP from the host", async () => {
        await create("web", {
          terminationGracePeriodSeconds: 3,
          containers: [
            container("mkdir -p /www && echo hello-from-pod > /www/index.html && exec httpd -f -p 8080 -h /www", {
              ports: [{ containerPort: 8080 }],
              readinessProbe: { httpGet: { path: "/index.html", port: 8080 }, periodSeconds: 1 },
            }),
          ],
        });
        const pod = await eventually("web to be Ready", async () => {
          const p = await get("web");
          return ready(p) && p;
        });
        webIp = pod.status!.podIP!;
        assert.ok(webIp.startsWith(podCidr.split(".").slice(0, 3).join(".")), webIp);
        assert.equal(pod.status?.phase, "Running");
        assert.equal(pod.status?.hostIP, node.address);
        assert.match(pod.status?.containerStatuses?.[0]?.containerID ?? "", /^containerd:\/\//);
        assert.equal(await fetchText(`http://${webIp}:8080/index.html`), "hello-from-pod\n");
      });

      await t.step("readiness gates Ready: Running but not Ready until the probe passes", async () => {
        await create("gate", {
          terminationGracePeriodSeconds: 2,
          containers: [container("sleep 5; touch /tmp/ready; exec sleep 3600", {
            readinessProbe: { exec: { command: ["test", "-f", "/tmp/ready"] }, periodSeconds: 1 },
          })],
        });
        const running = await eventually("gate Running", async () => {
          const p = await get("gate");
          return p?.status?.phase === "Running" && p;
        });
        assert.equal(ready(running), false);
        assert.equal(running.status?.containerStatuses?.[0]?.ready, false);
        await eventually("gate Ready", async () => ready(await get("gate")));
      });

      await t.step("a container over its memory limit is reported OOMKilled", async () => {
        await create("hog", {
          restartPolicy: "Never",
          containers: [container("dd if=/dev/zero of=/dev/null bs=64M count=1", {
            resources: { limits: { memory: "16Mi" } },
          })],
        });
        const pod = await eventually("hog to fail", async () => {
          const p = await get("hog");
          return p?.status?.phase === "Failed" && p;
        });
        const terminated = pod.status?.containerStatuses?.[0]?.state?.terminated;
        assert.deepEqual([terminated?.reason, terminated?.exitCode], ["OOMKilled", 137]);
      });

      await t.step("a failing liveness probe restarts the container", async () => {
        await create("live", {
          terminationGracePeriodSeconds: 2,
          containers: [container("touch /tmp/healthy; sleep 4; rm /tmp/healthy; exec sleep 3600", {
            livenessProbe: { exec: { command: ["test", "-f", "/tmp/healthy"] }, periodSeconds: 1, failureThreshold: 2 },
          })],
        });
        const pod = await eventually("live to restart", async () => {
          const p = await get("live");
          return (p?.status?.containerStatuses?.[0]?.restartCount ?? 0) >= 1 && p;
        });
        assert.ok(pod.status?.containerStatuses?.[0]?.lastState?.terminated);
        const events = (await admin.kind("v1", "Event").list({ namespace: "default" })).items
          .filter((e) => (e.involvedObject as { name?: string }).name === "live")
          .map((e) => `${e.reason} ${e.message}`);
        assert.ok(events.some((e) => e.startsWith("Unhealthy Liveness probe failed")), events.join("\n"));
        assert.ok(events.includes("Killing Container app failed liveness probe, will be restarted"), events.join("\n"));
      });

      await t.step("a crash-looping container shows CrashLoopBackOff with a growing back-off", async () => {
        await eventually("the third restart's start time", () => Promise.resolve(runStarts.has(3)), 90_000);
        watching = false;
        await watcher;
        const uid = (await get("crash"))!.metadata.uid;
        assert.ok(waitingMessages.has(`back-off 10s restarting failed container=app pod=crash_default(${uid})`));
        assert.ok(waitingMessages.has(`back-off 20s restarting failed container=app pod=crash_default(${uid})`));
        assert.ok(runStarts.has(1) && runStarts.has(2), `start times seen: ${[...runStarts.keys()].join(", ")}`);
        // A run starts after the back-off that followed the previous run's exit, so its start time (in whole
        // seconds) is at least the back-off less 1 s after the previous one's. On top of the back-off come the
        // PLEG's relist, containerd's create and start, and up to 2 s of rounding: a loaded machine makes that
        // seconds, hence the generous upper bounds, which only catch a back-off far longer than it says.
        const slackMs = 15_000;
        const second = runStarts.get(2)! - runStarts.get(1)!;
        const third = runStarts.get(3)! - runStarts.get(2)!;
        assert.ok(second >= 9_000 && second < 10_000 + slackMs, `second restart after ${second} ms`);
        assert.ok(third >= 19_000 && third < 20_000 + slackMs, `third restart after ${third} ms`);
        const pod = await get("crash");
        assert.equal(pod?.status?.phase, "Running");
        assert.equal(pod?.status?.containerStatuses?.[0]?.lastState?.terminated?.exitCode, 1);
        await pods.delete("crash", { namespace: "default" });
      });

      await t.step("the agent killed with SIGKILL and restarted leaves its containers running", async () => {
        const before = await Promise.all(["web", "gate"].map(get));
        const ids = before.map((p) => p?.status?.containerStatuses?.[0]?.containerID);
        const counts = before.map((p) => p?.status?.containerStatuses?.[0]?.restartCount);
        const tasksBefore = await runningTasks();
        await agent.stop("SIGKILL");
        assert.equal(
          await fetchText(`http://${webIp}:8080/index.html`),
          "hello-from-pod\n",
          "serving while the agent is down",
        );
        await agent.start();
        await new Promise((resolve) => setTimeout(resolve, 8000));
        const after = await Promise.all(["web", "gate"].map(get));
        assert.deepEqual(after.map((p) => p?.status?.containerStatuses?.[0]?.containerID), ids);
        assert.deepEqual(after.map((p) => p?.status?.containerStatuses?.[0]?.restartCount), counts);
        assert.ok(after.every(ready), "still Ready");
        const tasksAfter = await runningTasks();
        for (const id of ids) {
          const task = id!.replace("containerd://", "");
          assert.ok(tasksBefore.get(task), `task ${task} was running`);
          assert.equal(tasksAfter.get(task), tasksBefore.get(task), `task ${task} kept its process`);
        }
        assert.equal(await fetchText(`http://${webIp}:8080/index.html`), "hello-from-pod\n");
      });

      await t.step(
        "the agent restarted after a pod's network namespace was lost re-creates its containers in a new one",
        async () => {
          const before = (await get("web"))!;
          const netns = new CniPodNetwork({
            nodeName: NODE,
            podCidr,
            stateDir: join(dataDir, "network"),
            hostNetns: node.netns,
          }).netnsNameFor(before.metadata.uid!);
          await agent.stop("SIGKILL");
          // What an agent that replaced the namespace under running containers left behind: they still run
          // in the old namespace, which no longer has a name.
          await run(["ip", "netns", "del", netns]);
          await agent.start();
          const pod = await eventually("web re-created in a new sandbox and Ready", async () => {
            const p = await get("web");
            return p?.status?.containerStatuses?.[0]?.restartCount === 1 && ready(p) && p;
          });
          webIp = pod.status!.podIP!;
          assert.equal(
            await fetchText(`http://${webIp}:8080/index.html`),
            "hello-from-pod\n",
            "answers on its address",
          );
          const id = pod.status!.containerStatuses![0]!.containerID!.replace("containerd://", "");
          const pid = (await runningTasks()).get(id);
          assert.ok(pid, "the new container runs");
          assert.equal(
            (await Deno.stat(`/proc/${pid}/ns/net`)).ino,
            (await Deno.stat(`/run/netns/${netns}`)).ino,
            "the container runs in the pod's named network namespace",
          );
          const events = (await admin.kind("v1", "Event").list({ namespace: "default" })).items
            .filter((e) => (e.involvedObject as { name?: string }).name === "web")
            .map((e) => `${e.reason} ${e.message}`);
          assert.ok(
            events.includes("SandboxChanged Pod sandbox changed, it will be killed and re-created."),
            events.join("\n"),
          );
        },
      );

      await t.step(
        "a deleted pod's container, network namespace and address are gone within its grace period",
        async () => {
          const pod = (await get("web"))!;
          const id = pod.status!.containerStatuses![0]!.containerID!.replace("containerd://", "");
          const network = new CniPodNetwork({
            nodeName: NODE,
            podCidr,
            stateDir: join(dataDir, "network"),
            hostNetns: node.netns,
          });
          const netns = network.netnsNameFor(pod.metadata.uid!);
          assert.ok((await run(["ip", "netns", "list"])).stdout.includes(netns));
          const started = Date.now();
          await pods.delete("web", { namespace: "default" });
          await eventually("web's container, namespace and address to go", async () => {
            const containers = (await containerd.ctr(["containers", "ls", "-q"])).stdout;
            const namespaces = (await run(["ip", "netns", "list"])).stdout;
            const address = await Deno.stat(join(dataDir, "network", "ipam", "skiff", webIp)).then(
              () => true,
              () => false,
            );
            return !containers.includes(id) && !namespaces.includes(netns) && !address;
          }, 20_000);
          const took = Date.now() - started;
          assert.ok(took < 3_000 + 7_000, `gone after ${took} ms (grace period 3 s)`);
          await eventually("web gone from the API", async () => (await get("web")) === undefined);
          await assert.rejects(fetchText(`http://${webIp}:8080/index.html`));
        },
      );
    } finally {
      for (const pod of (await pods.list({ namespace: "default" })).items) {
        await pods.delete(pod.metadata.name!, { namespace: "default", gracePeriodSeconds: 0 }).catch(() => {});
      }
      await eventually(
        "the agent to remove every container",
        async () => (await containerd.ctr(["containers", "ls", "-q"])).stdout.trim() === "",
        30_000,
      ).catch(async (error) => console.error(`${error.message}\n${await agent.logTail()}`));
      await agent.stop("SIGTERM");
      await new CniPodNetwork({ nodeName: NODE, podCidr, stateDir: join(dataDir, "network"), hostNetns: node.netns })
        .gc([])
        .catch(() => {});
      await containerd.stop();
      if (routed) await run(["ip", "route", "del", podCidr], { check: false });
      await plane.stop();
    }
  },
});
