import assert from "node:assert/strict";
import { join } from "node:path";
import {
  type Event,
  type KubeObject,
  ManualClock,
  type Node,
  NotFoundError,
  type PersistentVolume,
  type PersistentVolumeClaim,
  type Pod,
  type StorageClass,
} from "@skiff/api";
import { ApiClient, EventRecorder } from "@skiff/client";
import { type CsiLocalHandle, releaseCsiLocalMounts, runCsiLocal } from "@skiff/csi-local";
import { type ControlPlane, newToken, startControlPlane, SYSTEM_USER } from "../../control-plane/mod.ts";
import { CsiVolumePlugin, type DiscoveredPlugin, discoverPlugins } from "../volume/mod.ts";
import { answer, serveCsi } from "../volume/_test_servers.ts";
import { VolumeProvisioner } from "./volume_provisioner.ts";

const NODE = "node-a";
const MIB = 1024 * 1024;

/** A control plane with its controllers and scheduler, node-a, a real csi-local on it, and its provisioner. */
interface Rig {
  root: string;
  plane: ControlPlane;
  admin: ApiClient;
  node: ApiClient;
  plugin: CsiLocalHandle;
  plugins: DiscoveredPlugin[];
  provisioner: VolumeProvisioner;
  logs: string[];
}

async function withRig(
  options: { maxVolumes?: number; before?: (rig: Omit<Rig, "provisioner">) => Promise<void> },
  test: (rig: Rig) => Promise<void>,
): Promise<void> {
  const root = await Deno.realPath(await Deno.makeTempDir({ prefix: "skiff-provisioner-" }));
  const plane = await startControlPlane({
    dataDir: join(root, "plane"),
    port: 0,
    bind: "127.0.0.1",
    controllers: true,
    log: () => {},
  });
  const admin = new ApiClient({ server: plane.url, transport: plane.handler.as(SYSTEM_USER) });
  let plugin: CsiLocalHandle | undefined;
  let plugins: DiscoveredPlugin[] = [];
  let provisioner: VolumeProvisioner | undefined;
  try {
    const now = new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
    await admin.kind<Node>("v1", "Node").create({
      apiVersion: "v1",
      kind: "Node",
      metadata: { name: NODE, labels: { "kubernetes.io/hostname": NODE } },
      status: {
        capacity: { cpu: "4", memory: "8Gi", pods: "110" },
        conditions: [{ type: "Ready", status: "True", lastHeartbeatTime: now, lastTransitionTime: now }],
      },
    });
    const { token, secret } = await newToken({ role: "node", nodeName: NODE });
    await admin.kind("v1", "Secret").create(secret as KubeObject);
    const node = new ApiClient({ server: plane.url, token, transport: (req) => plane.handler(req) });
    plugin = await runCsiLocal({
      endpoint: `unix://${join(root, "plugins", "csi-local", "csi.sock")}`,
      dataDir: join(root, "csi-data"),
      nodeId: NODE,
      log: () => {},
      ...(options.maxVolumes ? { maxVolumes: options.maxVolumes } : {}),
    });
    plugins = (await discoverPlugins(join(root, "plugins"))).plugins;
    const logs: string[] = [];
    await options.before?.({ root, plane, admin, node, plugin, plugins, logs });
    provisioner = new VolumeProvisioner({
      client: node,
      nodeName: NODE,
      plugins,
      recorder: new EventRecorder(node, { component: "skiff-agent", host: NODE }),
      clock: new ManualClock(Date.now()),
      log: (line) => logs.push(line),
    });
    await provisioner.start();
    await test({ root, plane, admin, node, plugin, plugins, provisioner, logs });
  } finally {
    await provisioner?.stop();
    for (const p of plugins) p.client.close();
    await plugin?.stop();
    await plane.stop();
    await releaseCsiLocalMounts(join(root, "csi-data"), { targetRoots: [join(root, "pods")] });
    await Deno.remove(root, { recursive: true });
  }
}

const grpcTest = (name: string, fn: () => Promise<void>) =>
  // grpc-js leaves a reconnect backoff timer behind a closed channel.
  Deno.test({ name, sanitizeOps: false, sanitizeResources: false, fn });

async function eventually<T>(what: string, probe: () => Promise<T | undefined | false>): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const pvcs = (client: ApiClient) => client.kind<PersistentVolumeClaim>("v1", "PersistentVolumeClaim");
const pvs = (client: ApiClient) => client.kind<PersistentVolume>("v1", "PersistentVolume");
const pods = (client: ApiClient) => client.kind<Pod>("v1", "Pod");

async function createClaim(
  client: ApiClient,
  name: string,
  options: { storageClassName?: string; annotations?: Record<string, string> } = {},
): Promise<PersistentVolumeClaim> {
  return await pvcs(client).create({
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: { name, namespace: "default", ...(options.annotations ? { annotations: options.annotations } : {}) },
    spec: {
      accessModes: ["ReadWriteOnce"],
      resources: { requests: { storage: "16Mi" } },
      ...(options.storageClassName ? { storageClassName: options.storageClassName } : {}),
    },
  });
}

/** Creates a pod using `claimName`, waits until the scheduler bound it, and reports it Running as the agent would. */
async function runPodWith(client: ApiClient, name: string, claimName: string): Promise<Pod> {
  await pods(client).create({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: "default" },
    spec: {
      containers: [{ name: "c", image: "busybox" }],
      volumes: [{ name: "data", persistentVolumeClaim: { claimName } }],
    },
  });
  await eventually(
    `pod ${name} bound`,
    async () => (await pods(client).get(name, { namespace: "default" })).spec?.nodeName,
  );
  return await pods(client).patch(name, { status: { phase: "Running" } }, {
    namespace: "default",
    subresource: "status",
  });
}

async function boundVolume(client: ApiClient, claimName: string): Promise<PersistentVolume> {
  const claim = await eventually(`claim ${claimName} Bound`, async () => {
    const c = await pvcs(client).get(claimName, { namespace: "default" }).catch((err) => {
      if (err instanceof NotFoundError) return undefined;
      throw err;
    });
    return c?.status?.phase === "Bound" && c;
  });
  return await pvs(client).get(claim.spec!.volumeName!);
}

async function events(client: ApiClient, name: string): Promise<Event[]> {
  return (await client.kind<Event>("v1", "Event").list({ namespace: "default" })).items
    .filter((e) => e.involvedObject.name === name);
}

async function exists(path: string): Promise<boolean> {
  return await Deno.lstat(path).then(() => true, () => false);
}

async function gone(what: string, read: () => Promise<unknown>): Promise<void> {
  await eventually(what, async () => {
    try {
      await read();
      return false;
    } catch (err) {
      if (err instanceof NotFoundError) return true;
      throw err;
    }
  });
}

grpcTest(
  "VolumeProvisioner labels its node and gives a claim selected for it a csi-local volume and a bound PV pinned to the node",
  () =>
    withRig({}, async ({ root, admin, plugins }) => {
      const node = await admin.kind<Node>("v1", "Node").get(NODE);
      assert.equal(node.metadata.labels?.["csi.skiff.dev/local.csi.skiff.dev"], "true");
      assert.equal(node.metadata.labels?.["topology.local.csi.skiff.dev/node"], NODE);
      assert.match(node.metadata.annotations?.["capacity.csi.skiff.dev/local.csi.skiff.dev"] ?? "", /^\d+$/);

      const claim = await createClaim(admin, "data");
      const pod = await runPodWith(admin, "db", "data");
      assert.equal(pod.spec?.nodeName, NODE);
      const pv = await boundVolume(admin, "data");
      assert.equal(pv.metadata.name, `pvc-${claim.metadata.uid}`);
      assert.equal(pv.metadata.annotations?.["pv.kubernetes.io/provisioned-by"], "local.csi.skiff.dev");
      assert.deepEqual(pv.metadata.finalizers?.sort(), [
        "external-provisioner.volume.kubernetes.io/finalizer",
        "kubernetes.io/pv-protection",
      ]);
      assert.equal(pv.spec?.persistentVolumeReclaimPolicy, "Delete");
      assert.equal(pv.spec?.storageClassName, "local");
      assert.deepEqual(pv.spec?.capacity, { storage: "16Mi" });
      assert.equal(pv.spec?.csi?.driver, "local.csi.skiff.dev");
      assert.deepEqual(pv.spec?.nodeAffinity?.required?.nodeSelectorTerms, [{
        matchExpressions: [
          { key: "topology.local.csi.skiff.dev/node", operator: "In", values: [NODE] },
          { key: "kubernetes.io/hostname", operator: "In", values: [NODE] },
        ],
      }]);
      assert.equal(pv.spec?.claimRef?.uid, claim.metadata.uid);
      assert.equal(pv.status?.phase, "Bound");
      const volumeId = pv.spec!.csi!.volumeHandle;
      assert.ok(await exists(join(root, "csi-data", "volumes", volumeId)));
      const reasons = await eventually("the provisioning events", async () => {
        const said = (await events(admin, "data")).map((e) => e.reason);
        return said.includes("ProvisioningSucceeded") && said;
      });
      assert.ok(reasons.includes("Provisioning"));

      const volumes = await CsiVolumePlugin.create(plugins[0]!.client, {
        podsDir: join(root, "pods"),
        stateDir: join(root, "state"),
      });
      const published = await volumes.publish({
        podUid: pod.metadata.uid!,
        volumeName: "data",
        volumeId,
        ...(pv.spec?.csi?.volumeAttributes ? { volumeContext: pv.spec.csi.volumeAttributes } : {}),
      });
      await Deno.writeTextFile(join(published.targetPath, "hello.txt"), "hi");
      assert.equal(await Deno.readTextFile(join(root, "csi-data", "volumes", volumeId, "hello.txt")), "hi");
      await volumes.unpublish({ podUid: pod.metadata.uid!, volumeName: "data", volumeId });
    }),
);

grpcTest(
  "VolumeProvisioner deletes the volume of a Delete claim once its pod is gone, and keeps a Retain claim's data",
  () =>
    withRig({}, async ({ root, admin }) => {
      await admin.kind<StorageClass>("storage.k8s.io/v1", "StorageClass").create({
        apiVersion: "storage.k8s.io/v1",
        kind: "StorageClass",
        metadata: { name: "keep" },
        provisioner: "local.csi.skiff.dev",
        reclaimPolicy: "Retain",
        volumeBindingMode: "WaitForFirstConsumer",
      });
      await createClaim(admin, "scratch");
      await createClaim(admin, "precious", { storageClassName: "keep" });
      const db = await runPodWith(admin, "db", "scratch");
      const vault = await runPodWith(admin, "vault", "precious");
      const scratch = await boundVolume(admin, "scratch");
      const precious = await boundVolume(admin, "precious");
      const scratchDir = join(root, "csi-data", "volumes", scratch.spec!.csi!.volumeHandle);
      const preciousDir = join(root, "csi-data", "volumes", precious.spec!.csi!.volumeHandle);
      await Deno.writeTextFile(join(preciousDir, "keep.txt"), "data");

      await pvcs(admin).delete("scratch", { namespace: "default" });
      await eventually("the claim's deletion to be held", async () => {
        const said = (await events(admin, "scratch")).map((e) => e.reason);
        return said.includes("ClaimInUse");
      });
      assert.ok((await pvcs(admin).get("scratch", { namespace: "default" })).metadata.deletionTimestamp);
      assert.equal((await pvs(admin).get(scratch.metadata.name!)).status?.phase, "Bound");
      assert.ok(await exists(scratchDir));

      await pods(admin).delete(db.metadata.name!, { namespace: "default", gracePeriodSeconds: 0 });
      await gone("the scratch claim", () => pvcs(admin).get("scratch", { namespace: "default" }));
      await gone("the scratch volume", () => pvs(admin).get(scratch.metadata.name!));
      assert.equal(await exists(scratchDir), false);

      await pods(admin).delete(vault.metadata.name!, { namespace: "default", gracePeriodSeconds: 0 });
      await pvcs(admin).delete("precious", { namespace: "default" });
      await gone("the precious claim", () => pvcs(admin).get("precious", { namespace: "default" }));
      await eventually(
        "the precious volume to be Released",
        async () => (await pvs(admin).get(precious.metadata.name!)).status?.phase === "Released",
      );
      assert.equal(await Deno.readTextFile(join(preciousDir, "keep.txt")), "data");
    }),
);

grpcTest(
  "VolumeProvisioner hands a claim that does not fit on its node back to the scheduler, saying why",
  () =>
    withRig({ maxVolumes: 1 }, async ({ admin, logs }) => {
      await createClaim(admin, "first");
      await runPodWith(admin, "one", "first");
      await boundVolume(admin, "first");
      await createClaim(admin, "second", { annotations: { "volume.kubernetes.io/selected-node": NODE } });
      const failed = await eventually("a ProvisioningFailed event", async () => {
        return (await events(admin, "second")).find((e) => e.reason === "ProvisioningFailed");
      });
      assert.match(
        failed.message ?? "",
        /^failed to provision volume with StorageClass "local": CSI CreateVolume to "unix:\/\/.*" failed with RESOURCE_EXHAUSTED: Cannot create volume "pvc-.*": this node already holds 1 volumes/,
      );
      await eventually("the selected node to be taken away", async () => {
        const claim = await pvcs(admin).get("second", { namespace: "default" });
        return claim.metadata.annotations?.["volume.kubernetes.io/selected-node"] === undefined;
      });
      // The log line comes after the PATCH resolves, so it may follow the annotation's removal a little.
      await eventually(
        "the hand-back to be logged",
        () => Promise.resolve(logs.some((line) => line.includes("handed back to the scheduler"))),
      );
    }),
);

grpcTest(
  "VolumeProvisioner picks up a volume created before a restart: CreateVolume by name gives the same volume",
  async () => {
    let earlier = "";
    let claimUid = "";
    await withRig({
      before: async ({ admin, plugins }) => {
        const claim = await createClaim(admin, "data", {
          annotations: { "volume.kubernetes.io/selected-node": NODE },
        });
        claimUid = claim.metadata.uid!;
        const created = await plugins[0]!.client.createVolume({
          name: `pvc-${claimUid}`,
          capacityRange: { requiredBytes: 16 * MIB },
          volumeCapabilities: [{ mount: {}, accessMode: { mode: "SINGLE_NODE_WRITER" } }],
        });
        earlier = created.volume!.volumeId!;
      },
    }, async ({ admin, plugins }) => {
      const pv = await boundVolume(admin, "data");
      assert.equal(pv.metadata.name, `pvc-${claimUid}`);
      assert.equal(pv.spec?.csi?.volumeHandle, earlier);
      const listed = await plugins[0]!.client.listVolumes();
      assert.equal(listed.entries?.length, 1);
    });
  },
);

grpcTest("VolumeProvisioner leaves out plugins that do not create volumes", async () => {
  const root = await Deno.realPath(await Deno.makeTempDir({ prefix: "skiff-provisioner-" }));
  const plane = await startControlPlane({ dataDir: join(root, "plane"), port: 0, bind: "127.0.0.1", log: () => {} });
  const admin = new ApiClient({ server: plane.url, transport: plane.handler.as(SYSTEM_USER) });
  const nodeOnly = await serveCsi(join(root, "plugins", "node-only", "csi.sock"), {
    Identity: {
      GetPluginInfo: answer({ name: "node-only.example.com", vendorVersion: "1" }),
      GetPluginCapabilities: answer({ capabilities: [] }),
      Probe: answer({}),
    },
    Node: { NodeGetInfo: answer({ nodeId: NODE }) },
  });
  const plugin = await runCsiLocal({
    endpoint: `unix://${join(root, "plugins", "csi-local", "csi.sock")}`,
    dataDir: join(root, "csi-data"),
    nodeId: NODE,
    log: () => {},
  });
  const { plugins } = await discoverPlugins(join(root, "plugins"));
  try {
    await admin.kind<Node>("v1", "Node").create({
      apiVersion: "v1",
      kind: "Node",
      metadata: { name: NODE, labels: { "csi.skiff.dev/gone.example.com": "true" } },
    });
    const logs: string[] = [];
    const provisioner = new VolumeProvisioner({
      client: admin,
      nodeName: NODE,
      plugins,
      recorder: new EventRecorder(admin, { component: "skiff-agent" }),
      clock: new ManualClock(Date.now()),
      log: (line) => logs.push(line),
    });
    await provisioner.start();
    assert.deepEqual(provisioner.drivers, ["local.csi.skiff.dev"]);
    assert.ok(logs.some((line) => line.includes(`"node-only.example.com" does not create volumes`)));
    const labels = (await admin.kind<Node>("v1", "Node").get(NODE)).metadata.labels ?? {};
    assert.deepEqual(Object.keys(labels).filter((k) => k.startsWith("csi.skiff.dev/")), [
      "csi.skiff.dev/local.csi.skiff.dev",
    ]);
    await provisioner.stop();
  } finally {
    for (const p of plugins) p.client.close();
    await plugin.stop();
    await nodeOnly.stop();
    await plane.stop();
    await Deno.remove(root, { recursive: true });
  }
});

grpcTest(
  "VolumeProvisioner gives each pod of a 3-replica StatefulSet its own volume, which a recreated pod gets back",
  () =>
    withRig({}, async ({ admin }) => {
      await admin.kind("apps/v1", "StatefulSet").create({
        apiVersion: "apps/v1",
        kind: "StatefulSet",
        metadata: { name: "web", namespace: "default" },
        spec: {
          replicas: 3,
          serviceName: "web",
          podManagementPolicy: "Parallel",
          selector: { matchLabels: { app: "web" } },
          template: {
            metadata: { labels: { app: "web" } },
            spec: { containers: [{ name: "c", image: "busybox" }] },
          },
          volumeClaimTemplates: [{
            metadata: { name: "data" },
            spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "16Mi" } } },
          }],
        },
      } as KubeObject);
      const volumes = new Map<string, string>();
      for (const ordinal of [0, 1, 2]) {
        const pv = await boundVolume(admin, `data-web-${ordinal}`);
        volumes.set(`web-${ordinal}`, pv.metadata.name!);
        const pod = await eventually(`pod web-${ordinal} bound`, async () => {
          const p = await pods(admin).get(`web-${ordinal}`, { namespace: "default" });
          return p.spec?.nodeName ? p : undefined;
        });
        assert.equal(
          pod.spec?.volumes?.find((v) => v.name === "data")?.persistentVolumeClaim?.claimName,
          `data-web-${ordinal}`,
        );
      }
      assert.equal(new Set(volumes.values()).size, 3);
      const before = await pods(admin).get("web-1", { namespace: "default" });
      await pods(admin).delete("web-1", { namespace: "default", gracePeriodSeconds: 0 });
      const again = await eventually("web-1 to come back", async () => {
        const p = await pods(admin).get("web-1", { namespace: "default" }).catch(() => undefined);
        return p && p.metadata.uid !== before.metadata.uid && p.spec?.nodeName ? p : undefined;
      });
      assert.equal(again.spec?.nodeName, NODE);
      assert.equal((await boundVolume(admin, "data-web-1")).metadata.name, volumes.get("web-1"));
    }),
);
