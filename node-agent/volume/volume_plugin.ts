/**
 * `VolumePlugin`: what a pod worker asks of a volume driver — publish a
 * pod's volume at a path the containers can bind, take it away, report its
 * usage — and `CsiVolumePlugin`, which does it with any CSI v1 plugin,
 * following the plugin's capabilities: ControllerPublishVolume when it has
 * PUBLISH_UNPUBLISH_VOLUME, NodeStageVolume once per volume (reference
 * counted across pods) when it has STAGE_UNSTAGE_VOLUME.
 *
 * What is published is remembered in small JSON files under the state
 * directory, so an agent restart unstages and unpublishes correctly.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { dirname, join } from "node:path";
import { status } from "@grpc/grpc-js";
import type { AccessModeName, StringMap, VolumeCapability } from "@skiff/csi-local";
import { type CsiClient, CsiError } from "./csi_client.ts";
import { checkDriverName } from "./_driver_name.ts";

/** A pod's use of one volume. */
export interface PodVolumeRef {
  /** The pod's uid. */
  podUid: string;
  /** The volume's name in the pod spec. */
  volumeName: string;
  /** The CSI volume id (a PersistentVolume's volume handle). */
  volumeId: string;
}

/** How a pod wants one volume published. */
export interface PodVolume extends PodVolumeRef {
  /** Mount read-only. */
  readOnly?: boolean;
  /** CSI access mode (default SINGLE_NODE_WRITER). */
  accessMode?: AccessModeName;
  /** Filesystem type; empty lets the plugin choose. */
  fsType?: string;
  /** Mount options. */
  mountFlags?: string[];
  /** The volume context CreateVolume returned. */
  volumeContext?: StringMap;
  /** Secrets for the publish calls. */
  secrets?: StringMap;
}

/** Where a volume was published. */
export interface PublishedVolume {
  /** The CSI volume id. */
  volumeId: string;
  /** The directory to bind into the pod's containers. */
  targetPath: string;
  /** True when published read-only. */
  readOnly: boolean;
}

/** Used, available and total amounts in one unit. */
export interface UsageFigures {
  /** Amount in use. */
  used?: number;
  /** Amount still available. */
  available?: number;
  /** Total. */
  total: number;
}

/** A published volume's usage. */
export interface VolumeStats {
  /** In bytes. */
  bytes?: UsageFigures;
  /** In inodes. */
  inodes?: UsageFigures;
  /** The plugin's word on the volume's health, when it gives one. */
  condition?: { abnormal: boolean; message: string };
}

/** The volume driver seam of the node agent. */
export interface VolumePlugin {
  /** The CSI driver name, e.g. `local.csi.skiff.dev`. */
  readonly driverName: string;
  /** Publishes a pod's volume; idempotent. */
  publish(volume: PodVolume): Promise<PublishedVolume>;
  /** Takes a pod's volume away; idempotent. */
  unpublish(volume: PodVolumeRef): Promise<void>;
  /**
   * The usage of a published volume, or `undefined` when the driver cannot
   * tell (no GET_VOLUME_STATS).
   */
  stats(volume: PodVolumeRef): Promise<VolumeStats | undefined>;
}

/** Options of {@linkcode CsiVolumePlugin.create}. */
export interface CsiVolumePluginOptions {
  /**
   * Root of per-pod directories: a volume is published at
   * `<podsDir>/<podUid>/volumes/<driver>/<volumeName>`.
   */
  podsDir: string;
  /** Where staging paths and publication records go. */
  stateDir: string;
}

/** What the agent remembers of one volume on this node. */
interface VolumeState {
  volumeId: string;
  /** ControllerPublishVolume was called (or is being called). */
  controllerPublished: boolean;
  publishContext: StringMap;
  /** NodeStageVolume was called (or is being called) at this path. */
  stagingPath: string;
  /** Target paths currently published. */
  targets: string[];
}

const SEGMENT = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9_])?$/;

function checkSegment(field: string, value: string): void {
  if (!SEGMENT.test(value) || value.length > 253) {
    throw new TypeError(
      `Invalid ${field} "${value}": expected letters, digits, "-", "_" or "." (a single path segment)`,
    );
  }
}

function hashOf(volumeId: string): string {
  return createHash("sha256").update(volumeId).digest("hex").slice(0, 32);
}

function isCode(error: unknown, code: status): boolean {
  return error instanceof CsiError && error.code === code;
}

async function removeEmptyDir(path: string): Promise<void> {
  try {
    await Deno.remove(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}

/** A {@linkcode VolumePlugin} over any CSI v1 plugin. */
export class CsiVolumePlugin implements VolumePlugin {
  /** The CSI driver name. */
  readonly driverName: string;
  readonly #client: CsiClient;
  readonly #podsDir: string;
  readonly #stagingDir: string;
  readonly #recordsDir: string;
  readonly #controllerPublish: boolean;
  readonly #publishReadonly: boolean;
  readonly #stage: boolean;
  readonly #volumeStats: boolean;
  readonly #nodeId: string;
  readonly #locks = new Map<string, Promise<unknown>>();

  private constructor(
    client: CsiClient,
    facts: {
      driverName: string;
      controllerPublish: boolean;
      publishReadonly: boolean;
      stage: boolean;
      volumeStats: boolean;
      nodeId: string;
    },
    options: CsiVolumePluginOptions,
  ) {
    this.#client = client;
    this.driverName = facts.driverName;
    this.#controllerPublish = facts.controllerPublish;
    this.#publishReadonly = facts.publishReadonly;
    this.#stage = facts.stage;
    this.#volumeStats = facts.volumeStats;
    this.#nodeId = facts.nodeId;
    this.#podsDir = options.podsDir;
    this.#stagingDir = join(options.stateDir, "staging", facts.driverName);
    this.#recordsDir = join(options.stateDir, "published", facts.driverName);
  }

  /**
   * Asks the plugin behind `client` for its name and capabilities and
   * returns a volume plugin that uses them.
   *
   * @throws {CsiError} when the plugin does not answer.
   */
  static async create(
    client: CsiClient,
    options: CsiVolumePluginOptions,
  ): Promise<CsiVolumePlugin> {
    const driverName = checkDriverName((await client.getPluginInfo()).name, client.endpoint);
    const plugin = await client.getPluginCapabilities();
    const hasController = (plugin.capabilities ?? []).some((capability) =>
      capability.service?.type === "CONTROLLER_SERVICE"
    );
    const controller = new Set<string>();
    if (hasController) {
      const response = await client.controllerGetCapabilities();
      for (const capability of response.capabilities ?? []) {
        controller.add(String(capability.rpc?.type));
      }
    }
    const node = new Set<string>();
    for (
      const capability of (await client.nodeGetCapabilities()).capabilities ??
        []
    ) {
      node.add(String(capability.rpc?.type));
    }
    const controllerPublish = controller.has("PUBLISH_UNPUBLISH_VOLUME");
    const nodeId = controllerPublish ? (await client.nodeGetInfo()).nodeId ?? "" : "";
    if (controllerPublish && !nodeId) {
      throw new Error(
        `Plugin "${driverName}" needs ControllerPublishVolume but NodeGetInfo gave no node_id`,
      );
    }
    return new CsiVolumePlugin(client, {
      driverName,
      controllerPublish,
      publishReadonly: controller.has("PUBLISH_READONLY"),
      stage: node.has("STAGE_UNSTAGE_VOLUME"),
      volumeStats: node.has("GET_VOLUME_STATS"),
      nodeId,
    }, options);
  }

  /** The target path of a pod's volume. */
  targetPath(volume: Pick<PodVolumeRef, "podUid" | "volumeName">): string {
    checkSegment("podUid", volume.podUid);
    checkSegment("volumeName", volume.volumeName);
    return join(
      this.#podsDir,
      volume.podUid,
      "volumes",
      this.driverName,
      volume.volumeName,
    );
  }

  /** {@inheritDoc VolumePlugin.publish} */
  async publish(volume: PodVolume): Promise<PublishedVolume> {
    const targetPath = this.targetPath(volume);
    if (!volume.volumeId) throw new TypeError("Missing volumeId");
    const readOnly = volume.readOnly ?? false;
    const capability: VolumeCapability = {
      mount: {
        fsType: volume.fsType ?? "",
        mountFlags: volume.mountFlags ?? [],
      },
      accessMode: { mode: volume.accessMode ?? "SINGLE_NODE_WRITER" },
    };
    const secrets = volume.secrets ?? {};
    const volumeContext = volume.volumeContext ?? {};
    return await this.#locked(volume.volumeId, async () => {
      const state = await this.#load(volume.volumeId);
      if (this.#controllerPublish && !state.controllerPublished) {
        state.controllerPublished = true;
        await this.#save(state);
        const response = await this.#client.controllerPublishVolume({
          volumeId: volume.volumeId,
          nodeId: this.#nodeId,
          volumeCapability: capability,
          readonly: readOnly && this.#publishReadonly,
          secrets,
          volumeContext,
        });
        state.publishContext = response.publishContext ?? {};
        await this.#save(state);
      }
      if (this.#stage && !state.stagingPath) {
        state.stagingPath = join(this.#stagingDir, hashOf(volume.volumeId));
        await this.#save(state);
      }
      if (state.stagingPath) {
        await Deno.mkdir(state.stagingPath, { recursive: true });
        await this.#client.nodeStageVolume({
          volumeId: volume.volumeId,
          publishContext: state.publishContext,
          stagingTargetPath: state.stagingPath,
          volumeCapability: capability,
          secrets,
          volumeContext,
        });
      }
      if (!state.targets.includes(targetPath)) {
        state.targets.push(targetPath);
        await this.#save(state);
      }
      await Deno.mkdir(dirname(targetPath), { recursive: true });
      await this.#client.nodePublishVolume({
        volumeId: volume.volumeId,
        publishContext: state.publishContext,
        stagingTargetPath: state.stagingPath,
        targetPath,
        volumeCapability: capability,
        readonly: readOnly,
        secrets,
        volumeContext,
      });
      return { volumeId: volume.volumeId, targetPath, readOnly };
    });
  }

  /** {@inheritDoc VolumePlugin.unpublish} */
  async unpublish(volume: PodVolumeRef): Promise<void> {
    const targetPath = this.targetPath(volume);
    if (!volume.volumeId) throw new TypeError("Missing volumeId");
    return await this.#locked(volume.volumeId, async () => {
      try {
        await this.#client.nodeUnpublishVolume({
          volumeId: volume.volumeId,
          targetPath,
        });
      } catch (error) {
        // The plugin no longer knows the volume: nothing of it can be
        // mounted there, so an empty leftover directory is all that remains.
        if (!isCode(error, status.NOT_FOUND)) throw error;
        await removeEmptyDir(targetPath);
      }
      const state = await this.#load(volume.volumeId);
      state.targets = state.targets.filter((target) => target !== targetPath);
      await this.#save(state);
      if (state.targets.length > 0) return;
      if (state.stagingPath) {
        try {
          await this.#client.nodeUnstageVolume({
            volumeId: volume.volumeId,
            stagingTargetPath: state.stagingPath,
          });
        } catch (error) {
          if (!isCode(error, status.NOT_FOUND)) throw error;
        }
        await removeEmptyDir(state.stagingPath);
        state.stagingPath = "";
        await this.#save(state);
      }
      if (state.controllerPublished) {
        try {
          await this.#client.controllerUnpublishVolume({
            volumeId: volume.volumeId,
            nodeId: this.#nodeId,
          });
        } catch (error) {
          if (!isCode(error, status.NOT_FOUND)) throw error;
        }
      }
      await this.#forget(volume.volumeId);
    });
  }

  /** {@inheritDoc VolumePlugin.stats} */
  async stats(volume: PodVolumeRef): Promise<VolumeStats | undefined> {
    const targetPath = this.targetPath(volume);
    if (!this.#volumeStats) return undefined;
    const state = await this.#load(volume.volumeId);
    const response = await this.#client.nodeGetVolumeStats({
      volumeId: volume.volumeId,
      volumePath: targetPath,
      stagingTargetPath: state.stagingPath,
    });
    const stats: VolumeStats = {};
    for (const usage of response.usage ?? []) {
      const figures: UsageFigures = { total: usage.total ?? 0 };
      if (usage.used !== undefined) figures.used = usage.used;
      if (usage.available !== undefined) figures.available = usage.available;
      if (usage.unit === "BYTES") stats.bytes = figures;
      else if (usage.unit === "INODES") stats.inodes = figures;
    }
    const condition = response.volumeCondition;
    if (condition) {
      stats.condition = {
        abnormal: condition.abnormal ?? false,
        message: condition.message ?? "",
      };
    }
    return stats;
  }

  /** Runs `task` after every earlier task on the same volume. */
  #locked<T>(volumeId: string, task: () => Promise<T>): Promise<T> {
    const previous = this.#locks.get(volumeId) ?? Promise.resolve();
    const result = previous.then(task);
    const settled = result.catch(() => undefined);
    this.#locks.set(volumeId, settled);
    settled.then(() => {
      if (this.#locks.get(volumeId) === settled) this.#locks.delete(volumeId);
    });
    return result;
  }

  #recordPath(volumeId: string): string {
    return join(this.#recordsDir, `${hashOf(volumeId)}.json`);
  }

  async #load(volumeId: string): Promise<VolumeState> {
    try {
      const state = JSON.parse(
        await Deno.readTextFile(this.#recordPath(volumeId)),
      ) as VolumeState;
      if (state.volumeId === volumeId) return state;
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) {
        throw new Error(
          `Cannot read publication record "${this.#recordPath(volumeId)}" of volume "${volumeId}": ${
            (error as Error).message
          }`,
          { cause: error },
        );
      }
    }
    return {
      volumeId,
      controllerPublished: false,
      publishContext: {},
      stagingPath: "",
      targets: [],
    };
  }

  async #save(state: VolumeState): Promise<void> {
    const path = this.#recordPath(state.volumeId);
    await Deno.mkdir(this.#recordsDir, { recursive: true });
    const temporary = `${path}.tmp`;
    await Deno.writeTextFile(temporary, JSON.stringify(state) + "\n");
    await Deno.rename(temporary, path);
  }

  async #forget(volumeId: string): Promise<void> {
    try {
      await Deno.remove(this.#recordPath(volumeId));
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }
}
