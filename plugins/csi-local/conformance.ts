/**
 * A CSI v1 conformance suite in the spirit of csi-sanity: identity,
 * capabilities, idempotency of every call, the error codes the
 * specification assigns, and a full create / publish / stats / unpublish /
 * delete cycle that reads and writes through the published path. It drives
 * any plugin through a {@linkcode CsiRpc} client, adapting to the
 * capabilities the plugin reports (controller publish, node staging).
 *
 * Each case starts the plugin afresh and, whatever happens, unpublishes and
 * deletes what it made before stopping it.
 *
 * @example
 * ```ts
 * runCsiConformance(async () => {
 *   const plugin = await startMyPlugin();
 *   return { client: plugin.client, workDir: plugin.tmp, stop: plugin.stop };
 * }, { name: "my-plugin" });
 * ```
 *
 * @module
 */

import assert from "node:assert/strict";
import { status } from "@grpc/grpc-js";
import { join } from "node:path";
import type {
  CapacityRange,
  ControllerCapabilityName,
  CsiRpc,
  NodeCapabilityName,
  PluginServiceCapabilityName,
  StringMap,
  Topology,
  Volume,
  VolumeCapability,
} from "./csi_types.ts";
import { mountAt } from "./_mountinfo.ts";

/** A plugin started for one test case. */
export interface CsiPluginUnderTest {
  /** A client connected to the plugin. */
  client: CsiRpc;
  /** An existing directory where the suite makes target and staging paths. */
  workDir: string;
  /** Stops the plugin and closes the client. */
  stop(): Promise<void>;
}

/** Options of {@linkcode runCsiConformance}. */
export interface CsiConformanceOptions {
  /** Leads every test name (default `"CSI conformance"`). */
  name?: string;
  /** Size of the volumes the suite creates (default 16 MiB). */
  volumeBytes?: number;
  /** Parameters passed to every CreateVolume. */
  parameters?: StringMap;
  /** Also check that a published volume cannot outgrow its capacity. */
  enforcesCapacity?: boolean;
  /** Also check that INVALID_ARGUMENT messages name the missing field. */
  messagesNameFields?: boolean;
  /** Register the cases as ignored (for example, no loop devices here). */
  ignore?: boolean;
}

const MIB = 1024 * 1024;

const KNOWN_PLUGIN_CAPABILITIES: readonly PluginServiceCapabilityName[] = [
  "CONTROLLER_SERVICE",
  "VOLUME_ACCESSIBILITY_CONSTRAINTS",
];

const KNOWN_CONTROLLER_CAPABILITIES: readonly ControllerCapabilityName[] = [
  "CREATE_DELETE_VOLUME",
  "PUBLISH_UNPUBLISH_VOLUME",
  "LIST_VOLUMES",
  "GET_CAPACITY",
  "CREATE_DELETE_SNAPSHOT",
  "LIST_SNAPSHOTS",
  "CLONE_VOLUME",
  "PUBLISH_READONLY",
  "EXPAND_VOLUME",
  "LIST_VOLUMES_PUBLISHED_NODES",
  "VOLUME_CONDITION",
  "GET_VOLUME",
  "SINGLE_NODE_MULTI_WRITER",
];

const KNOWN_NODE_CAPABILITIES: readonly NodeCapabilityName[] = [
  "STAGE_UNSTAGE_VOLUME",
  "GET_VOLUME_STATS",
  "EXPAND_VOLUME",
  "VOLUME_CONDITION",
  "SINGLE_NODE_MULTI_WRITER",
  "VOLUME_MOUNT_GROUP",
];

/** A mounted-filesystem capability with access mode SINGLE_NODE_WRITER. */
const MOUNT_RW: VolumeCapability = {
  mount: { fsType: "", mountFlags: [] },
  accessMode: { mode: "SINGLE_NODE_WRITER" },
};

function codeName(code: unknown): string {
  return typeof code === "number" ? (status[code] ?? `code ${code}`) : "none";
}

/** Everything one test case made, so it can be undone. */
class Session {
  readonly client: CsiRpc;
  readonly workDir: string;
  readonly options: CsiConformanceOptions;
  pluginCapabilities = new Set<string>();
  controllerCapabilities = new Set<string>();
  nodeCapabilities = new Set<string>();
  nodeId = "";
  nodeTopology: Topology | undefined;
  readonly #volumes = new Set<string>();
  readonly #published = new Map<string, string>();
  readonly #staged = new Map<string, string>();
  readonly #controllerPublished = new Set<string>();
  #counter = 0;

  constructor(plugin: CsiPluginUnderTest, options: CsiConformanceOptions) {
    this.client = plugin.client;
    this.workDir = plugin.workDir;
    this.options = options;
  }

  async init(): Promise<void> {
    const plugin = await this.client.getPluginCapabilities();
    for (const capability of plugin.capabilities ?? []) {
      const type = capability.service?.type;
      if (type !== undefined) this.pluginCapabilities.add(String(type));
    }
    if (this.pluginCapabilities.has("CONTROLLER_SERVICE")) {
      const controller = await this.client.controllerGetCapabilities();
      for (const capability of controller.capabilities ?? []) {
        const type = capability.rpc?.type;
        if (type !== undefined) this.controllerCapabilities.add(String(type));
      }
    }
    const node = await this.client.nodeGetCapabilities();
    for (const capability of node.capabilities ?? []) {
      const type = capability.rpc?.type;
      if (type !== undefined) this.nodeCapabilities.add(String(type));
    }
    const info = await this.client.nodeGetInfo();
    this.nodeId = info.nodeId ?? "";
    this.nodeTopology = info.accessibleTopology ?? undefined;
  }

  get canCreate(): boolean {
    return this.controllerCapabilities.has("CREATE_DELETE_VOLUME");
  }

  uniqueName(label: string): string {
    return `conformance-${label}-${Date.now().toString(36)}-${++this
      .#counter}`;
  }

  path(label: string): string {
    return join(this.workDir, `${label}-${++this.#counter}`);
  }

  async create(
    name: string,
    capacityRange?: CapacityRange,
    capabilities: VolumeCapability[] = [MOUNT_RW],
  ): Promise<Volume> {
    const response = await this.client.createVolume({
      name,
      capacityRange: capacityRange ?? {
        requiredBytes: this.options.volumeBytes ?? 16 * MIB,
      },
      volumeCapabilities: capabilities,
      parameters: this.options.parameters ?? {},
    });
    const volume = response.volume;
    assert.ok(volume, "CreateVolume returned no volume");
    assert.ok(volume.volumeId, "CreateVolume returned a volume without id");
    this.#volumes.add(volume.volumeId);
    return volume;
  }

  async delete(volumeId: string): Promise<void> {
    await this.client.deleteVolume({ volumeId });
    this.#volumes.delete(volumeId);
  }

  /** Publishes like a CO: controller publish and node stage when offered. */
  async publish(
    volumeId: string,
    targetPath: string,
    options: { readonly?: boolean; capability?: VolumeCapability } = {},
  ): Promise<void> {
    const capability = options.capability ?? MOUNT_RW;
    const readonly = options.readonly ?? false;
    let publishContext: StringMap = {};
    if (this.controllerCapabilities.has("PUBLISH_UNPUBLISH_VOLUME")) {
      this.#controllerPublished.add(volumeId);
      const response = await this.client.controllerPublishVolume({
        volumeId,
        nodeId: this.nodeId,
        volumeCapability: capability,
        readonly: readonly &&
          this.controllerCapabilities.has("PUBLISH_READONLY"),
      });
      publishContext = response.publishContext ?? {};
    }
    let stagingTargetPath = "";
    if (this.nodeCapabilities.has("STAGE_UNSTAGE_VOLUME")) {
      stagingTargetPath = this.#staged.get(volumeId) ?? this.path("staging");
      await Deno.mkdir(stagingTargetPath, { recursive: true });
      this.#staged.set(volumeId, stagingTargetPath);
      await this.client.nodeStageVolume({
        volumeId,
        publishContext,
        stagingTargetPath,
        volumeCapability: capability,
      });
    }
    this.#published.set(targetPath, volumeId);
    await this.client.nodePublishVolume({
      volumeId,
      publishContext,
      stagingTargetPath,
      targetPath,
      volumeCapability: capability,
      readonly,
    });
  }

  /** Undoes {@linkcode publish} for one target path. */
  async unpublish(volumeId: string, targetPath: string): Promise<void> {
    await this.client.nodeUnpublishVolume({ volumeId, targetPath });
    this.#published.delete(targetPath);
    const stillPublished = [...this.#published.values()].includes(volumeId);
    if (stillPublished) return;
    const staging = this.#staged.get(volumeId);
    if (staging) {
      await this.client.nodeUnstageVolume({
        volumeId,
        stagingTargetPath: staging,
      });
      this.#staged.delete(volumeId);
    }
    if (this.#controllerPublished.has(volumeId)) {
      await this.client.controllerUnpublishVolume({
        volumeId,
        nodeId: this.nodeId,
      });
      this.#controllerPublished.delete(volumeId);
    }
  }

  /** Unpublishes and deletes everything left; throws the first failure. */
  async cleanup(): Promise<void> {
    const failures: unknown[] = [];
    for (const [target, volumeId] of [...this.#published]) {
      await this.unpublish(volumeId, target).catch((e) => failures.push(e));
    }
    for (const volumeId of [...this.#volumes]) {
      await this.delete(volumeId).catch((e) => failures.push(e));
    }
    if (failures.length > 0) {
      throw new Error(
        `Conformance cleanup failed: ${(failures[0] as Error).message}`,
        { cause: failures[0] },
      );
    }
  }

  /** Asserts that `call` fails with `code`, naming `field` if asked to. */
  async rejects(
    call: Promise<unknown>,
    code: status,
    field?: string,
  ): Promise<void> {
    let error: unknown;
    try {
      await call;
    } catch (caught) {
      error = caught;
    }
    assert.ok(error, `expected ${status[code]}, but the call succeeded`);
    const got = (error as { code?: unknown }).code;
    assert.equal(
      codeName(got),
      status[code],
      `expected ${status[code]}, got ${codeName(got)}: ${(error as Error).message}`,
    );
    const message = (error as Error).message ?? "";
    assert.ok(message.length > 0, "the status message is empty");
    if (field && this.options.messagesNameFields) {
      assert.ok(
        message.includes(field),
        `the message does not name field "${field}": ${message}`,
      );
    }
  }
}

async function isMountPoint(path: string): Promise<boolean> {
  return (await mountAt(path)) !== undefined;
}

async function pathExists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

function errorCode(error: unknown): string | undefined {
  return (error as { code?: string }).code;
}

/**
 * Registers the conformance cases with `Deno.test`, each against a plugin
 * from `startPlugin`.
 */
export function runCsiConformance(
  startPlugin: () => Promise<CsiPluginUnderTest>,
  options: CsiConformanceOptions = {},
): void {
  const prefix = options.name ?? "CSI conformance";
  const volumeBytes = options.volumeBytes ?? 16 * MIB;

  const test = (
    name: string,
    fn: (session: Session) => Promise<void>,
  ) => {
    Deno.test({
      name: `${prefix}: ${name}`,
      ignore: options.ignore ?? false,
      // grpc-js leaves a reconnect backoff timer behind a closed channel.
      sanitizeOps: false,
      sanitizeResources: false,
      fn: async () => {
        const plugin = await startPlugin();
        const session = new Session(plugin, options);
        try {
          await session.init();
          await fn(session);
        } finally {
          try {
            await session.cleanup();
          } finally {
            await plugin.stop();
          }
        }
      },
    });
  };

  /** Like `test`, for cases that need CreateVolume. */
  const volumeTest = (
    name: string,
    fn: (session: Session) => Promise<void>,
  ) =>
    test(name, async (session) => {
      assert.ok(
        session.canCreate,
        "the plugin lacks the CREATE_DELETE_VOLUME controller capability this case needs",
      );
      await fn(session);
    });

  // -------------------------------------------------------------- identity

  test("GetPluginInfo returns a domain-style driver name and a vendor version", async ({ client }) => {
    const info = await client.getPluginInfo();
    assert.ok(info.name, "name is empty");
    assert.ok(info.name.length <= 63, `name "${info.name}" exceeds 63 chars`);
    assert.match(
      info.name,
      /^[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?$/,
      `name "${info.name}" is not in domain name notation`,
    );
    assert.ok(info.vendorVersion, "vendor_version is empty");
  });

  test("GetPluginCapabilities lists only capabilities the spec defines", async ({ client }) => {
    const response = await client.getPluginCapabilities();
    for (const capability of response.capabilities ?? []) {
      if (capability.service) {
        assert.ok(
          KNOWN_PLUGIN_CAPABILITIES.includes(
            capability.service.type as PluginServiceCapabilityName,
          ),
          `unknown plugin capability ${capability.service.type}`,
        );
      }
    }
  });

  test("Probe reports the plugin ready", async ({ client }) => {
    const response = await client.probe();
    assert.notEqual(response.ready?.value, false, "Probe says not ready");
  });

  test("ControllerGetCapabilities and NodeGetCapabilities list only known capabilities", async (session) => {
    if (session.pluginCapabilities.has("CONTROLLER_SERVICE")) {
      const controller = await session.client.controllerGetCapabilities();
      for (const capability of controller.capabilities ?? []) {
        assert.ok(
          KNOWN_CONTROLLER_CAPABILITIES.includes(
            capability.rpc?.type as ControllerCapabilityName,
          ),
          `unknown controller capability ${capability.rpc?.type}`,
        );
      }
    }
    const node = await session.client.nodeGetCapabilities();
    for (const capability of node.capabilities ?? []) {
      assert.ok(
        KNOWN_NODE_CAPABILITIES.includes(
          capability.rpc?.type as NodeCapabilityName,
        ),
        `unknown node capability ${capability.rpc?.type}`,
      );
    }
  });

  test("NodeGetInfo returns the node id and, with topology constraints, the node's topology", async (session) => {
    const info = await session.client.nodeGetInfo();
    assert.ok(info.nodeId, "node_id is empty");
    assert.ok((info.maxVolumesPerNode ?? 0) >= 0, "max_volumes_per_node < 0");
    if (session.pluginCapabilities.has("VOLUME_ACCESSIBILITY_CONSTRAINTS")) {
      const segments = info.accessibleTopology?.segments ?? {};
      assert.ok(
        Object.keys(segments).length > 0,
        "VOLUME_ACCESSIBILITY_CONSTRAINTS is set but the node has no topology",
      );
    }
  });

  // ------------------------------------------------------------ controller

  volumeTest("CreateVolume without name or volume_capabilities fails with INVALID_ARGUMENT", async (session) => {
    await session.rejects(
      session.client.createVolume({ volumeCapabilities: [MOUNT_RW] }),
      status.INVALID_ARGUMENT,
      "name",
    );
    await session.rejects(
      session.client.createVolume({ name: session.uniqueName("nocaps") }),
      status.INVALID_ARGUMENT,
      "volume_capabilities",
    );
  });

  volumeTest("CreateVolume with the same name and arguments returns the same volume", async (session) => {
    const name = session.uniqueName("idempotent");
    const first = await session.create(name);
    const second = await session.create(name);
    assert.equal(second.volumeId, first.volumeId);
    assert.equal(second.capacityBytes, first.capacityBytes);
    assert.deepEqual(second.volumeContext ?? {}, first.volumeContext ?? {});
  });

  volumeTest(
    "CreateVolume with the same name and an incompatible capacity fails with ALREADY_EXISTS",
    async (session) => {
      const name = session.uniqueName("conflict");
      const volume = await session.create(name, {
        requiredBytes: volumeBytes,
        limitBytes: volumeBytes,
      });
      const bigger = (volume.capacityBytes || volumeBytes) * 2;
      await session.rejects(
        session.client.createVolume({
          name,
          capacityRange: { requiredBytes: bigger, limitBytes: bigger },
          volumeCapabilities: [MOUNT_RW],
          parameters: options.parameters ?? {},
        }),
        status.ALREADY_EXISTS,
      );
    },
  );

  volumeTest("CreateVolume honours capacity_range", async (session) => {
    const exact = await session.create(session.uniqueName("exact"), {
      requiredBytes: volumeBytes,
      limitBytes: volumeBytes,
    });
    if (exact.capacityBytes) assert.equal(exact.capacityBytes, volumeBytes);
    const atLeast = await session.create(session.uniqueName("atleast"), {
      requiredBytes: volumeBytes,
    });
    if (atLeast.capacityBytes) {
      assert.ok(atLeast.capacityBytes >= volumeBytes);
    }
  });

  volumeTest("CreateVolume accepts a name of 128 bytes", async (session) => {
    const name = session.uniqueName("long").padEnd(128, "x");
    const volume = await session.create(name);
    assert.ok(volume.volumeId);
  });

  volumeTest("CreateVolume within the node's topology returns a volume reachable from the node", async (session) => {
    if (!session.pluginCapabilities.has("VOLUME_ACCESSIBILITY_CONSTRAINTS")) {
      return;
    }
    const nodeSegments = session.nodeTopology?.segments ?? {};
    const volume = (await session.client.createVolume({
      name: session.uniqueName("topology"),
      capacityRange: { requiredBytes: volumeBytes },
      volumeCapabilities: [MOUNT_RW],
      parameters: options.parameters ?? {},
      accessibilityRequirements: {
        requisite: [{ segments: nodeSegments }],
        preferred: [{ segments: nodeSegments }],
      },
    })).volume;
    assert.ok(volume?.volumeId);
    await session.delete(volume.volumeId);
    const topologies = volume.accessibleTopology ?? [];
    if (topologies.length > 0) {
      assert.ok(
        topologies.some((topology) =>
          Object.entries(topology.segments ?? {}).every(([key, value]) => nodeSegments[key] === value)
        ),
        `no accessible_topology of the volume matches the node's ${JSON.stringify(nodeSegments)}`,
      );
    }
  });

  volumeTest("DeleteVolume without volume_id fails with INVALID_ARGUMENT", async (session) => {
    await session.rejects(
      session.client.deleteVolume({}),
      status.INVALID_ARGUMENT,
      "volume_id",
    );
  });

  volumeTest("DeleteVolume of an unknown or already deleted volume succeeds", async (session) => {
    await session.client.deleteVolume({ volumeId: "no-such-volume" });
    const volume = await session.create(session.uniqueName("twice"));
    await session.delete(volume.volumeId as string);
    await session.client.deleteVolume({ volumeId: volume.volumeId });
  });

  volumeTest("ValidateVolumeCapabilities checks its arguments and confirms supported capabilities", async (session) => {
    const { client } = session;
    await session.rejects(
      client.validateVolumeCapabilities({ volumeCapabilities: [MOUNT_RW] }),
      status.INVALID_ARGUMENT,
      "volume_id",
    );
    const volume = await session.create(session.uniqueName("validate"));
    const volumeId = volume.volumeId as string;
    await session.rejects(
      client.validateVolumeCapabilities({ volumeId }),
      status.INVALID_ARGUMENT,
      "volume_capabilities",
    );
    await session.rejects(
      client.validateVolumeCapabilities({
        volumeId: "no-such-volume",
        volumeCapabilities: [MOUNT_RW],
      }),
      status.NOT_FOUND,
    );
    const response = await client.validateVolumeCapabilities({
      volumeId,
      volumeContext: volume.volumeContext ?? {},
      volumeCapabilities: [MOUNT_RW],
      parameters: options.parameters ?? {},
    });
    assert.ok(
      response.confirmed,
      `not confirmed: ${response.message ?? "no message"}`,
    );
    assert.equal(response.confirmed.volumeCapabilities?.length, 1);
  });

  volumeTest("ListVolumes pages through every volume", async (session) => {
    if (!session.controllerCapabilities.has("LIST_VOLUMES")) return;
    const created = new Set<string>();
    for (let i = 0; i < 3; i++) {
      const volume = await session.create(session.uniqueName("list"));
      created.add(volume.volumeId as string);
    }
    const seen: string[] = [];
    let token = "";
    for (let page = 0; page < 1000; page++) {
      const response = await session.client.listVolumes({
        maxEntries: 1,
        startingToken: token,
      });
      assert.ok((response.entries ?? []).length <= 1, "max_entries ignored");
      for (const entry of response.entries ?? []) {
        seen.push(entry.volume?.volumeId ?? "");
      }
      token = response.nextToken ?? "";
      if (!token) break;
    }
    assert.equal(new Set(seen).size, seen.length, "a volume was listed twice");
    for (const id of created) {
      assert.ok(seen.includes(id), `volume "${id}" was not listed`);
    }
    const all = await session.client.listVolumes({});
    assert.equal(all.nextToken ?? "", "");
    assert.equal(all.entries?.length, seen.length);
  });

  volumeTest("ListVolumes with an invalid starting_token fails with ABORTED", async (session) => {
    if (!session.controllerCapabilities.has("LIST_VOLUMES")) return;
    await session.rejects(
      session.client.listVolumes({ startingToken: "not-a-token" }),
      status.ABORTED,
    );
    await session.rejects(
      session.client.listVolumes({ startingToken: "1000000" }),
      status.ABORTED,
    );
    await session.rejects(
      session.client.listVolumes({ maxEntries: -1 }),
      status.INVALID_ARGUMENT,
      "max_entries",
    );
  });

  volumeTest("GetCapacity reports a non-negative available capacity", async (session) => {
    if (!session.controllerCapabilities.has("GET_CAPACITY")) return;
    const plain = await session.client.getCapacity({});
    assert.ok((plain.availableCapacity ?? 0) >= 0);
    const withCapability = await session.client.getCapacity({
      volumeCapabilities: [MOUNT_RW],
      parameters: options.parameters ?? {},
    });
    assert.ok((withCapability.availableCapacity ?? 0) >= 0);
    if (plain.maximumVolumeSize) {
      assert.ok((plain.maximumVolumeSize.value ?? 0) >= 0);
    }
  });

  // ------------------------------------------------------------------ node

  volumeTest(
    "NodePublishVolume without volume_id, target_path or volume_capability fails with INVALID_ARGUMENT",
    async (session) => {
      const { client } = session;
      const volume = await session.create(session.uniqueName("publish-args"));
      const volumeId = volume.volumeId as string;
      const targetPath = session.path("target");
      await session.rejects(
        client.nodePublishVolume({ targetPath, volumeCapability: MOUNT_RW }),
        status.INVALID_ARGUMENT,
        "volume_id",
      );
      await session.rejects(
        client.nodePublishVolume({ volumeId, volumeCapability: MOUNT_RW }),
        status.INVALID_ARGUMENT,
        "target_path",
      );
      await session.rejects(
        client.nodePublishVolume({ volumeId, targetPath }),
        status.INVALID_ARGUMENT,
        "volume_capability",
      );
      assert.equal(await isMountPoint(targetPath), false);
    },
  );

  volumeTest("NodePublishVolume of an unknown volume fails with NOT_FOUND", async (session) => {
    if (session.nodeCapabilities.has("STAGE_UNSTAGE_VOLUME")) return;
    await session.rejects(
      session.client.nodePublishVolume({
        volumeId: "no-such-volume",
        targetPath: session.path("target"),
        volumeCapability: MOUNT_RW,
      }),
      status.NOT_FOUND,
    );
  });

  volumeTest("NodeUnpublishVolume without volume_id or target_path fails with INVALID_ARGUMENT", async (session) => {
    await session.rejects(
      session.client.nodeUnpublishVolume({ targetPath: session.path("t") }),
      status.INVALID_ARGUMENT,
      "volume_id",
    );
    const volume = await session.create(session.uniqueName("unpublish-args"));
    await session.rejects(
      session.client.nodeUnpublishVolume({ volumeId: volume.volumeId }),
      status.INVALID_ARGUMENT,
      "target_path",
    );
  });

  volumeTest("NodePublishVolume and NodeUnpublishVolume are idempotent and the data outlives them", async (session) => {
    const volume = await session.create(session.uniqueName("lifecycle"));
    const volumeId = volume.volumeId as string;
    const target = session.path("target");
    await session.publish(volumeId, target);
    await session.publish(volumeId, target);
    assert.ok(await isMountPoint(target), `"${target}" is not a mount point`);
    await Deno.writeTextFile(join(target, "hello.txt"), "kept");

    await session.unpublish(volumeId, target);
    assert.equal(await isMountPoint(target), false, "still mounted");
    assert.equal(await pathExists(target), false, "target path not removed");
    await session.client.nodeUnpublishVolume({ volumeId, targetPath: target });

    const again = session.path("target");
    await session.publish(volumeId, again);
    assert.equal(await Deno.readTextFile(join(again, "hello.txt")), "kept");
    await session.unpublish(volumeId, again);
    await session.delete(volumeId);
  });

  volumeTest(
    "a read-only publication refuses writes and a conflicting republish fails with ALREADY_EXISTS",
    async (session) => {
      const volume = await session.create(session.uniqueName("readonly"));
      const volumeId = volume.volumeId as string;
      const target = session.path("target");
      await session.publish(volumeId, target, { readonly: true });
      await session.publish(volumeId, target, { readonly: true });
      let refused: unknown;
      try {
        await Deno.writeTextFile(join(target, "nope.txt"), "x");
      } catch (error) {
        refused = error;
      }
      assert.ok(refused, "a write through a read-only publication succeeded");
      assert.equal(errorCode(refused), "EROFS", String(refused));
      await session.rejects(
        session.client.nodePublishVolume({
          volumeId,
          targetPath: target,
          volumeCapability: MOUNT_RW,
          readonly: false,
        }),
        status.ALREADY_EXISTS,
      );
      await session.unpublish(volumeId, target);
    },
  );

  volumeTest("NodeGetVolumeStats checks its arguments and reports the usage of a published volume", async (session) => {
    if (!session.nodeCapabilities.has("GET_VOLUME_STATS")) return;
    const { client } = session;
    const volume = await session.create(session.uniqueName("stats"));
    const volumeId = volume.volumeId as string;
    const target = session.path("target");
    await session.rejects(
      client.nodeGetVolumeStats({ volumePath: target }),
      status.INVALID_ARGUMENT,
      "volume_id",
    );
    await session.rejects(
      client.nodeGetVolumeStats({ volumeId }),
      status.INVALID_ARGUMENT,
      "volume_path",
    );
    await session.rejects(
      client.nodeGetVolumeStats({ volumeId, volumePath: target }),
      status.NOT_FOUND,
    );
    await session.rejects(
      client.nodeGetVolumeStats({
        volumeId: "no-such-volume",
        volumePath: target,
      }),
      status.NOT_FOUND,
    );
    await session.publish(volumeId, target);
    await Deno.writeFile(join(target, "data.bin"), new Uint8Array(MIB));
    const stats = await client.nodeGetVolumeStats({
      volumeId,
      volumePath: target,
    });
    const bytes = stats.usage?.find((usage) => usage.unit === "BYTES");
    assert.ok(bytes, "no BYTES usage");
    assert.ok((bytes.total ?? 0) > 0, "total bytes is 0");
    assert.ok((bytes.used ?? 0) >= 0 && (bytes.available ?? 0) >= 0);
    assert.ok((bytes.used ?? 0) + (bytes.available ?? 0) <= (bytes.total ?? 0));
    const inodes = stats.usage?.find((usage) => usage.unit === "INODES");
    if (inodes) {
      assert.ok((inodes.total ?? 0) > 0, "total inodes is 0");
      assert.ok((inodes.used ?? 0) > 0, "no inode used after writing a file");
    }
    await session.unpublish(volumeId, target);
  });

  if (options.enforcesCapacity) {
    volumeTest("a published volume cannot outgrow its capacity", async (session) => {
      const volume = await session.create(session.uniqueName("full"), {
        requiredBytes: volumeBytes,
        limitBytes: volumeBytes,
      });
      const volumeId = volume.volumeId as string;
      const target = session.path("target");
      await session.publish(volumeId, target);
      const file = await Deno.open(join(target, "fill.bin"), {
        write: true,
        create: true,
      });
      const chunk = new Uint8Array(MIB).fill(0x5a);
      let written = 0;
      let failure: unknown;
      try {
        while (written < 2 * volumeBytes) {
          written += await file.write(chunk);
        }
        await file.sync();
      } catch (error) {
        failure = error;
      } finally {
        file.close();
      }
      assert.ok(failure, `wrote ${written} bytes into ${volumeBytes}`);
      assert.equal(errorCode(failure), "ENOSPC", String(failure));
      assert.ok(written <= volumeBytes, `wrote ${written} bytes`);
      await session.unpublish(volumeId, target);
    });
  }
}
