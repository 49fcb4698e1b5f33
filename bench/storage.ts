/**
 * Storage benchmark (needs root, containerd, runc, busybox, and loop
 * devices for the ext4-image part), end to end on one machine: an
 * in-process control plane (scheduler, PersistentVolume controller), a
 * private containerd with the offline busybox image, the node's pod
 * manager and volume provisioner, and a real csi-local plugin:
 *
 * - volume ready for a pod: from creating a claim (default class `local`,
 *   WaitForFirstConsumer) and a pod using it, to the volume mounted at the
 *   pod's volume path on the node — scheduler selects the node, the
 *   PersistentVolume controller hands the claim to the node's provisioner,
 *   CSI CreateVolume, the PersistentVolume, binding, the pod bound, the
 *   pod manager's CSI NodePublishVolume — and to the pod Running; and the
 *   plugin's own CreateVolume and NodePublishVolume calls alone;
 * - sequential write and read throughput (busybox `dd`, 1 MiB blocks,
 *   O_DIRECT, fsync) inside the container on the volume versus the same
 *   disk from the host, rounds taken in turn; for directory volumes and for
 *   size-enforced ext4-image volumes (loop-mounted; their loop devices
 *   cache in the host page cache, so in-pod O_DIRECT figures there are not
 *   disk figures, and the JSON line says so).
 *
 * The pods use the host network (no CNI sandbox): the network is not what
 * is measured. Control plane, agent and plugin share this process (in
 * production they are three, talking HTTPS and gRPC).
 *
 * `deno task bench storage [--quick]` (`--quick`: fewer pods, smaller files, fewer rounds)
 *
 * @module
 */

import { join } from "node:path";
import type { KubeObject, Lease, Node, PersistentVolume, Pod } from "@skiff/api";
import { ApiClient, EventRecorder } from "@skiff/client";
import { releaseCsiLocalMounts, runCsiLocal } from "@skiff/csi-local";
import { newToken, startControlPlane, SYSTEM_USER } from "../control-plane/mod.ts";
import { CniPodNetwork, ContainerdRuntime, CsiClient, discoverPlugins, microTime } from "../node-agent/mod.ts";
import { PodManager } from "../node-agent/pods/mod.ts";
import { VolumeProvisioner } from "../node-agent/provisioner/mod.ts";
import { buildBusyboxImage } from "../test/fixtures/build_busybox.ts";
import { startContainerd } from "../test/support/mod.ts";
import { percentile, quick, report } from "./_report.ts";

const BENCH = "storage";
const MIB = 1024 * 1024;
const SAMPLES = quick ? 3 : 10;
const FILE_MIB = quick ? 64 : 256;
const ROUNDS = quick ? 2 : 3;

/** Why ext4-image figures in the pod can beat the host's. */
const LOOP_NOTE =
  "the loop device is not in direct-I/O mode: in-pod O_DIRECT goes through the host page cache of the " +
  "image file, so in-pod figures can beat the host's";

const elapsed = (from: number) => performance.now() - from;

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** The mount point of a pod's volume `name` on this machine, if it is mounted. */
async function mountOf(podUid: string, name: string): Promise<string | undefined> {
  const suffix = `/${podUid}/volumes/local.csi.skiff.dev/${name}`;
  const table = await Deno.readTextFile("/proc/self/mountinfo");
  for (const line of table.split("\n")) {
    const point = line.split(" ")[4];
    if (point?.endsWith(suffix)) return point;
  }
  return undefined;
}

/**
 * The shell commands of one write-then-read round in `dir` (`round` may be
 * a shell variable). Each `dd` is bracketed by `touch`es of marker files,
 * whose modification times time it: busybox's `dd` prints no duration and
 * its `date` has no sub-second format, and the host reads both sides' marks
 * the same way.
 */
function ddRound(dir: string, round: number | string): string {
  const mark = (name: string) => `touch ${dir}/${name}.${round}`;
  return [
    mark("w0"),
    `dd if=/dev/zero of=${dir}/f bs=1M count=${FILE_MIB} oflag=direct conv=fsync 2>/dev/null`,
    mark("w1"),
    mark("r0"),
    `dd if=${dir}/f of=/dev/null bs=1M iflag=direct 2>/dev/null`,
    mark("r1"),
    `rm ${dir}/f`,
  ].join(" && ");
}

/** Bytes per second of the write and the read of round `round` in `dir`, from its marker files. */
async function roundRates(dir: string, round: number): Promise<{ write: number; read: number }> {
  const at = async (name: string) => (await Deno.stat(join(dir, `${name}.${round}`))).mtime!.getTime();
  const rate = async (phase: "w" | "r") => {
    const ms = Math.max(1, await at(`${phase}1`) - await at(`${phase}0`));
    return FILE_MIB * MIB / (ms / 1000);
  };
  return { write: await rate("w"), read: await rate("r") };
}

/** A container script that runs a round each time the host drops `go.<round>` into the volume. */
function containerScript(): string {
  return [
    "trap 'exit 0' TERM",
    "r=0",
    `while [ $r -lt ${ROUNDS} ]; do`,
    "  while [ ! -e /data/go.$r ]; do sleep 0.02; done",
    `  ${ddRound("/data", "$r")} && touch /data/done.$r`,
    "  r=$((r+1))",
    "done",
    "sleep 3600 & wait",
  ].join("\n");
}

if (import.meta.main) {
  if (Deno.uid() !== 0) {
    console.error("bench storage needs root: it mounts volumes and runs containers");
    Deno.exit(2);
  }
  const image = await buildBusyboxImage();
  const log = (line: string) => console.error(`[${BENCH}] ${line}`);
  // Everything started is stopped again, in reverse order, however the run ends.
  await using cleanup = new AsyncDisposableStack();
  const dir = await Deno.makeTempDir({ prefix: "skiff-bench-storage-" });
  cleanup.defer(() => Deno.remove(dir, { recursive: true }).catch((error) => log(`cannot remove ${dir}: ${error}`)));
  const agentDir = join(dir, "agent");
  const csiData = join(agentDir, "csi-local");
  cleanup.defer(async () => {
    await releaseCsiLocalMounts(csiData, { targetRoots: [dir] });
  });
  const nodeName = `bench-storage-${crypto.randomUUID().slice(0, 6)}`;
  const containerd = await startContainerd();
  cleanup.defer(() => containerd.stop());
  const plane = await startControlPlane({
    dataDir: join(dir, "plane"),
    port: 0,
    bind: "127.0.0.1",
    controllers: true,
    log: () => {},
  });
  cleanup.defer(() => plane.stop());
  const admin = new ApiClient({ server: "https://in-process", transport: plane.handler.as(SYSTEM_USER) });
  const { token, secret } = await newToken({ role: "node", nodeName });
  await admin.kind("v1", "Secret").create(secret as KubeObject);
  const client = new ApiClient({ server: plane.url, token, transport: (req) => plane.handler(req) });
  const endpoint = `unix://${join(agentDir, "plugins", "csi-local", "csi.sock")}`;
  let plugin = await runCsiLocal({ endpoint, dataDir: csiData, nodeId: nodeName, log: () => {} });
  cleanup.defer(() => plugin.stop());
  const discovered = (await discoverPlugins(join(agentDir, "plugins"))).plugins;
  cleanup.defer(() => {
    for (const found of discovered) found.client.close();
  });
  const recorder = new EventRecorder(client, { component: "skiff-agent", host: nodeName });
  const runtime = new ContainerdRuntime({
    stateDir: join(agentDir, "runtime"),
    address: containerd.address,
    namespace: containerd.namespace,
    onError: (error) => log(`runtime: ${error.message}`),
  });
  cleanup.defer(() => runtime.close());
  const provisioner = new VolumeProvisioner({ client, nodeName, plugins: discovered, recorder, log });
  cleanup.defer(() => provisioner.stop());
  const pods = new PodManager({
    client,
    nodeName,
    runtime,
    network: new CniPodNetwork({
      nodeName,
      podCidr: "10.199.250.0/24",
      stateDir: join(agentDir, "network"),
      ipMasq: false,
    }),
    dataDir: agentDir,
    hostIP: "127.0.0.1",
    recorder,
    log,
  });
  cleanup.defer(async () => {
    await pods.stop().catch((error) => log(`stopping pods: ${error.message}`));
    await recorder.flush();
  });
  const leases = client.kind<Lease>("coordination.k8s.io/v1", "Lease");
  const renew = () =>
    leases.patch(nodeName, { spec: { renewTime: microTime(Date.now()) } }, { namespace: "kube-node-lease" })
      .catch((error) => log(`lease: ${error.message}`));
  const podClient = admin.kind<Pod>("v1", "Pod");
  const claims = admin.kind("v1", "PersistentVolumeClaim");
  cleanup.defer(async () => {
    // Pods left by a failure: let the pod manager stop their containers and unpublish their volumes.
    await podClient.deleteCollection({ namespace: "default", gracePeriodSeconds: 0 }).catch(() => {});
    await until("the pods' containers to go", async () => {
      const table = await Deno.readTextFile("/proc/self/mountinfo");
      return !table.includes(join(agentDir, "runtime")) && !table.includes(join(agentDir, "pods"));
    }, 30_000).catch((error) => log(`${error.message}; unmounting what is left`));
  });

  const claimAndPod = async (name: string, storage: string, command: string) => {
    await claims.create({
      apiVersion: "v1",
      kind: "PersistentVolumeClaim",
      metadata: { name, namespace: "default" },
      spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage } } },
    });
    return await podClient.create({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name, namespace: "default" },
      spec: {
        hostNetwork: true,
        terminationGracePeriodSeconds: 5,
        containers: [{
          name: "app",
          image: "busybox",
          imagePullPolicy: "IfNotPresent",
          command: ["sh", "-c", command],
          volumeMounts: [{ name: "data", mountPath: "/data" }],
        }],
        volumes: [{ name: "data", persistentVolumeClaim: { claimName: name } }],
      },
    });
  };
  const running = (name: string) =>
    until(`pod ${name} Running`, async () => {
      const pod = await podClient.get(name, { namespace: "default" });
      return pod.status?.phase === "Running" && pod.status.containerStatuses?.[0]?.state?.running && pod;
    });
  const removeAll = async (names: string[]) => {
    for (const name of names) {
      await podClient.delete(name, { namespace: "default" }).catch(() => {});
      await claims.delete(name, { namespace: "default" }).catch(() => {});
    }
    await until("every volume to be deleted", async () => {
      const volumes = await admin.kind<PersistentVolume>("v1", "PersistentVolume").list();
      return volumes.items.length === 0;
    });
  };

  await containerd.ctr(["images", "import", image.path]);
  await admin.kind<Node>("v1", "Node").create({
    apiVersion: "v1",
    kind: "Node",
    metadata: { name: nodeName, labels: { "kubernetes.io/hostname": nodeName } },
    status: {
      capacity: { cpu: "2", memory: "4Gi", pods: "110" },
      conditions: [{ type: "Ready", status: "True", lastHeartbeatTime: new Date().toISOString() }],
    },
  });
  await leases.create({
    apiVersion: "coordination.k8s.io/v1",
    kind: "Lease",
    metadata: { name: nodeName, namespace: "kube-node-lease" },
    spec: { holderIdentity: nodeName, leaseDurationSeconds: 40, renewTime: microTime(Date.now()) },
  } as Lease);
  const heartbeat = setInterval(renew, 10_000);
  cleanup.defer(() => clearInterval(heartbeat));
  await provisioner.start();
  await pods.start();

  // The CSI calls alone.
  const csi = new CsiClient(endpoint);
  const creates: number[] = [];
  const publishes: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    let start = performance.now();
    const created = await csi.createVolume({
      name: `bench-${i}`,
      capacityRange: { requiredBytes: 16 * MIB },
      volumeCapabilities: [{ mount: {}, accessMode: { mode: "SINGLE_NODE_WRITER" } }],
    });
    creates.push(elapsed(start));
    const volumeId = created.volume!.volumeId!;
    const targetPath = join(dir, "targets", String(i));
    start = performance.now();
    await csi.nodePublishVolume({
      volumeId,
      targetPath,
      volumeCapability: { mount: {}, accessMode: { mode: "SINGLE_NODE_WRITER" } },
    });
    publishes.push(elapsed(start));
    await csi.nodeUnpublishVolume({ volumeId, targetPath });
    await csi.deleteVolume({ volumeId });
  }
  csi.close();
  report({
    bench: BENCH,
    metric: "csi_create_volume_p50",
    value: percentile(creates, 50),
    unit: "ms",
    samples: SAMPLES,
    kind: "directory",
  });
  report({
    bench: BENCH,
    metric: "csi_node_publish_p50",
    value: percentile(publishes, 50),
    unit: "ms",
    samples: SAMPLES,
    kind: "directory",
  });

  // Volume ready for a pod, end to end.
  const ready: number[] = [];
  const provisioned: number[] = [];
  const started: number[] = [];
  const names: string[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const name = `ready-${i}`;
    names.push(name);
    const start = performance.now();
    const pod = await claimAndPod(name, "16Mi", "trap 'exit 0' TERM; sleep 3600 & wait");
    await until(`claim ${name} Bound`, async () => {
      const claim = await claims.get(name, { namespace: "default" });
      return (claim.status as { phase?: string } | undefined)?.phase === "Bound";
    });
    provisioned.push(elapsed(start));
    await until(`the volume of ${name} mounted`, () => mountOf(pod.metadata.uid!, "data"));
    ready.push(elapsed(start));
    await running(name);
    started.push(elapsed(start));
  }
  for (
    const [metric, samples] of [["claim_bound", provisioned], ["volume_ready", ready], [
      "pod_running",
      started,
    ]] as const
  ) {
    report({ bench: BENCH, metric: `${metric}_p50`, value: percentile(samples, 50), unit: "ms", samples: SAMPLES });
    report({ bench: BENCH, metric: `${metric}_p95`, value: percentile(samples, 95), unit: "ms", samples: SAMPLES });
  }
  await removeAll(names);

  // Throughput in a container on the volume versus the host, rounds in turn.
  const kinds: ("directory" | "ext4-image")[] = ["directory"];
  if (await Deno.stat("/dev/loop-control").then(() => true, () => false)) kinds.push("ext4-image");
  else log("no /dev/loop-control: ext4-image volumes are not measured");
  const hostDir = join(dir, "host-io");
  await Deno.mkdir(hostDir, { recursive: true });
  for (const kind of kinds) {
    if (kind === "ext4-image") {
      await plugin.stop();
      plugin = await runCsiLocal({ endpoint, dataDir: csiData, nodeId: nodeName, enforceSize: true, log: () => {} });
      // The provisioner's connection backs off while the socket was gone: let it reconnect first.
      for (const found of discovered) await found.client.waitForReady(10_000);
    }
    const name = `io-${kind.replace("ext4-image", "ext4")}`;
    const pod = await claimAndPod(name, `${2 * FILE_MIB + 64}Mi`, containerScript());
    await running(name);
    const volume = await until(`the volume of ${name} mounted`, () => mountOf(pod.metadata.uid!, "data"));
    const rates = {
      write: { host: [] as number[], pod: [] as number[] },
      read: { host: [] as number[], pod: [] as number[] },
    };
    for (let round = 0; round < ROUNDS; round++) {
      const host = await new Deno.Command("busybox", { args: ["sh", "-c", ddRound(hostDir, round)] }).output();
      if (!host.success) throw new Error(`Host dd failed: ${new TextDecoder().decode(host.stderr)}`);
      const onHost = await roundRates(hostDir, round);
      rates.write.host.push(onHost.write);
      rates.read.host.push(onHost.read);
      await Deno.writeTextFile(join(volume, `go.${round}`), "");
      await until(
        `round ${round} in the container`,
        () => Deno.stat(join(volume, `done.${round}`)).then(() => true, () => false),
        600_000,
      );
      const inPod = await roundRates(volume, round);
      rates.write.pod.push(inPod.write);
      rates.read.pod.push(inPod.read);
    }
    for (const direction of ["write", "read"] as const) {
      const pod = percentile(rates[direction].pod, 50) / MIB;
      const host = percentile(rates[direction].host, 50) / MIB;
      const details = {
        kind,
        fileMiB: FILE_MIB,
        rounds: ROUNDS,
        blockSize: "1MiB",
        io: "O_DIRECT",
        ...(kind === "ext4-image" ? { note: LOOP_NOTE } : {}),
      };
      const spread = (samples: number[]) => ({
        min: Number((Math.min(...samples) / MIB).toFixed(1)),
        max: Number((Math.max(...samples) / MIB).toFixed(1)),
      });
      report({
        bench: BENCH,
        metric: `${direction}_in_pod`,
        value: pod,
        unit: "MiB/s",
        ...spread(rates[direction].pod),
        ...details,
      });
      report({
        bench: BENCH,
        metric: `${direction}_on_host`,
        value: host,
        unit: "MiB/s",
        ...spread(rates[direction].host),
        ...details,
      });
      report({ bench: BENCH, metric: `${direction}_ratio`, value: pod / host, unit: "pod/host", ...details });
    }
    await removeAll([name]);
  }
}
