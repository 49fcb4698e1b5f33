/**
 * Storage end to end: a real control plane (controllers and scheduler), a
 * real agent running pods on a private containerd, and csi-local with size
 * enforcement on serving where the agent discovers it; the agent's volume
 * provisioner makes each claim's volume on the node the pod was scheduled
 * to. Independent cases run at once on that one node; the drain case runs
 * last, since it cordons the node.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  type Event,
  type KubeObject,
  type Node,
  NotFoundError,
  type PersistentVolume,
  type PersistentVolumeClaim,
  type Pod,
  type StorageClass,
} from "@skiff/api";
import { ApiClient } from "@skiff/client";
import { newToken, startControlPlane, SYSTEM_USER } from "@skiff/control-plane";
import { type CsiLocalHandle, DRIVER_NAME, releaseCsiLocalMounts, runCsiLocal } from "@skiff/csi-local";
import { type Agent, CniPodNetwork, ContainerdRuntime, runAgent } from "@skiff/node-agent";
import { buildBusyboxImage } from "../fixtures/build_busybox.ts";
import { createLab, createTempDir, eventually, requireTools, startContainerd, uniqueName } from "../support/mod.ts";

const MAIN = fileURLToPath(new URL("../../cli/main.ts", import.meta.url));
const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const MIB = 1024 * 1024;
const NS = "default";

const needs = requireTools(
  ["containerd", "containerd-shim-runc-v2", "ctr", "runc", "mount", "umount", "ip", "mkfs.ext4", "losetup", "truncate"],
  { root: true },
);

/** What every case uses. */
interface Cluster {
  admin: ApiClient;
  nodeName: string;
  /** csi-local's data directory: `volumes/<id>.img`, `mounts/<id>/`. */
  csiDir: string;
}

const pods = (c: Cluster) => c.admin.kind<Pod>("v1", "Pod");
const claims = (c: Cluster) => c.admin.kind<PersistentVolumeClaim>("v1", "PersistentVolumeClaim");
const volumes = (c: Cluster) => c.admin.kind<PersistentVolume>("v1", "PersistentVolume");

/** A hostNetwork busybox pod running `script` with each claim mounted at `/<volume name>`. */
function podObject(name: string, script: string, mounts: Record<string, string>): Pod {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: NS },
    spec: {
      hostNetwork: true,
      restartPolicy: "Never",
      terminationGracePeriodSeconds: 1,
      containers: [{
        name: "c",
        image: "busybox",
        imagePullPolicy: "IfNotPresent",
        command: ["sh", "-c", script],
        volumeMounts: Object.keys(mounts).map((volume) => ({ name: volume, mountPath: `/${volume}` })),
      }],
      volumes: Object.entries(mounts).map(([volume, claimName]) => ({
        name: volume,
        persistentVolumeClaim: { claimName },
      })),
    },
  };
}

function claimObject(name: string, options: { storage?: string; storageClassName?: string } = {}) {
  return {
    apiVersion: "v1" as const,
    kind: "PersistentVolumeClaim" as const,
    metadata: { name, namespace: NS },
    spec: {
      accessModes: ["ReadWriteOnce" as const],
      resources: { requests: { storage: options.storage ?? "16Mi" } },
      ...(options.storageClassName ? { storageClassName: options.storageClassName } : {}),
    },
  };
}

/** Events about an object, oldest first, as one text. */
async function eventsOf(c: Cluster, kind: string, name: string): Promise<string> {
  const list = await c.admin.kind<Event>("v1", "Event").list({ namespace: NS });
  return list.items
    .filter((e) => e.involvedObject?.kind === kind && e.involvedObject?.name === name)
    .map((e) => `${e.type} ${e.reason}: ${e.message}`)
    .join("\n");
}

/** Waits for a pod to end Succeeded; a Failed pod fails at once, with its status and events. */
async function succeeded(c: Cluster, name: string): Promise<Pod> {
  let failed: Pod | undefined;
  const pod = await eventually(`pod ${name} Succeeded`, async () => {
    const pod = await pods(c).get(name, { namespace: NS });
    if (pod.status?.phase === "Failed") failed = pod;
    return pod.status?.phase === "Succeeded" || failed ? pod : undefined;
  }, { timeoutMs: 60_000 });
  if (failed) {
    assert.fail(`pod ${name} failed: ${JSON.stringify(failed.status)}\n${await eventsOf(c, "Pod", name)}`);
  }
  return pod;
}

async function running(c: Cluster, name: string, notUid?: string): Promise<Pod> {
  return await eventually(`pod ${name} Running`, async () => {
    const pod = await pods(c).get(name, { namespace: NS });
    return pod.status?.phase === "Running" && pod.metadata.uid !== notUid ? pod : undefined;
  }, { timeoutMs: 60_000 }).catch(async (error) => {
    throw new Error(`${error.message}\n${await eventsOf(c, "Pod", name)}`);
  });
}

/** Deletes a pod and waits until the agent stopped it and it is gone. */
async function deletePod(c: Cluster, name: string): Promise<void> {
  await pods(c).delete(name, { namespace: NS }).catch((error) => {
    if (!(error instanceof NotFoundError)) throw error;
  });
  await eventually(`pod ${name} gone`, async () => {
    try {
      await pods(c).get(name, { namespace: NS });
      return false;
    } catch (error) {
      if (error instanceof NotFoundError) return true;
      throw error;
    }
  }, { timeoutMs: 60_000 });
}

/** The bound volume of a claim. */
async function boundVolume(c: Cluster, claim: string): Promise<PersistentVolume> {
  const name = await eventually(`claim ${claim} Bound`, async () => {
    const found = await claims(c).get(claim, { namespace: NS });
    return found.status?.phase === "Bound" ? found.spec?.volumeName : undefined;
  });
  return await volumes(c).get(name);
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

// ------------------------------------------------------------------ cases

/** A pod writes to its claim, is deleted, and a new pod finds the data. */
async function dataOutlivesPods(c: Cluster): Promise<void> {
  await claims(c).create(claimObject("keep-me"));
  await pods(c).create(podObject("writer", "echo persisted-42 > /data/msg", { data: "keep-me" }));
  const writer = await succeeded(c, "writer");
  assert.equal(writer.spec?.nodeName, c.nodeName);
  const volume = await boundVolume(c, "keep-me");
  assert.equal(volume.spec?.csi?.driver, DRIVER_NAME);
  assert.deepEqual(volume.spec?.nodeAffinity?.required?.nodeSelectorTerms?.[0]?.matchExpressions?.at(-1)?.values, [
    c.nodeName,
  ]);
  await deletePod(c, "writer");
  await pods(c).create(
    podObject("reader", 'test "$(cat /data/msg)" = persisted-42 || { echo "found: $(cat /data/msg)"; exit 1; }', {
      data: "keep-me",
    }),
  );
  await succeeded(c, "reader");
  await deletePod(c, "reader");
}

/** A 3-replica StatefulSet gets 3 volumes; a recreated replica keeps its name and its volume. */
async function statefulSetVolumes(c: Cluster): Promise<void> {
  await c.admin.kind("apps/v1", "StatefulSet").create({
    apiVersion: "apps/v1",
    kind: "StatefulSet",
    metadata: { name: "web", namespace: NS },
    spec: {
      serviceName: "web",
      replicas: 3,
      podManagementPolicy: "Parallel",
      selector: { matchLabels: { app: "web" } },
      template: {
        metadata: { labels: { app: "web" } },
        spec: {
          hostNetwork: true,
          terminationGracePeriodSeconds: 1,
          containers: [{
            name: "c",
            image: "busybox",
            imagePullPolicy: "IfNotPresent",
            env: [{ name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } }],
            command: ["sh", "-c", '[ -f /data/name ] || echo "$POD_NAME" > /data/name; exec sleep 3600'],
            volumeMounts: [{ name: "data", mountPath: "/data" }],
          }],
        },
      },
      volumeClaimTemplates: [claimObject("data")],
    },
  } as KubeObject);
  const names = ["web-0", "web-1", "web-2"];
  const first = await Promise.all(names.map((name) => running(c, name)));
  const bound = await Promise.all(names.map((name) => boundVolume(c, `data-${name}`)));
  assert.equal(new Set(bound.map((v) => v.metadata.name)).size, 3, "three volumes, one per replica");
  assert.equal(new Set(bound.map((v) => v.spec?.csi?.volumeHandle)).size, 3);
  // While published, each volume's image is mounted at <csi>/mounts/<id>: what each replica wrote is there.
  for (const [i, volume] of bound.entries()) {
    const written = await Deno.readTextFile(join(c.csiDir, "mounts", volume.spec!.csi!.volumeHandle, "name"));
    assert.equal(written, `${names[i]}\n`);
  }
  // The controller makes web-1 again at once, under the same name: wait for the new one.
  await pods(c).delete("web-1", { namespace: NS });
  const again = await running(c, "web-1", first[1]!.metadata.uid);
  assert.equal(again.spec?.volumes?.find((v) => v.name === "data")?.persistentVolumeClaim?.claimName, "data-web-1");
  assert.equal((await boundVolume(c, "data-web-1")).metadata.name, bound[1]!.metadata.name, "the same volume");
  const kept = await Deno.readTextFile(join(c.csiDir, "mounts", bound[1]!.spec!.csi!.volumeHandle, "name"));
  assert.equal(kept, "web-1\n");
}

/** A full volume gives ENOSPC inside the container; its image outside does not grow. */
async function fullVolume(c: Cluster): Promise<void> {
  await claims(c).create(claimObject("small", { storage: "16Mi" }));
  // The file's size inside is reported in the termination message: once the pod ends, the volume is unpublished.
  const script = "dd if=/dev/zero of=/data/fill bs=1M count=64 2>/tmp/err; " +
    'grep -q "No space left on device" /tmp/err || { echo "dd did not hit ENOSPC:"; cat /tmp/err; exit 1; }; ' +
    "stat -c %s /data/fill > /dev/termination-log";
  await pods(c).create(podObject("filler", script, { data: "small" }));
  const done = await succeeded(c, "filler");
  const volume = await boundVolume(c, "small");
  const id = volume.spec!.csi!.volumeHandle;
  const image = await Deno.stat(join(c.csiDir, "volumes", `${id}.img`));
  assert.equal(image.size, 16 * MIB, "the image keeps its requested size");
  assert.ok((image.blocks ?? 0) * 512 <= 16 * MIB, `the image allocates at most 16 MiB, got ${image.blocks} blocks`);
  const message = done.status?.containerStatuses?.[0]?.state?.terminated?.message ?? "";
  const fill = Number(message.trim());
  assert.ok(message.trim() !== "" && fill > 0, `the pod reported the file's size: "${message}"`);
  assert.ok(fill < 16 * MIB, `the file inside stopped below the volume's size, at ${fill} bytes`);
  await deletePod(c, "filler");
  assert.equal((await Deno.stat(join(c.csiDir, "volumes", `${id}.img`))).size, 16 * MIB);
}

/** Deleting a claim of reclaim policy Delete removes its data; of Retain keeps it. */
async function reclaimPolicies(c: Cluster): Promise<void> {
  await c.admin.kind<StorageClass>("storage.k8s.io/v1", "StorageClass").create({
    apiVersion: "storage.k8s.io/v1",
    kind: "StorageClass",
    metadata: { name: "local-retain" },
    provisioner: DRIVER_NAME,
    reclaimPolicy: "Retain",
    volumeBindingMode: "WaitForFirstConsumer",
  });
  await claims(c).create(claimObject("scratch"));
  await claims(c).create(claimObject("precious", { storageClassName: "local-retain" }));
  await pods(c).create(
    podObject("two-claims", "echo a > /scratch/f && echo b > /precious/f", {
      scratch: "scratch",
      precious: "precious",
    }),
  );
  await succeeded(c, "two-claims");
  const scratch = await boundVolume(c, "scratch");
  const precious = await boundVolume(c, "precious");
  assert.equal(scratch.spec?.persistentVolumeReclaimPolicy, "Delete");
  assert.equal(precious.spec?.persistentVolumeReclaimPolicy, "Retain");
  const image = (volume: PersistentVolume) => join(c.csiDir, "volumes", `${volume.spec!.csi!.volumeHandle}.img`);
  assert.ok(await exists(image(scratch)) && await exists(image(precious)));
  await deletePod(c, "two-claims");
  await claims(c).delete("scratch", { namespace: NS });
  await claims(c).delete("precious", { namespace: NS });

  await eventually("the Delete volume and its data gone", async () => {
    try {
      await volumes(c).get(scratch.metadata.name!);
      return false;
    } catch (error) {
      if (!(error instanceof NotFoundError)) throw error;
      return !await exists(image(scratch)) &&
        !await exists(join(c.csiDir, "volumes", `${scratch.spec!.csi!.volumeHandle}.json`));
    }
  });
  const released = await eventually("the Retain volume Released", async () => {
    const volume = await volumes(c).get(precious.metadata.name!);
    return volume.status?.phase === "Released" ? volume : undefined;
  });
  assert.equal(released.spec?.persistentVolumeReclaimPolicy, "Retain");
  assert.ok(await exists(image(precious)), "the retained volume's data stays on the node");
}

/**
 * Draining the node: the StatefulSet's replicas come back Pending, with an
 * event saying their local volumes keep them on the cordoned node.
 */
async function drainKeepsLocalVolumesPending(c: Cluster, kubeconfig: string): Promise<void> {
  // Another Ready node, where the pods could go were their volumes not local to the drained one.
  const now = new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
  const spare = `${c.nodeName}-spare`;
  await c.admin.kind<Node>("v1", "Node").create({
    apiVersion: "v1",
    kind: "Node",
    metadata: { name: spare, labels: { "kubernetes.io/hostname": spare } },
    status: {
      capacity: { cpu: "4", memory: "8Gi", pods: "110" },
      allocatable: { cpu: "4", memory: "8Gi", pods: "110" },
      conditions: [{ type: "Ready", status: "True", lastHeartbeatTime: now, lastTransitionTime: now }],
    },
  });
  const before = await pods(c).get("web-0", { namespace: NS });
  const drain = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "drain", c.nodeName, "--pod-selector", "app=web", "--kubeconfig", kubeconfig],
    cwd: ROOT,
    stdin: "null",
  }).output();
  const decoder = new TextDecoder();
  assert.equal(drain.code, 0, `${decoder.decode(drain.stdout)}\n${decoder.decode(drain.stderr)}`);
  const pending = await eventually("web-0 recreated and Pending with a FailedScheduling event", async () => {
    const pod = await pods(c).get("web-0", { namespace: NS });
    if (pod.metadata.uid === before.metadata.uid || pod.status?.phase !== "Pending") return undefined;
    const events = await eventsOf(c, "Pod", "web-0");
    return /FailedScheduling/.test(events) ? { pod, events } : undefined;
  });
  assert.equal(pending.pod.spec?.nodeName, undefined, "not bound anywhere");
  assert.match(pending.events, /Warning FailedScheduling: 0\/2 nodes are available: .*volume node affinity conflict/);
  assert.match(pending.events, /node\(s\) were unschedulable/);
}

Deno.test({
  name: "Storage on a real node: data outlives pods, StatefulSet volumes, ENOSPC, reclaim policies, drain",
  ...needs,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const image = await buildBusyboxImage();
    await using tmp = await createTempDir({ prefix: "skiff-storage-" });
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
    const nodeName = uniqueName("storage").toLowerCase();
    const dataDir = tmp.join("agent");
    const csiDir = tmp.join("csi");
    const cluster: Cluster = { admin, nodeName, csiDir };
    const agentLog: string[] = [];
    let plugin: CsiLocalHandle | undefined;
    let agent: Agent | undefined;
    try {
      // The plugin first, where the agent discovers plugins, so its provisioner finds it at start.
      plugin = await runCsiLocal({
        endpoint: `unix://${join(dataDir, "plugins", "csi-local", "csi.sock")}`,
        dataDir: csiDir,
        nodeId: nodeName,
        enforceSize: true,
        log: (line) => agentLog.push(line),
      });
      const node = await newToken({ role: "node", nodeName, description: "storage e2e" });
      await admin.kind("v1", "Secret").create(node.secret as KubeObject);
      agent = await runAgent({
        server: plane.url,
        token: node.token,
        caPem: plane.pki.caPem,
        nodeName,
        dataDir,
        runtime: new ContainerdRuntime({
          stateDir: join(dataDir, "runtime"),
          address: containerd.address,
          namespace: containerd.namespace,
          onError: () => {},
        }),
        nodeIp: "127.0.0.1",
        port: 0,
        bindAddress: "127.0.0.1",
        clusterNetwork: false,
        network: (podCidr) =>
          new CniPodNetwork({ nodeName, podCidr, stateDir: join(dataDir, "network"), hostNetns: lab.nodes[0]!.netns }),
        log: (line) => agentLog.push(line),
      });
      assert.ok(
        agentLog.some((line) => line.startsWith(`Volume provisioner: provisions ${DRIVER_NAME} volumes`)),
        agentLog.join("\n"),
      );

      const results = await Promise.allSettled([
        dataOutlivesPods(cluster),
        statefulSetVolumes(cluster),
        fullVolume(cluster),
        reclaimPolicies(cluster),
      ]);
      const failures = results.flatMap((r, i) =>
        r.status === "rejected"
          ? [`${["data outlives pods", "StatefulSet", "full volume", "reclaim"][i]}: ${r.reason?.stack ?? r.reason}`]
          : []
      );
      assert.deepEqual(failures, [], `${failures.join("\n\n")}\n\nagent:\n${agentLog.slice(-40).join("\n")}`);
      if (results[1]!.status === "fulfilled") await drainKeepsLocalVolumesPending(cluster, plane.kubeconfigPath);
    } finally {
      // Pods first, so the agent unpublishes their volumes; then everything else, mounts and loop devices last.
      await admin.kind("apps/v1", "StatefulSet").delete("web", { namespace: NS }).catch(() => {});
      const left = await pods(cluster).list({ namespace: NS }).catch(() => ({ items: [] as Pod[] }));
      await Promise.allSettled(left.items.map((pod) => deletePod(cluster, pod.metadata.name!)));
      await agent?.stop();
      await plugin?.stop();
      await plane.stop();
      await containerd.stop();
      await releaseCsiLocalMounts(csiDir, { targetRoots: [join(dataDir, "pods")] });
    }
    const loops = new TextDecoder().decode((await new Deno.Command("losetup", { args: ["-l", "-n"] }).output()).stdout);
    assert.doesNotMatch(loops, new RegExp(tmp.path), "no loop device outlives the test");
    const mounts = await Deno.readTextFile("/proc/self/mountinfo");
    assert.doesNotMatch(mounts, new RegExp(tmp.path), "no mount outlives the test");
  },
});
