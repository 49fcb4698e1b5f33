/**
 * What csi-local does with volumes, one method per CSI RPC that touches
 * them. Volumes live under the data directory:
 *
 * ```
 * <data-dir>/volumes/<id>.json   the record (see _volume_store.ts)
 * <data-dir>/volumes/<id>/       a directory volume's data
 * <data-dir>/volumes/<id>.img    an ext4-image volume's sparse image file
 * <data-dir>/mounts/<id>/        where that image is loop-mounted while
 *                                the volume is published somewhere
 * ```
 *
 * Publishing bind-mounts the volume's directory (or the mounted image) onto
 * the target path. Every method checks the mount table before acting, so
 * each call is idempotent and a restart (or a reboot) is reconciled.
 * Mutating calls run one at a time.
 *
 * @module
 */

import { status } from "@grpc/grpc-js";
import { createHash } from "node:crypto";
import { statfs } from "node:fs/promises";
import { isAbsolute, join } from "node:path";
import type {
  CreateVolumeRequest,
  CreateVolumeResponse,
  DeleteVolumeRequest,
  GetCapacityRequest,
  GetCapacityResponse,
  ListVolumesRequest,
  ListVolumesResponse,
  NodeGetVolumeStatsRequest,
  NodeGetVolumeStatsResponse,
  NodePublishVolumeRequest,
  NodeUnpublishVolumeRequest,
  ValidateVolumeCapabilitiesRequest,
  ValidateVolumeCapabilitiesResponse,
  Volume,
} from "./csi_types.ts";
import * as exec from "./_exec.ts";
import { mountAt, mountPointsUnder, readMountInfo, resolvePath } from "./_mountinfo.ts";
import { invalidField, missingField, RpcError } from "./_rpc_error.ts";
import {
  capacityFits,
  checkAccessibility,
  checkCapabilities,
  checkCapability,
  checkName,
  checkParameters,
  KIND_CONTEXT_KEY,
  minimumBytes,
  nodeTopology,
  publishFlags,
  resolveCapacity,
  topologyMatches,
  type VolumeKind,
} from "./_validate.ts";
import { type Publication, VOLUME_ID_PATTERN, type VolumeRecord, VolumeStore } from "./_volume_store.ts";

/** Options of {@linkcode LocalVolumes}. */
export interface LocalVolumesOptions {
  /** Absolute, resolved data directory. */
  dataDir: string;
  /** This node's id. */
  nodeId: string;
  /** Kind of the volumes CreateVolume makes. */
  kind: VolumeKind;
  /** Most volumes this node holds; unlimited when unset. */
  maxVolumes?: number | undefined;
  /** Where log lines go. */
  log: (line: string) => void;
}

/** The id of the volume named `name`: stable, so retries find it. */
export function volumeIdFor(name: string): string {
  return createHash("sha256").update(name).digest("hex").slice(0, 32);
}

/** Bytes and inodes of the filesystem holding `path`. */
async function filesystemUsage(path: string) {
  const stats = await statfs(path);
  const unit = stats.bsize;
  return {
    bytes: {
      total: stats.blocks * unit,
      available: stats.bavail * unit,
      used: (stats.blocks - stats.bfree) * unit,
    },
    inodes: {
      total: stats.files,
      available: stats.ffree,
      used: stats.files - stats.ffree,
    },
  };
}

function samePublication(a: Publication, b: Publication): boolean {
  return a.readonly === b.readonly && a.accessMode === b.accessMode &&
    a.fsType === b.fsType && a.flags.join(",") === b.flags.join(",");
}

async function removeIfPresent(
  path: string,
  options?: Deno.RemoveOptions,
): Promise<void> {
  try {
    await Deno.remove(path, options);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
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

/** Most times a path is unmounted in one call (stacked mounts). */
const MAX_UNMOUNTS = 16;

/** The volumes of one csi-local instance. */
export class LocalVolumes {
  readonly #options: LocalVolumesOptions;
  readonly #store: VolumeStore;
  #queue: Promise<unknown> = Promise.resolve();

  /** Creates the manager; call {@linkcode start} before use. */
  constructor(options: LocalVolumesOptions) {
    this.#options = options;
    this.#store = new VolumeStore(options.dataDir);
  }

  /**
   * Loads the records and reconciles them with the mount table: drops
   * publications whose mount is gone (after a reboot), unmounts images no
   * longer published, and reports volume data that has no record.
   */
  async start(): Promise<void> {
    return await this.#exclusive(async () => {
      await this.#store.load();
      await Deno.mkdir(this.#mountsDir, { recursive: true });
      for (const record of this.#store.list()) {
        await this.#pruneStalePublications(record);
        if (record.kind === "ext4-image" && record.publications.length === 0) {
          await this.#releaseImage(record);
        }
      }
      await this.#reportOrphans();
    });
  }

  // ------------------------------------------------------------ controller

  /** CreateVolume. */
  async createVolume(
    request: CreateVolumeRequest,
  ): Promise<CreateVolumeResponse> {
    const name = checkName(request.name);
    const { kind, nodeId, maxVolumes } = this.#options;
    const checked = checkCapabilities(request.volumeCapabilities, {
      field: "volume_capabilities",
      kind,
    });
    if (typeof checked === "string") {
      throw new RpcError(
        status.INVALID_ARGUMENT,
        `Unsupported volume_capabilities: ${checked}`,
      );
    }
    checkParameters(request.parameters);
    const source = request.volumeContentSource;
    if (source && (source.type || source.snapshot || source.volume)) {
      throw invalidField(
        "volume_content_source",
        "csi-local cannot create a volume from a snapshot or another volume",
      );
    }
    checkAccessibility(request.accessibilityRequirements, nodeId);
    return await this.#exclusive(async () => {
      const id = volumeIdFor(name);
      const existing = this.#store.get(id);
      if (existing) {
        return { volume: this.#toVolume(this.#compatible(existing, request)) };
      }
      if (maxVolumes !== undefined && this.#store.size >= maxVolumes) {
        throw new RpcError(
          status.RESOURCE_EXHAUSTED,
          `Cannot create volume "${name}": this node already holds ${this.#store.size} volumes, the most csi-local is allowed (--max-volumes ${maxVolumes})`,
        );
      }
      const free = (await filesystemUsage(this.#options.dataDir)).bytes
        .available;
      const capacityBytes = resolveCapacity(request.capacityRange, {
        kind,
        freeBytes: free,
      });
      const record: VolumeRecord = {
        version: 1,
        id,
        name,
        kind,
        capacityBytes,
        createdAt: new Date().toISOString(),
        publications: [],
      };
      if (kind === "directory") await this.#makeDirectory(record);
      else await this.#makeImage(record);
      await this.#store.save(record);
      this.#options.log(
        `csi-local: created ${kind} volume "${id}" (${capacityBytes} bytes) for "${name}"`,
      );
      return { volume: this.#toVolume(record) };
    });
  }

  /** DeleteVolume: unknown volumes are already deleted. */
  async deleteVolume(request: DeleteVolumeRequest): Promise<void> {
    const id = request.volumeId;
    if (!id) throw missingField("volume_id");
    return await this.#exclusive(async () => {
      const record = VOLUME_ID_PATTERN.test(id) ? this.#store.get(id) : undefined;
      if (!record) return;
      await this.#pruneStalePublications(record);
      if (record.publications.length > 0) {
        throw new RpcError(
          status.FAILED_PRECONDITION,
          `Volume "${id}" is in use: published at ${
            record.publications.map((p) => `"${p.targetPath}"`).join(", ")
          }; unpublish it first`,
        );
      }
      if (record.kind === "ext4-image") {
        await this.#releaseImage(record);
        await removeIfPresent(this.#imagePath(id));
        await removeIfPresent(this.#imageMountPoint(id));
      } else {
        const dir = this.#directoryPath(id);
        const inside = mountPointsUnder(await readMountInfo(), dir);
        if (inside.length > 0) {
          throw new RpcError(
            status.FAILED_PRECONDITION,
            `Volume "${id}" is in use: "${inside[0]}" is mounted inside it`,
          );
        }
        await removeIfPresent(dir, { recursive: true });
      }
      await this.#store.remove(id);
      this.#options.log(`csi-local: deleted volume "${id}" ("${record.name}")`);
    });
  }

  /** ValidateVolumeCapabilities. */
  validateVolumeCapabilities(
    request: ValidateVolumeCapabilitiesRequest,
  ): ValidateVolumeCapabilitiesResponse {
    const id = request.volumeId;
    if (!id) throw missingField("volume_id");
    if (!request.volumeCapabilities?.length) {
      throw missingField("volume_capabilities");
    }
    const record = this.#find(id);
    const checked = checkCapabilities(request.volumeCapabilities, {
      field: "volume_capabilities",
      kind: record.kind,
    });
    if (typeof checked === "string") return { message: checked };
    if (Object.keys(request.parameters ?? {}).length > 0) {
      return { message: "csi-local takes no parameters" };
    }
    return {
      confirmed: {
        volumeContext: request.volumeContext ?? {},
        volumeCapabilities: request.volumeCapabilities,
        parameters: request.parameters ?? {},
      },
    };
  }

  /** ListVolumes, paginated by position. */
  listVolumes(request: ListVolumesRequest): ListVolumesResponse {
    const max = request.maxEntries ?? 0;
    if (max < 0) throw invalidField("max_entries", `${max} is negative`);
    const all = this.#store.list();
    let start = 0;
    const token = request.startingToken ?? "";
    if (token !== "") {
      start = /^\d+$/.test(token) ? Number(token) : NaN;
      if (!(start < all.length)) {
        throw new RpcError(
          status.ABORTED,
          `Invalid starting_token "${token}": there are ${all.length} volumes; list again without a starting_token`,
        );
      }
    }
    const end = max > 0 ? Math.min(start + max, all.length) : all.length;
    return {
      entries: all.slice(start, end).map((record) => ({
        volume: this.#toVolume(record),
      })),
      nextToken: end < all.length ? String(end) : "",
    };
  }

  /** GetCapacity: the free space of the data directory's filesystem. */
  async getCapacity(request: GetCapacityRequest): Promise<GetCapacityResponse> {
    const { kind, nodeId } = this.#options;
    checkParameters(request.parameters);
    if (request.volumeCapabilities?.length) {
      const checked = checkCapabilities(request.volumeCapabilities, {
        field: "volume_capabilities",
        kind,
      });
      if (typeof checked === "string") return { availableCapacity: 0 };
    }
    if (
      request.accessibleTopology &&
      !topologyMatches(request.accessibleTopology, nodeId)
    ) {
      return { availableCapacity: 0 };
    }
    const free = (await filesystemUsage(this.#options.dataDir)).bytes
      .available;
    return {
      availableCapacity: free,
      maximumVolumeSize: { value: free },
      minimumVolumeSize: { value: minimumBytes(kind) },
    };
  }

  // ------------------------------------------------------------------ node

  /** NodePublishVolume: bind-mounts the volume onto the target path. */
  async nodePublishVolume(request: NodePublishVolumeRequest): Promise<void> {
    const id = request.volumeId;
    if (!id) throw missingField("volume_id");
    const target = request.targetPath;
    if (!target) throw missingField("target_path");
    if (!isAbsolute(target)) {
      throw invalidField("target_path", `"${target}" is not absolute`);
    }
    if (!request.volumeCapability) throw missingField("volume_capability");
    return await this.#exclusive(async () => {
      const record = this.#find(id);
      const checked = checkCapability(request.volumeCapability, {
        field: "volume_capability",
        kind: record.kind,
      });
      if (typeof checked === "string") {
        throw new RpcError(
          status.FAILED_PRECONDITION,
          `Cannot publish volume "${id}": ${checked}`,
        );
      }
      const { readonly, flags } = publishFlags(
        request.readonly ?? false,
        checked,
      );
      const wanted: Publication = {
        targetPath: target,
        readonly,
        accessMode: checked.mode,
        fsType: checked.fsType,
        flags,
      };
      const existing = record.publications.find((p) => p.targetPath === target);
      if (existing && !samePublication(existing, wanted)) {
        throw new RpcError(
          status.ALREADY_EXISTS,
          `Volume "${id}" is already published at "${target}" with other options (${
            existing.flags.join(",")
          }, ${existing.accessMode}); unpublish it first`,
        );
      }
      const others = record.publications.filter((p) => p.targetPath !== target);
      const shareable = (mode: string) => mode === "SINGLE_NODE_MULTI_WRITER";
      if (
        !existing && others.length > 0 &&
        !(shareable(wanted.accessMode) &&
          others.every((p) => shareable(p.accessMode)))
      ) {
        throw new RpcError(
          status.FAILED_PRECONDITION,
          `Volume "${id}" is already published at "${
            others[0]?.targetPath
          }"; only SINGLE_NODE_MULTI_WRITER volumes are published at several target paths`,
        );
      }
      if (!existing) {
        record.publications.push(wanted);
        await this.#store.save(record);
      }
      try {
        const source = await this.#source(record);
        await this.#mountTarget(wanted, { id, source });
      } catch (error) {
        if (!existing) {
          record.publications = others;
          await this.#store.save(record);
          if (record.kind === "ext4-image" && others.length === 0) {
            await this.#releaseImage(record);
          }
        }
        throw error;
      }
    });
  }

  /** NodeUnpublishVolume: unmounts and removes the target path. */
  async nodeUnpublishVolume(
    request: NodeUnpublishVolumeRequest,
  ): Promise<void> {
    const id = request.volumeId;
    if (!id) throw missingField("volume_id");
    const target = request.targetPath;
    if (!target) throw missingField("target_path");
    if (!isAbsolute(target)) {
      throw invalidField("target_path", `"${target}" is not absolute`);
    }
    return await this.#exclusive(async () => {
      const record = this.#find(id);
      const recorded = record.publications.some((p) => p.targetPath === target);
      if (!recorded && await mountAt(target)) {
        const ours = await this.#isVolumeAt(record, target);
        if (!ours) {
          throw new RpcError(
            status.FAILED_PRECONDITION,
            `Cannot unpublish volume "${id}" from "${target}": something else is mounted there`,
          );
        }
      }
      for (let i = 0; i < MAX_UNMOUNTS && await mountAt(target); i++) {
        await exec.unmount(target);
      }
      try {
        await removeIfPresent(target);
      } catch (error) {
        throw new RpcError(
          status.FAILED_PRECONDITION,
          `Cannot remove target path "${target}" of volume "${id}": ${(error as Error).message}`,
          { cause: error },
        );
      }
      if (recorded) {
        record.publications = record.publications.filter((p) => p.targetPath !== target);
        await this.#store.save(record);
      }
      if (record.kind === "ext4-image" && record.publications.length === 0) {
        await this.#releaseImage(record);
      }
    });
  }

  /** NodeGetVolumeStats: usage of the filesystem at the published path. */
  async nodeGetVolumeStats(
    request: NodeGetVolumeStatsRequest,
  ): Promise<NodeGetVolumeStatsResponse> {
    const id = request.volumeId;
    if (!id) throw missingField("volume_id");
    const path = request.volumePath;
    if (!path) throw missingField("volume_path");
    const record = this.#find(id);
    if (!await exists(path) || !await this.#isVolumeAt(record, path)) {
      throw new RpcError(
        status.NOT_FOUND,
        `Volume "${id}" is not published at "${path}"`,
      );
    }
    const usage = await filesystemUsage(path);
    return {
      usage: [
        { unit: "BYTES", ...usage.bytes },
        { unit: "INODES", ...usage.inodes },
      ],
    };
  }

  // -------------------------------------------------------------- helpers

  get #mountsDir(): string {
    return join(this.#options.dataDir, "mounts");
  }

  #directoryPath(id: string): string {
    return join(this.#store.dir, id);
  }

  #imagePath(id: string): string {
    return join(this.#store.dir, `${id}.img`);
  }

  #imageMountPoint(id: string): string {
    return join(this.#mountsDir, id);
  }

  /** Runs `task` after every mutating call before it has finished. */
  #exclusive<T>(task: () => Promise<T>): Promise<T> {
    const result = this.#queue.then(task);
    this.#queue = result.catch(() => undefined);
    return result;
  }

  #find(id: string): VolumeRecord {
    const record = VOLUME_ID_PATTERN.test(id) ? this.#store.get(id) : undefined;
    if (!record) {
      throw new RpcError(status.NOT_FOUND, `Volume "${id}" does not exist`);
    }
    return record;
  }

  #toVolume(record: VolumeRecord): Volume {
    return {
      volumeId: record.id,
      capacityBytes: record.capacityBytes,
      volumeContext: { [KIND_CONTEXT_KEY]: record.kind },
      accessibleTopology: [nodeTopology(this.#options.nodeId)],
    };
  }

  /** Returns `existing` when it satisfies `request`, else ALREADY_EXISTS. */
  #compatible(
    existing: VolumeRecord,
    request: CreateVolumeRequest,
  ): VolumeRecord {
    const range = request.capacityRange;
    if (!capacityFits(existing.capacityBytes, range)) {
      throw new RpcError(
        status.ALREADY_EXISTS,
        `Volume "${existing.name}" already exists with ${existing.capacityBytes} bytes, outside capacity_range [${
          range?.requiredBytes ?? 0
        }, ${range?.limitBytes || "unlimited"}]`,
      );
    }
    const checked = checkCapabilities(request.volumeCapabilities, {
      field: "volume_capabilities",
      kind: existing.kind,
    });
    if (typeof checked === "string") {
      throw new RpcError(
        status.ALREADY_EXISTS,
        `Volume "${existing.name}" already exists as a ${existing.kind} volume: ${checked}`,
      );
    }
    return existing;
  }

  async #makeDirectory(record: VolumeRecord): Promise<void> {
    const dir = this.#directoryPath(record.id);
    await Deno.mkdir(dir, { recursive: true });
    await Deno.chmod(dir, 0o777);
  }

  /** Creates the sparse image, formats it, and opens its root to all. */
  async #makeImage(record: VolumeRecord): Promise<void> {
    const image = this.#imagePath(record.id);
    const mountPoint = this.#imageMountPoint(record.id);
    await this.#releaseImage(record);
    await removeIfPresent(image);
    await exec.createSparseFile(image, record.capacityBytes);
    try {
      await exec.formatExt4(image);
      await Deno.mkdir(mountPoint, { recursive: true });
      await exec.loopMount(image, mountPoint);
      try {
        await Deno.chmod(mountPoint, 0o777);
      } finally {
        await this.#releaseImage(record);
      }
    } catch (error) {
      await removeIfPresent(image);
      throw error;
    }
  }

  /** The directory to bind onto target paths, mounting the image if need be. */
  async #source(record: VolumeRecord): Promise<string> {
    if (record.kind === "directory") {
      const dir = this.#directoryPath(record.id);
      if (!await exists(dir)) {
        throw new RpcError(
          status.INTERNAL,
          `Volume "${record.id}" has lost its data directory "${dir}"; delete and recreate the volume`,
        );
      }
      return dir;
    }
    const image = this.#imagePath(record.id);
    if (!await exists(image)) {
      throw new RpcError(
        status.INTERNAL,
        `Volume "${record.id}" has lost its image file "${image}"; delete and recreate the volume`,
      );
    }
    const mountPoint = this.#imageMountPoint(record.id);
    await Deno.mkdir(mountPoint, { recursive: true });
    if (!await mountAt(mountPoint)) await exec.loopMount(image, mountPoint);
    return mountPoint;
  }

  /** Bind-mounts `source` at the publication's target with its flags. */
  async #mountTarget(
    publication: Publication,
    { id, source }: { id: string; source: string },
  ): Promise<void> {
    const target = publication.targetPath;
    const needsRemount = publication.flags.join(",") !== "rw";
    if (await mountAt(target)) {
      if (!await this.#sameDirectory(target, source)) {
        throw new RpcError(
          status.FAILED_PRECONDITION,
          `Cannot publish volume "${id}" at "${target}": something else is mounted there`,
        );
      }
      if (needsRemount) await exec.remountBind(target, publication.flags);
      return;
    }
    await Deno.mkdir(target, { recursive: true });
    await exec.bindMount(source, target);
    if (!needsRemount) return;
    try {
      await exec.remountBind(target, publication.flags);
    } catch (error) {
      await exec.unmount(target);
      throw error;
    }
  }

  /** True when `path` shows this volume's data (bound from its source). */
  async #isVolumeAt(record: VolumeRecord, path: string): Promise<boolean> {
    if (!await mountAt(path)) return false;
    const source = record.kind === "directory" ? this.#directoryPath(record.id) : this.#imageMountPoint(record.id);
    if (record.kind === "ext4-image" && !await mountAt(source)) {
      return record.publications.some((p) => p.targetPath === path);
    }
    return await this.#sameDirectory(path, source);
  }

  async #sameDirectory(a: string, b: string): Promise<boolean> {
    try {
      const [left, right] = await Promise.all([Deno.stat(a), Deno.stat(b)]);
      return left.dev === right.dev && left.ino === right.ino;
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return false;
      throw error;
    }
  }

  /** Drops publications whose target is no longer mounted. */
  async #pruneStalePublications(record: VolumeRecord): Promise<void> {
    const live: Publication[] = [];
    for (const publication of record.publications) {
      if (await mountAt(publication.targetPath)) live.push(publication);
      else {
        this.#options.log(
          `csi-local: volume "${record.id}" is no longer mounted at "${publication.targetPath}"; forgetting that publication`,
        );
      }
    }
    if (live.length !== record.publications.length) {
      record.publications = live;
      await this.#store.save(record);
    }
  }

  /** Unmounts an image volume's mount point and detaches its loop device. */
  async #releaseImage(record: VolumeRecord): Promise<void> {
    const mountPoint = this.#imageMountPoint(record.id);
    for (let i = 0; i < MAX_UNMOUNTS && await mountAt(mountPoint); i++) {
      await exec.unmount(mountPoint);
    }
    const image = await resolvePath(this.#imagePath(record.id));
    for (const loop of await exec.listLoopDevices()) {
      if (loop.backingFile !== image) continue;
      try {
        await exec.detachLoop(loop.device);
      } catch (error) {
        const still = (await exec.listLoopDevices()).some((l) => l.device === loop.device && l.backingFile === image);
        if (still) throw error;
      }
    }
  }

  /** Logs volume data that has no record (left by a crash in CreateVolume). */
  async #reportOrphans(): Promise<void> {
    for await (const entry of Deno.readDir(this.#store.dir)) {
      const match = /^([0-9a-f]{32})(\.img)?$/.exec(entry.name);
      if (!match?.[1] || this.#store.get(match[1])) continue;
      this.#options.log(
        `csi-local: "${
          join(this.#store.dir, entry.name)
        }" has no volume record (an interrupted CreateVolume); CreateVolume with the same name reuses it, otherwise remove it by hand`,
      );
    }
  }
}
