/**
 * The volumes hook: makes each of a pod's volumes a host directory (or
 * file) its containers can bind, before they start, and takes them away
 * after they stop.
 *
 * - `emptyDir`: a directory in the pod directory (its `sizeLimit` is not
 *   enforced on disk); with `medium: Memory`, a tmpfs limited to `sizeLimit`.
 * - `hostPath`: the node path itself, after the check its `type` asks for
 *   (created for `DirectoryOrCreate` and `FileOrCreate`).
 * - `configMap`, `secret`, `downwardAPI`, `projected`: files written
 *   atomically the Kubernetes way ({@linkcode writeAtomically}), with
 *   `items`, `defaultMode` and per-item modes, missing objects allowed when
 *   `optional`; rewritten on every sync, so they follow changes.
 * - `persistentVolumeClaim`: claim, then bound PersistentVolume, then its
 *   `csi` source published by the VolumePlugin of that driver (or its
 *   `hostPath`/`local` path); inline `csi` volumes are published as
 *   ephemeral volumes.
 *
 * What was mounted or published is written to `volumes.json` in the pod
 * directory before it is done, so a restarted agent (or one cleaning up a
 * pod deleted while it was down) can undo it.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { dirname, join } from "node:path";
import { type Pod, type PodSpec, toBytes, type Volume } from "@skiff/api";
import { type CsiClient, CsiVolumePlugin, discoverPlugins, type PodVolume, type VolumePlugin } from "../volume/mod.ts";
import type { Exec } from "../_exec.ts";
import { type Payload, type PayloadFile, writeAtomically } from "./atomic_writer.ts";
import { type PodAddresses, podFieldValue, resourceFieldValue } from "./downward_api.ts";
import { mountTmpfs, removeUnmounted, unmountAll } from "./_mounts.ts";
import type { ObjectReader } from "./_objects.ts";
import { podDir, podsRoot } from "./pod_paths.ts";

/** Where the agent finds the VolumePlugin of a CSI driver. */
export interface VolumePluginRegistry {
  /** The plugin of `driverName`, or undefined when no plugin serves that driver (yet). */
  plugin(driverName: string): Promise<VolumePlugin | undefined>;
  /** Releases what the registry holds (connections). */
  close?(): void;
}

/** A registry of the given plugins. */
export function staticVolumePlugins(plugins: Iterable<VolumePlugin>): VolumePluginRegistry {
  const byDriver = new Map([...plugins].map((p) => [p.driverName, p]));
  return { plugin: (driverName) => Promise.resolve(byDriver.get(driverName)) };
}

/** Options of {@linkcode DiscoveredVolumePlugins}. */
export interface DiscoveredVolumePluginsOptions {
  /** Where plugins serve `<name>/csi.sock`, e.g. `<data-dir>/plugins`. */
  pluginsDir: string;
  /** The root of pod directories, `<data-dir>/pods`. */
  podsDir: string;
  /** Where the CSI plugin state (staging, publication records) goes, e.g. `<data-dir>/volumes`. */
  stateDir: string;
  /** Where discovery failures are reported. */
  log?: (line: string) => void;
}

/**
 * The CSI plugins found under the plugins directory
 * ({@linkcode discoverPlugins}), each wrapped in a
 * {@linkcode CsiVolumePlugin}; a driver not known yet is looked for again
 * when asked for, so plugins started after the agent are found.
 */
export class DiscoveredVolumePlugins implements VolumePluginRegistry {
  readonly #options: DiscoveredVolumePluginsOptions;
  readonly #plugins = new Map<string, { plugin: CsiVolumePlugin; client: CsiClient }>();
  #discovering: Promise<void> | undefined;

  /** Creates the registry; nothing is discovered until a driver is asked for. */
  constructor(options: DiscoveredVolumePluginsOptions) {
    this.#options = options;
  }

  /** The plugin of `driverName`, discovering plugins again when it is not known. */
  async plugin(driverName: string): Promise<VolumePlugin | undefined> {
    const known = this.#plugins.get(driverName);
    if (known) return known.plugin;
    this.#discovering ??= this.#discover().finally(() => this.#discovering = undefined);
    await this.#discovering;
    return this.#plugins.get(driverName)?.plugin;
  }

  async #discover(): Promise<void> {
    const { plugins, failures } = await discoverPlugins(this.#options.pluginsDir);
    for (const failure of failures) {
      this.#options.log?.(`CSI plugin at "${failure.socketPath}" is not usable: ${failure.error.message}`);
    }
    for (const found of plugins) {
      if (this.#plugins.has(found.driverName)) {
        found.client.close();
        continue;
      }
      try {
        const plugin = await CsiVolumePlugin.create(found.client, {
          podsDir: this.#options.podsDir,
          stateDir: this.#options.stateDir,
        });
        this.#plugins.set(found.driverName, { plugin, client: found.client });
      } catch (error) {
        found.client.close();
        this.#options.log?.(
          `CSI plugin "${found.driverName}" at "${found.endpoint}" did not answer its capabilities: ${
            error instanceof Error ? error.message : error
          }`,
        );
      }
    }
  }

  /** Closes every plugin connection. */
  close(): void {
    for (const { client } of this.#plugins.values()) client.close();
    this.#plugins.clear();
  }
}

/** A volume ready for containers to bind. */
export interface PodVolumeMount {
  /** The host path to bind. */
  hostPath: string;
  /** Bind read-only whatever the mount says (configMap, secret, downwardAPI, projected, read-only claims). */
  readOnly: boolean;
}

/** A volume that could not be set up. */
export interface VolumeFailure {
  /** The volume's name. */
  volume: string;
  /** Why, as the kubelet's FailedMount event says it. */
  message: string;
}

/** What {@linkcode VolumeHook.setUp} did. */
export interface VolumeSetUp {
  /** The volumes set up, by name. */
  mounts: Map<string, PodVolumeMount>;
  /** The volumes that could not be set up. */
  failures: VolumeFailure[];
}

/** What `volumes.json` remembers. */
interface VolumeRecord {
  tmpfs: string[];
  csi: { driver: string; volumeName: string; volumeId: string }[];
}

/** Options of {@linkcode VolumeHook}. */
export interface VolumeHookOptions {
  /** The agent's data directory. */
  dataDir: string;
  /** The CSI plugins. */
  plugins: VolumePluginRegistry;
  /** Runs `mount` and `umount` (default: the agent's exec). */
  exec?: Exec;
}

const KIND_DIRS = {
  emptyDir: "kubernetes.io~empty-dir",
  configMap: "kubernetes.io~configmap",
  secret: "kubernetes.io~secret",
  downwardAPI: "kubernetes.io~downward-api",
  projected: "kubernetes.io~projected",
} as const;

class VolumeError extends Error {}

/** PersistentVolume spec fields that are not a volume source. */
const PV_FIELDS_NOT_SOURCES: ReadonlySet<string> = new Set([
  "capacity",
  "accessModes",
  "claimRef",
  "persistentVolumeReclaimPolicy",
  "storageClassName",
  "mountOptions",
  "volumeMode",
  "nodeAffinity",
]);

function decodeBase64(value: string): Uint8Array {
  return Uint8Array.from(atob(value), (c) => c.charCodeAt(0));
}

const encoder = new TextEncoder();

/** Sets up and tears down pods' volumes. */
export class VolumeHook {
  readonly #dataDir: string;
  readonly #plugins: VolumePluginRegistry;
  readonly #exec: Exec | undefined;
  /** By pod uid: volumes mounted or published in this agent run (not done again each sync). */
  readonly #done = new Map<string, Map<string, PodVolumeMount>>();

  /** Creates the hook. */
  constructor(options: VolumeHookOptions) {
    this.#dataDir = options.dataDir;
    this.#plugins = options.plugins;
    this.#exec = options.exec;
  }

  /** The directory of a pod's volume of a kind. */
  volumeDir(podUid: string, kind: keyof typeof KIND_DIRS, name: string): string {
    return join(podDir(this.#dataDir, podUid), "volumes", KIND_DIRS[kind], name);
  }

  /**
   * Sets up every volume of `pod` (again: files are refreshed, mounts and
   * publications are kept), reporting each that fails.
   */
  async setUp(pod: Pod, context: { objects: ObjectReader; addresses: PodAddresses }): Promise<VolumeSetUp> {
    const uid = pod.metadata.uid ?? "";
    const spec = pod.spec ?? { containers: [] };
    const mounts = new Map<string, PodVolumeMount>();
    const failures: VolumeFailure[] = [];
    let done = this.#done.get(uid);
    if (!done) {
      done = new Map();
      this.#done.set(uid, done);
    }
    for (const volume of spec.volumes ?? []) {
      try {
        const kept = done.get(volume.name);
        const mount = kept ?? await this.#setUpOne(pod, spec, volume, context);
        if (!kept && (volume.emptyDir || volume.persistentVolumeClaim || volume.csi)) done.set(volume.name, mount);
        mounts.set(volume.name, mount);
      } catch (error) {
        failures.push({ volume: volume.name, message: error instanceof Error ? error.message : String(error) });
      }
    }
    return { mounts, failures };
  }

  async #setUpOne(
    pod: Pod,
    spec: PodSpec,
    volume: Volume,
    context: { objects: ObjectReader; addresses: PodAddresses },
  ): Promise<PodVolumeMount> {
    const uid = pod.metadata.uid ?? "";
    const namespace = pod.metadata.namespace ?? "default";
    if (volume.emptyDir) {
      const dir = this.volumeDir(uid, "emptyDir", volume.name);
      if (volume.emptyDir.medium === "Memory") {
        await this.#remember(uid, (r) => void (r.tmpfs.includes(dir) || r.tmpfs.push(dir)));
        const sizeBytes = volume.emptyDir.sizeLimit ? toBytes(volume.emptyDir.sizeLimit) : undefined;
        await mountTmpfs(dir, { ...(sizeBytes !== undefined ? { sizeBytes } : {}), ...this.#execOption() });
      } else {
        await Deno.mkdir(dir, { recursive: true });
        await Deno.chmod(dir, 0o777);
      }
      return { hostPath: dir, readOnly: false };
    }
    if (volume.hostPath) {
      await checkHostPath(volume.hostPath.path, volume.hostPath.type ?? "");
      return { hostPath: volume.hostPath.path, readOnly: false };
    }
    if (volume.configMap) {
      const source = volume.configMap;
      const payload = await configMapPayload(context.objects, namespace, source, source.defaultMode ?? 0o644);
      const dir = this.volumeDir(uid, "configMap", volume.name);
      await writeAtomically(dir, payload);
      return { hostPath: dir, readOnly: true };
    }
    if (volume.secret) {
      const source = volume.secret;
      const payload = await secretPayload(context.objects, namespace, {
        ...source,
        name: source.secretName ?? "",
      }, source.defaultMode ?? 0o644);
      const dir = this.volumeDir(uid, "secret", volume.name);
      await writeAtomically(dir, payload);
      return { hostPath: dir, readOnly: true };
    }
    if (volume.downwardAPI) {
      const payload = await downwardPayload(pod, volume.downwardAPI.items ?? [], {
        ...context,
        defaultMode: volume.downwardAPI.defaultMode ?? 0o644,
      });
      const dir = this.volumeDir(uid, "downwardAPI", volume.name);
      await writeAtomically(dir, payload);
      return { hostPath: dir, readOnly: true };
    }
    if (volume.projected) {
      const defaultMode = volume.projected.defaultMode ?? 0o644;
      const payload: Payload = new Map();
      for (const source of volume.projected.sources ?? []) {
        let part: Payload;
        if (source.configMap) part = await configMapPayload(context.objects, namespace, source.configMap, defaultMode);
        else if (source.secret) {
          part = await secretPayload(
            context.objects,
            namespace,
            { ...source.secret, name: source.secret.name ?? "" },
            defaultMode,
          );
        } else if (source.downwardAPI) {
          part = await downwardPayload(pod, source.downwardAPI.items ?? [], { ...context, defaultMode });
        } else if (source.serviceAccountToken) {
          throw new VolumeError(
            `cannot project a service account token at "${source.serviceAccountToken.path}": ` +
              "this cluster does not issue service account tokens",
          );
        } else continue;
        for (const [path, file] of part) payload.set(path, file);
      }
      const dir = this.volumeDir(uid, "projected", volume.name);
      await writeAtomically(dir, payload);
      return { hostPath: dir, readOnly: true };
    }
    if (volume.persistentVolumeClaim) return await this.#claim(pod, volume, context.objects);
    if (volume.csi) {
      const csi = volume.csi;
      const volumeId = `csi-${createHash("sha256").update(`${uid}/${volume.name}`).digest("hex")}`;
      return await this.#publish(uid, volume.name, csi.driver, {
        volumeId,
        readOnly: csi.readOnly ?? false,
        accessMode: "SINGLE_NODE_WRITER",
        ...(csi.fsType ? { fsType: csi.fsType } : {}),
        volumeContext: {
          ...csi.volumeAttributes,
          "csi.storage.k8s.io/ephemeral": "true",
          "csi.storage.k8s.io/pod.name": pod.metadata.name ?? "",
          "csi.storage.k8s.io/pod.namespace": namespace,
          "csi.storage.k8s.io/pod.uid": uid,
          "csi.storage.k8s.io/serviceAccount.name": spec.serviceAccountName ?? "default",
        },
      });
    }
    const kind = Object.keys(volume).find((k) => k !== "name") ?? "none";
    throw new VolumeError(`volume source "${kind}" is not supported on this node`);
  }

  async #claim(pod: Pod, volume: Volume, objects: ObjectReader): Promise<PodVolumeMount> {
    const uid = pod.metadata.uid ?? "";
    const namespace = pod.metadata.namespace ?? "default";
    const source = volume.persistentVolumeClaim!;
    const claim = await objects.claim(namespace, source.claimName);
    if (!claim) throw new VolumeError(`persistentvolumeclaim "${source.claimName}" not found`);
    const pvName = claim.spec?.volumeName;
    if (!pvName || claim.status?.phase !== "Bound") {
      throw new VolumeError(`persistentvolumeclaim "${source.claimName}" is not bound to a volume yet`);
    }
    const pv = await objects.volume(pvName);
    if (!pv) throw new VolumeError(`persistentvolume "${pvName}" not found`);
    const claimRef = pv.spec?.claimRef;
    if (claimRef?.uid && claimRef.uid !== claim.metadata.uid) {
      throw new VolumeError(`persistentvolume "${pvName}" is bound to another claim`);
    }
    const readOnly = source.readOnly === true;
    const spec = pv.spec ?? {};
    if (spec.csi) {
      const modes = spec.accessModes ?? [];
      const accessMode: NonNullable<PodVolume["accessMode"]> = modes.includes("ReadWriteOncePod")
        ? "SINGLE_NODE_SINGLE_WRITER"
        : modes.includes("ReadWriteMany")
        ? "MULTI_NODE_MULTI_WRITER"
        : modes.includes("ReadOnlyMany") && !modes.includes("ReadWriteOnce")
        ? "MULTI_NODE_READER_ONLY"
        : "SINGLE_NODE_WRITER";
      return await this.#publish(uid, volume.name, spec.csi.driver, {
        volumeId: spec.csi.volumeHandle,
        readOnly: readOnly || spec.csi.readOnly === true,
        accessMode,
        ...(spec.csi.fsType ? { fsType: spec.csi.fsType } : {}),
        ...(spec.mountOptions ? { mountFlags: spec.mountOptions } : {}),
        ...(spec.csi.volumeAttributes ? { volumeContext: spec.csi.volumeAttributes } : {}),
      });
    }
    if (spec.hostPath) {
      await checkHostPath(spec.hostPath.path, (spec.hostPath.type ?? "") as NonNullable<Volume["hostPath"]>["type"]);
      return { hostPath: spec.hostPath.path, readOnly };
    }
    if (spec.local) {
      await checkHostPath(spec.local.path, "");
      return { hostPath: spec.local.path, readOnly };
    }
    const kind = Object.keys(spec).find((k) => !PV_FIELDS_NOT_SOURCES.has(k)) ?? "no";
    throw new VolumeError(`persistentvolume "${pvName}" has a "${kind}" source, which this node cannot mount`);
  }

  async #publish(
    podUid: string,
    volumeName: string,
    driver: string,
    volume: Omit<PodVolume, "podUid" | "volumeName">,
  ): Promise<PodVolumeMount> {
    const plugin = await this.#plugins.plugin(driver);
    if (!plugin) throw new VolumeError(`driver name ${driver} not found in the list of registered CSI drivers`);
    await this.#remember(podUid, (r) => {
      if (!r.csi.some((c) => c.volumeName === volumeName)) {
        r.csi.push({ driver, volumeName, volumeId: volume.volumeId });
      }
    });
    const published = await plugin.publish({ ...volume, podUid, volumeName });
    return { hostPath: published.targetPath, readOnly: published.readOnly };
  }

  /**
   * Unmounts and unpublishes every volume of pod `podUid` (from its
   * `volumes.json`, so this works for pods this agent never ran) and
   * removes the pod's volume directories.
   *
   * @throws {Error} when a volume cannot be taken away (its plugin is gone); nothing is removed then.
   */
  async tearDown(podUid: string): Promise<void> {
    const record = await this.#load(podUid);
    const exec = this.#exec;
    for (const path of record.tmpfs) await unmountAll(path, ...(exec ? [exec] : []));
    for (const entry of [...record.csi]) {
      const plugin = await this.#plugins.plugin(entry.driver);
      if (!plugin) {
        throw new Error(
          `Cannot unpublish volume "${entry.volumeName}" of pod ${podUid}: CSI driver "${entry.driver}" is not ` +
            "registered; start its plugin so the volume can be released",
        );
      }
      await plugin.unpublish({ podUid, volumeName: entry.volumeName, volumeId: entry.volumeId });
      await this.#remember(podUid, (r) => r.csi = r.csi.filter((c) => c.volumeName !== entry.volumeName));
    }
    this.#done.delete(podUid);
    const dir = podDir(this.#dataDir, podUid);
    await removeUnmounted(join(dir, "volumes"));
    await Deno.remove(join(dir, "volumes.json")).catch((error) => {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    });
  }

  /** Forgets what was set up for a pod in this run (its volumes are set up again on the next sync). */
  forget(podUid: string): void {
    this.#done.delete(podUid);
  }

  /** The uids of pod directories on the node. */
  async podDirs(): Promise<string[]> {
    const uids: string[] = [];
    try {
      for await (const entry of Deno.readDir(podsRoot(this.#dataDir))) if (entry.isDirectory) uids.push(entry.name);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    return uids;
  }

  #execOption(): { exec?: Exec } {
    return this.#exec ? { exec: this.#exec } : {};
  }

  #recordPath(podUid: string): string {
    return join(podDir(this.#dataDir, podUid), "volumes.json");
  }

  async #load(podUid: string): Promise<VolumeRecord> {
    try {
      const record = JSON.parse(await Deno.readTextFile(this.#recordPath(podUid))) as Partial<VolumeRecord>;
      return { tmpfs: record.tmpfs ?? [], csi: record.csi ?? [] };
    } catch (error) {
      if (error instanceof Deno.errors.NotFound || error instanceof SyntaxError) return { tmpfs: [], csi: [] };
      throw error;
    }
  }

  async #remember(podUid: string, change: (record: VolumeRecord) => void): Promise<void> {
    const record = await this.#load(podUid);
    const before = JSON.stringify(record);
    change(record);
    const after = JSON.stringify(record);
    if (after === before) return;
    const path = this.#recordPath(podUid);
    await Deno.mkdir(dirname(path), { recursive: true });
    const tmp = `${path}.tmp`;
    await Deno.writeTextFile(tmp, after);
    await Deno.rename(tmp, path);
  }
}

/**
 * Checks a hostPath as its `type` asks, creating it for
 * `DirectoryOrCreate` (mode 0755, with parents) and `FileOrCreate` (an
 * empty file, mode 0644, in an existing directory).
 *
 * @throws {Error} with the kubelet's "hostPath type check failed" message.
 */
export async function checkHostPath(path: string, type: NonNullable<Volume["hostPath"]>["type"]): Promise<void> {
  if (!path.startsWith("/")) throw new VolumeError(`hostPath "${path}" is not an absolute path`);
  const stat = async () => {
    try {
      return await Deno.stat(path);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return undefined;
      throw error;
    }
  };
  const fail = (what: string) => new VolumeError(`hostPath type check failed: ${path} is not ${what}`);
  let info = await stat();
  switch (type ?? "") {
    case "":
      return;
    case "DirectoryOrCreate":
      if (!info) {
        await Deno.mkdir(path, { recursive: true, mode: 0o755 });
        return;
      }
      if (!info.isDirectory) throw fail("a directory");
      return;
    case "Directory":
      if (!info?.isDirectory) throw fail("a directory");
      return;
    case "FileOrCreate":
      if (!info) {
        try {
          const file = await Deno.open(path, { create: true, write: true, mode: 0o644 });
          file.close();
        } catch (error) {
          throw new VolumeError(`hostPath type check failed: cannot create file ${path}: ${(error as Error).message}`);
        }
        info = await stat();
      }
      if (!info?.isFile) throw fail("a file");
      return;
    case "File":
      if (!info?.isFile) throw fail("a file");
      return;
    case "Socket":
      if (!info?.isSocket) throw fail("a socket file");
      return;
    case "CharDevice":
      if (!info?.isCharDevice) throw fail("a character device");
      return;
    case "BlockDevice":
      if (!info?.isBlockDevice) throw fail("a block device");
      return;
    default:
      throw new VolumeError(`hostPath type "${type}" is not one Kubernetes knows`);
  }
}

type KeySource = {
  name?: string;
  items?: { key: string; path: string; mode?: number }[];
  optional?: boolean;
};

function keyedPayload(
  values: Map<string, Uint8Array>,
  source: KeySource,
  defaultMode: number,
  missingKey: (key: string) => string,
): Payload {
  const payload: Payload = new Map();
  if (!source.items || source.items.length === 0) {
    for (const [key, data] of values) payload.set(key, { data, mode: defaultMode });
    return payload;
  }
  for (const item of source.items) {
    const data = values.get(item.key);
    if (data === undefined) {
      if (source.optional) continue;
      throw new VolumeError(missingKey(item.key));
    }
    payload.set(item.path, { data, mode: item.mode ?? defaultMode });
  }
  return payload;
}

async function configMapPayload(
  objects: ObjectReader,
  namespace: string,
  source: KeySource,
  defaultMode: number,
): Promise<Payload> {
  const name = source.name ?? "";
  const cm = await objects.configMap(namespace, name);
  if (!cm) {
    if (source.optional) return new Map();
    throw new VolumeError(`configmap "${name}" not found`);
  }
  const values = new Map<string, Uint8Array>();
  for (const [key, value] of Object.entries(cm.data ?? {})) values.set(key, encoder.encode(value));
  for (const [key, value] of Object.entries(cm.binaryData ?? {})) values.set(key, decodeBase64(value));
  return keyedPayload(values, source, defaultMode, (key) => `configmap references non-existent config key: ${key}`);
}

async function secretPayload(
  objects: ObjectReader,
  namespace: string,
  source: KeySource,
  defaultMode: number,
): Promise<Payload> {
  const name = source.name ?? "";
  const secret = await objects.secret(namespace, name);
  if (!secret) {
    if (source.optional) return new Map();
    throw new VolumeError(`secret "${name}" not found`);
  }
  const values = new Map<string, Uint8Array>();
  for (const [key, value] of Object.entries(secret.data ?? {})) values.set(key, decodeBase64(value));
  return keyedPayload(values, source, defaultMode, (key) => `references non-existent secret key: ${key}`);
}

async function downwardPayload(
  pod: Pod,
  items: NonNullable<NonNullable<Volume["downwardAPI"]>["items"]>,
  context: { objects: ObjectReader; addresses: PodAddresses; defaultMode: number },
): Promise<Payload> {
  const payload: Payload = new Map();
  for (const item of items) {
    let value: string;
    if (item.fieldRef) {
      value = podFieldValue(pod, item.fieldRef, { ...context.addresses, use: "volume" });
    } else if (item.resourceFieldRef) {
      const containers = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])];
      value = resourceFieldValue(containers, item.resourceFieldRef, {
        allocatable: await context.objects.allocatable(),
      });
    } else {
      throw new VolumeError(`downwardAPI item "${item.path}" has neither fieldRef nor resourceFieldRef`);
    }
    const file: PayloadFile = { data: encoder.encode(value), mode: item.mode ?? context.defaultMode };
    payload.set(item.path, file);
  }
  return payload;
}
