/**
 * The node's volume provisioner, as Kubernetes' external-provisioner in its
 * distributed (per-node) mode: node-local volumes can only be made by the
 * CSI plugin on their node, so each agent provisions the claims the
 * scheduler selected its node for.
 *
 * - At start it asks each CSI plugin for its capabilities and topology,
 *   and labels the Node with the topology segments (as the kubelet does)
 *   and `csi.skiff.dev/<driver>: "true"` for each driver that creates
 *   volumes, so the scheduler knows where each driver provisions; the free
 *   bytes each driver reports are kept in `capacity.csi.skiff.dev/<driver>`.
 * - A claim with `volume.kubernetes.io/selected-node` = this node, handed to
 *   one of its drivers (`volume.kubernetes.io/storage-provisioner`, set by
 *   the PersistentVolume controller when no existing volume fits), gets a
 *   CSI CreateVolume named `pvc-<claim uid>` (idempotent, so a restart
 *   picks up where it stopped) of the requested size, in this node's
 *   topology, then a PersistentVolume reserved for the claim (claimRef),
 *   pinned to this node, which the controller binds. A driver that cannot
 *   hold the volume (RESOURCE_EXHAUSTED, OUT_OF_RANGE) gives the claim back
 *   to the scheduler by taking the selected node away.
 * - A volume it provisioned that is Released with reclaim policy Delete
 *   (or deleted while unbound) gets CSI DeleteVolume, then the
 *   PersistentVolume goes.
 *
 * Events on the claim: Provisioning, ProvisioningSucceeded,
 * ProvisioningFailed (with the CSI error).
 *
 * @module
 */

import { status as grpcStatus } from "@grpc/grpc-js";
import {
  AlreadyExistsError,
  ANNOTATION_BETA_STORAGE_PROVISIONER,
  ANNOTATION_CSI_CAPACITY_PREFIX,
  ANNOTATION_PROVISIONED_BY,
  ANNOTATION_SELECTED_NODE,
  ANNOTATION_STORAGE_PROVISIONER,
  type Clock,
  ConflictError,
  FINALIZER_EXTERNAL_PROVISIONER,
  LABEL_CSI_DRIVER_PREFIX,
  LABEL_HOSTNAME,
  type Node,
  type NodeSelectorRequirement,
  NotFoundError,
  type PersistentVolume,
  type PersistentVolumeAccessMode,
  type PersistentVolumeClaim,
  Quantity,
  type StorageClass,
  systemClock,
  toBytes,
} from "@skiff/api";
import { type ApiClient, type EventRecorder, Informer, runWorkers, WorkQueue } from "@skiff/client";
import type { AccessModeName, CreateVolumeRequest, VolumeCapability } from "@skiff/csi-local";
import { type CsiClient, CsiError } from "../volume/mod.ts";

/** StorageClass parameter naming the filesystem type of provisioned volumes. */
export const PARAMETER_FS_TYPE = "csi.storage.k8s.io/fstype";
/** Prefix of StorageClass parameters meant for the provisioner, not the CSI driver. */
const RESERVED_PARAMETER_PREFIX = "csi.storage.k8s.io/";
/** How often the drivers' free bytes are reported again, by default. */
export const DEFAULT_CAPACITY_INTERVAL_MS = 60_000;

/** A CSI plugin the provisioner may use. */
export interface ProvisionerPlugin {
  /** Its driver name. */
  driverName: string;
  /** A client of it. */
  client: CsiClient;
}

/** Options of {@linkcode VolumeProvisioner}. */
export interface VolumeProvisionerOptions {
  /** The agent's API client (node credentials). */
  client: ApiClient;
  /** This node's name. */
  nodeName: string;
  /** The node's CSI plugins, as {@linkcode discoverPlugins} found them; those without CREATE_DELETE_VOLUME are left out. */
  plugins: readonly ProvisionerPlugin[];
  /** Records Provisioning events on claims. */
  recorder: EventRecorder;
  /** Time source. */
  clock?: Clock;
  /** Where progress and problems are told. */
  log?: (line: string) => void;
  /** How often free capacity is reported again (default 60 s; it is also reported after each create and delete). */
  capacityIntervalMs?: number;
}

/** A driver that creates volumes on this node. */
interface Driver {
  name: string;
  client: CsiClient;
  /** Its topology segments for this node, from NodeGetInfo. */
  topology: Record<string, string>;
  /** It answers GetCapacity. */
  capacity: boolean;
}

const CLAIM = "claim/";
const VOLUME = "volume/";

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The CSI access mode a Kubernetes access mode asks for. */
function csiAccessMode(mode: PersistentVolumeAccessMode): AccessModeName {
  switch (mode) {
    case "ReadWriteOncePod":
      return "SINGLE_NODE_SINGLE_WRITER";
    case "ReadOnlyMany":
      return "MULTI_NODE_READER_ONLY";
    case "ReadWriteMany":
      return "MULTI_NODE_MULTI_WRITER";
    default:
      return "SINGLE_NODE_WRITER";
  }
}

/** The node a volume's node affinity pins it to by hostname, when every term does. */
function pinnedNode(volume: PersistentVolume): string | undefined {
  const terms = volume.spec?.nodeAffinity?.required?.nodeSelectorTerms ?? [];
  const names = new Set(terms.map((term) => {
    const expression = term.matchExpressions?.find((e) =>
      e.key === LABEL_HOSTNAME && e.operator === "In" && e.values?.length === 1
    );
    return expression?.values?.[0];
  }));
  return names.size === 1 && !names.has(undefined) ? [...names][0] : undefined;
}

/** The provisioner. */
export class VolumeProvisioner {
  readonly #o: VolumeProvisionerOptions;
  readonly #clock: Clock;
  readonly #log: (line: string) => void;
  readonly #drivers = new Map<string, Driver>();
  readonly #queue: WorkQueue;
  #claims: Informer<PersistentVolumeClaim> | undefined;
  #volumes: Informer<PersistentVolume> | undefined;
  #classes: Informer<StorageClass> | undefined;
  #workers: Promise<void> | undefined;
  #capacityTimer: number | undefined;
  #reporting: Promise<void> | undefined;
  #reportAgain = false;
  #stopped = false;

  /** Creates the provisioner; {@linkcode VolumeProvisioner.start} starts it. */
  constructor(options: VolumeProvisionerOptions) {
    if (!options.nodeName) throw new TypeError("Missing nodeName");
    const interval = options.capacityIntervalMs ?? DEFAULT_CAPACITY_INTERVAL_MS;
    if (!(interval > 0)) throw new RangeError(`capacityIntervalMs must be a positive number, got ${interval}`);
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
    this.#log = options.log ?? ((line) => console.error(line));
    this.#queue = new WorkQueue({ clock: this.#clock, baseDelayMs: 500, maxDelayMs: 5 * 60_000 });
  }

  /** The drivers that provision volumes on this node (after start). */
  get drivers(): string[] {
    return [...this.#drivers.keys()];
  }

  /**
   * Finds which plugins create volumes, labels the Node, starts following
   * claims and volumes, and reports free capacity; resolves once the caches
   * are filled and the capacity is reported.
   * A plugin that does not answer is left out (and said so).
   *
   * @throws {ApiError} when the Node cannot be labelled.
   */
  async start(): Promise<void> {
    for (const plugin of this.#o.plugins) {
      try {
        const driver = await this.#inspect(plugin);
        if (driver) this.#drivers.set(driver.name, driver);
      } catch (error) {
        this.#log(
          `Volume provisioner: CSI driver "${plugin.driverName}" did not say what it can do (${
            errorMessage(error)
          }); its claims are not provisioned on this node`,
        );
      }
    }
    await this.#labelNode();
    const { client } = this.#o;
    const onError = (error: unknown) => this.#log(`Volume provisioner: watch failed: ${errorMessage(error)}; retrying`);
    const informerOptions = { clock: this.#clock, onError };
    this.#claims = new Informer(client.kind<PersistentVolumeClaim>("v1", "PersistentVolumeClaim"), informerOptions);
    this.#volumes = new Informer(client.kind<PersistentVolume>("v1", "PersistentVolume"), informerOptions);
    this.#classes = new Informer(client.kind<StorageClass>("storage.k8s.io/v1", "StorageClass"), informerOptions);
    const onClaim = (claim: PersistentVolumeClaim) => {
      if (this.#selectedHere(claim)) this.#queue.add(`${CLAIM}${claim.metadata.namespace}/${claim.metadata.name}`);
    };
    this.#claims.on({ add: onClaim, update: (_old, claim) => onClaim(claim) });
    const onVolume = (volume: PersistentVolume) => {
      if (this.#provisionedHere(volume)) this.#queue.add(`${VOLUME}${volume.metadata.name}`);
    };
    this.#volumes.on({ add: onVolume, update: (_old, volume) => onVolume(volume) });
    const onClass = () => {
      for (const claim of this.#claims?.list() ?? []) onClaim(claim);
    };
    this.#classes.on({ add: onClass, update: onClass });
    await Promise.all([this.#classes.start(), this.#volumes.start(), this.#claims.start()]);
    this.#workers = runWorkers(this.#queue, 2, (key) => this.#reconcile(key), (key, error) => {
      if (this.#queue.retries(key) % 5 === 0) {
        this.#log(`Volume provisioner: ${key.replace("/", " ")}: ${errorMessage(error)}; retrying`);
      }
    });
    this.#reportCapacity();
    await this.#reporting;
    if (this.#drivers.size > 0) {
      this.#log(`Volume provisioner: provisions ${this.drivers.join(", ")} volumes on node "${this.#o.nodeName}"`);
    }
  }

  /** Stops following claims; calls in flight finish. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#capacityTimer !== undefined) this.#clock.clearTimeout(this.#capacityTimer);
    this.#queue.shutdown();
    this.#claims?.stop();
    this.#volumes?.stop();
    this.#classes?.stop();
    await this.#workers;
    await this.#reporting;
  }

  /** What a plugin can do; undefined when it does not create volumes. */
  async #inspect(plugin: ProvisionerPlugin): Promise<Driver | undefined> {
    const { client, driverName } = plugin;
    const services = (await client.getPluginCapabilities()).capabilities ?? [];
    const controller = services.some((c) => c.service?.type === "CONTROLLER_SERVICE");
    const rpcs = new Set<string>();
    if (controller) {
      for (const c of (await client.controllerGetCapabilities()).capabilities ?? []) rpcs.add(String(c.rpc?.type));
    }
    if (!rpcs.has("CREATE_DELETE_VOLUME")) {
      this.#log(
        `Volume provisioner: CSI driver "${driverName}" does not create volumes (no CREATE_DELETE_VOLUME); ` +
          "its volumes must be made by hand as PersistentVolumes",
      );
      return undefined;
    }
    const info = await client.nodeGetInfo();
    return {
      name: driverName,
      client,
      topology: { ...info.accessibleTopology?.segments },
      capacity: rpcs.has("GET_CAPACITY"),
    };
  }

  /** Labels the Node with its drivers and their topology, and drops labels of drivers it no longer has. */
  async #labelNode(): Promise<void> {
    const nodes = this.#o.client.kind<Node>("v1", "Node");
    const node = await nodes.get(this.#o.nodeName);
    const labels: Record<string, string | null> = {};
    const annotations: Record<string, string | null> = {};
    for (const key of Object.keys(node.metadata.labels ?? {})) {
      if (key.startsWith(LABEL_CSI_DRIVER_PREFIX) && !this.#drivers.has(key.slice(LABEL_CSI_DRIVER_PREFIX.length))) {
        labels[key] = null;
      }
    }
    for (const key of Object.keys(node.metadata.annotations ?? {})) {
      const driver = key.slice(ANNOTATION_CSI_CAPACITY_PREFIX.length);
      if (key.startsWith(ANNOTATION_CSI_CAPACITY_PREFIX) && !this.#drivers.get(driver)?.capacity) {
        annotations[key] = null;
      }
    }
    for (const driver of this.#drivers.values()) {
      Object.assign(labels, driver.topology);
      labels[`${LABEL_CSI_DRIVER_PREFIX}${driver.name}`] = "true";
    }
    const changed = (current: Record<string, string> | undefined, want: Record<string, string | null>) =>
      Object.entries(want).some(([k, v]) => (current?.[k] ?? null) !== v);
    if (!changed(node.metadata.labels, labels) && !changed(node.metadata.annotations, annotations)) return;
    await nodes.patch(this.#o.nodeName, { metadata: { labels, annotations } });
  }

  #selectedHere(claim: PersistentVolumeClaim): boolean {
    return claim.metadata.annotations?.[ANNOTATION_SELECTED_NODE] === this.#o.nodeName && !claim.spec?.volumeName &&
      !claim.metadata.deletionTimestamp;
  }

  #provisionedHere(volume: PersistentVolume): boolean {
    const driver = volume.spec?.csi?.driver;
    return driver !== undefined && this.#drivers.has(driver) &&
      volume.metadata.annotations?.[ANNOTATION_PROVISIONED_BY] === driver && pinnedNode(volume) === this.#o.nodeName;
  }

  async #reconcile(key: string): Promise<void> {
    if (key.startsWith(CLAIM)) {
      const claim = this.#claims?.get(key.slice(CLAIM.length));
      if (claim && this.#selectedHere(claim)) await this.#provision(claim);
      return;
    }
    const volume = this.#volumes?.get(key.slice(VOLUME.length));
    if (volume && this.#provisionedHere(volume)) await this.#reclaim(volume);
  }

  // ------------------------------------------------------------ provision

  async #provision(claim: PersistentVolumeClaim): Promise<void> {
    const annotations = claim.metadata.annotations ?? {};
    const driverName = annotations[ANNOTATION_STORAGE_PROVISIONER] ?? annotations[ANNOTATION_BETA_STORAGE_PROVISIONER];
    const driver = driverName ? this.#drivers.get(driverName) : undefined;
    if (!driver) return;
    const className = claim.spec?.storageClassName ?? "";
    const storageClass = this.#classes?.get(className);
    if (storageClass?.provisioner !== driver.name) return;
    const volumeName = `pvc-${claim.metadata.uid}`;
    if (this.#volumes?.get(volumeName)) return;
    const { recorder } = this.#o;
    const claimName = `${claim.metadata.namespace}/${claim.metadata.name}`;
    const failed = (message: string) =>
      recorder.event(
        claim,
        "Warning",
        "ProvisioningFailed",
        `failed to provision volume with StorageClass "${className}": ${message}`,
      );
    if (claim.spec?.dataSource) {
      failed(`cannot populate a volume from ${claim.spec.dataSource.kind} "${claim.spec.dataSource.name}"`);
      return;
    }
    let request: CreateVolumeRequest;
    try {
      request = this.#createRequest(volumeName, claim, storageClass, driver);
    } catch (error) {
      failed(errorMessage(error));
      return;
    }
    recorder.event(
      claim,
      "Normal",
      "Provisioning",
      `External provisioner is provisioning volume for claim "${claimName}"`,
    );
    let created;
    try {
      created = (await driver.client.createVolume(request)).volume;
    } catch (error) {
      failed(errorMessage(error));
      if (
        error instanceof CsiError &&
        (error.code === grpcStatus.RESOURCE_EXHAUSTED || error.code === grpcStatus.OUT_OF_RANGE)
      ) {
        await this.#giveBack(claim, errorMessage(error));
        return;
      }
      throw error;
    }
    if (!created?.volumeId) {
      failed(`CSI driver "${driver.name}" answered CreateVolume without a volume id`);
      throw new Error(`CSI driver "${driver.name}" answered CreateVolume for "${volumeName}" without a volume id`);
    }
    const volume = this.#volumeObject(volumeName, claim, storageClass, {
      driver,
      volumeId: created.volumeId,
      capacityBytes: created.capacityBytes || request.capacityRange?.requiredBytes || 0,
      context: created.volumeContext ?? {},
      topologies: (created.accessibleTopology ?? []).map((t) => ({ ...t.segments })),
    });
    try {
      await this.#o.client.kind<PersistentVolume>("v1", "PersistentVolume").create(volume);
    } catch (error) {
      if (!(error instanceof AlreadyExistsError)) {
        failed(`cannot create PersistentVolume "${volumeName}": ${errorMessage(error)}`);
        throw error;
      }
    }
    recorder.event(claim, "Normal", "ProvisioningSucceeded", `Successfully provisioned volume ${volumeName}`);
    this.#reportCapacity();
  }

  /** The CreateVolume request for a claim. */
  #createRequest(
    name: string,
    claim: PersistentVolumeClaim,
    storageClass: StorageClass,
    driver: Driver,
  ): CreateVolumeRequest {
    const spec = claim.spec ?? {};
    const requested = spec.resources?.requests?.storage;
    if (requested === undefined) throw new TypeError("the claim requests no storage (spec.resources.requests.storage)");
    const limit = spec.resources?.limits?.storage;
    const parameters = storageClass.parameters ?? {};
    const fsType = parameters[PARAMETER_FS_TYPE] ?? "";
    const block = spec.volumeMode === "Block";
    const modes = spec.accessModes?.length ? spec.accessModes : ["ReadWriteOnce" as const];
    const capabilities: VolumeCapability[] = modes.map((mode) => ({
      ...(block ? { block: {} } : { mount: { fsType, mountFlags: storageClass.mountOptions ?? [] } }),
      accessMode: { mode: csiAccessMode(mode) },
    }));
    const topology = { segments: driver.topology };
    return {
      name,
      capacityRange: { requiredBytes: toBytes(requested), limitBytes: limit === undefined ? 0 : toBytes(limit) },
      volumeCapabilities: capabilities,
      parameters: Object.fromEntries(
        Object.entries(parameters).filter(([key]) => !key.startsWith(RESERVED_PARAMETER_PREFIX)),
      ),
      ...(Object.keys(driver.topology).length > 0
        ? { accessibilityRequirements: { requisite: [topology], preferred: [topology] } }
        : {}),
    };
  }

  /** The PersistentVolume for a created volume: reserved for the claim, pinned to this node. */
  #volumeObject(
    name: string,
    claim: PersistentVolumeClaim,
    storageClass: StorageClass,
    created: {
      driver: Driver;
      volumeId: string;
      capacityBytes: number;
      context: Record<string, string>;
      topologies: Record<string, string>[];
    },
  ): PersistentVolume {
    const { driver } = created;
    const policy = storageClass.reclaimPolicy ?? "Delete";
    const hostname: NodeSelectorRequirement = { key: LABEL_HOSTNAME, operator: "In", values: [this.#o.nodeName] };
    const topologies = created.topologies.length > 0 ? created.topologies : [driver.topology];
    const terms = topologies.map((segments) => ({
      matchExpressions: [
        ...Object.entries(segments).map(([key, value]): NodeSelectorRequirement => ({
          key,
          operator: "In",
          values: [value],
        })),
        hostname,
      ],
    }));
    const fsType = storageClass.parameters?.[PARAMETER_FS_TYPE];
    const spec = claim.spec ?? {};
    return {
      apiVersion: "v1",
      kind: "PersistentVolume",
      metadata: {
        name,
        annotations: { [ANNOTATION_PROVISIONED_BY]: driver.name },
        ...(policy === "Delete" ? { finalizers: [FINALIZER_EXTERNAL_PROVISIONER] } : {}),
      },
      spec: {
        capacity: { storage: Quantity.fromValue(created.capacityBytes, "BinarySI").toString() },
        accessModes: spec.accessModes?.length ? spec.accessModes : ["ReadWriteOnce"],
        persistentVolumeReclaimPolicy: policy,
        storageClassName: storageClass.metadata.name!,
        volumeMode: spec.volumeMode ?? "Filesystem",
        ...(storageClass.mountOptions?.length ? { mountOptions: storageClass.mountOptions } : {}),
        claimRef: {
          kind: "PersistentVolumeClaim",
          apiVersion: "v1",
          namespace: claim.metadata.namespace!,
          name: claim.metadata.name!,
          uid: claim.metadata.uid!,
          resourceVersion: claim.metadata.resourceVersion!,
        },
        nodeAffinity: { required: { nodeSelectorTerms: terms } },
        csi: {
          driver: driver.name,
          volumeHandle: created.volumeId,
          ...(fsType ? { fsType } : {}),
          ...(Object.keys(created.context).length > 0 ? { volumeAttributes: created.context } : {}),
        },
      },
    };
  }

  /** Takes this node's selection away from a claim it cannot hold, so the scheduler picks another node. */
  async #giveBack(claim: PersistentVolumeClaim, why: string): Promise<void> {
    try {
      await this.#o.client.kind<PersistentVolumeClaim>("v1", "PersistentVolumeClaim").patch(claim.metadata.name!, {
        metadata: {
          resourceVersion: claim.metadata.resourceVersion,
          annotations: { [ANNOTATION_SELECTED_NODE]: null },
        },
      }, { namespace: claim.metadata.namespace! });
      this.#log(
        `Volume provisioner: claim ${claim.metadata.namespace}/${claim.metadata.name} does not fit on this node (${why}); ` +
          "handed back to the scheduler",
      );
    } catch (error) {
      if (error instanceof NotFoundError) return;
      throw error;
    }
  }

  // -------------------------------------------------------------- reclaim

  async #reclaim(volume: PersistentVolume): Promise<void> {
    const name = volume.metadata.name!;
    const policy = volume.spec?.persistentVolumeReclaimPolicy ?? "Retain";
    const deleting = Boolean(volume.metadata.deletionTimestamp);
    const phase = volume.status?.phase;
    const holding = volume.metadata.finalizers?.includes(FINALIZER_EXTERNAL_PROVISIONER) ?? false;
    if (policy !== "Delete") {
      if (deleting && holding) await this.#release(name);
      return;
    }
    if (phase !== "Released" && !(deleting && phase !== "Bound")) return;
    const driver = this.#drivers.get(volume.spec!.csi!.driver)!;
    try {
      await driver.client.deleteVolume({ volumeId: volume.spec!.csi!.volumeHandle });
    } catch (error) {
      this.#o.recorder.event(volume, "Warning", "VolumeFailedDelete", errorMessage(error));
      throw error;
    }
    const volumes = this.#o.client.kind<PersistentVolume>("v1", "PersistentVolume");
    if (!deleting) {
      try {
        await volumes.delete(name, { preconditions: { uid: volume.metadata.uid! } });
      } catch (error) {
        if (!(error instanceof NotFoundError) && !(error instanceof ConflictError)) throw error;
      }
    }
    await this.#release(name);
    this.#log(`Volume provisioner: deleted volume ${name} (reclaim policy Delete)`);
    this.#reportCapacity();
  }

  /** Removes the provisioner's finalizer from a volume, retrying on conflicts. */
  async #release(name: string): Promise<void> {
    const volumes = this.#o.client.kind<PersistentVolume>("v1", "PersistentVolume");
    for (let attempt = 0;; attempt++) {
      let current: PersistentVolume;
      try {
        current = await volumes.get(name);
      } catch (error) {
        if (error instanceof NotFoundError) return;
        throw error;
      }
      const finalizers = current.metadata.finalizers ?? [];
      if (!finalizers.includes(FINALIZER_EXTERNAL_PROVISIONER)) return;
      try {
        await volumes.patch(name, {
          metadata: {
            resourceVersion: current.metadata.resourceVersion,
            finalizers: finalizers.filter((f) => f !== FINALIZER_EXTERNAL_PROVISIONER),
          },
        });
        return;
      } catch (error) {
        if (error instanceof NotFoundError) return;
        if (!(error instanceof ConflictError) || attempt >= 5) throw error;
      }
    }
  }

  // ------------------------------------------------------------- capacity

  /** Reports each driver's free bytes on the Node now, and again after the interval. */
  #reportCapacity(): void {
    if (this.#stopped) return;
    if (this.#reporting) {
      this.#reportAgain = true;
      return;
    }
    if (this.#capacityTimer !== undefined) this.#clock.clearTimeout(this.#capacityTimer);
    this.#capacityTimer = undefined;
    this.#reporting = this.#writeCapacity()
      .catch((error) => this.#log(`Volume provisioner: cannot report free capacity: ${errorMessage(error)}`))
      .finally(() => {
        this.#reporting = undefined;
        if (this.#stopped) return;
        if (this.#reportAgain) {
          this.#reportAgain = false;
          this.#reportCapacity();
          return;
        }
        const every = this.#o.capacityIntervalMs ?? DEFAULT_CAPACITY_INTERVAL_MS;
        this.#capacityTimer = this.#clock.setTimeout(() => {
          this.#capacityTimer = undefined;
          this.#reportCapacity();
        }, every);
      });
  }

  async #writeCapacity(): Promise<void> {
    const annotations: Record<string, string> = {};
    for (const driver of this.#drivers.values()) {
      if (!driver.capacity) continue;
      const response = await driver.client.getCapacity({
        ...(Object.keys(driver.topology).length > 0 ? { accessibleTopology: { segments: driver.topology } } : {}),
      });
      annotations[`${ANNOTATION_CSI_CAPACITY_PREFIX}${driver.name}`] = String(response.availableCapacity ?? 0);
    }
    if (Object.keys(annotations).length === 0) return;
    const nodes = this.#o.client.kind<Node>("v1", "Node");
    const node = await nodes.get(this.#o.nodeName);
    if (Object.entries(annotations).every(([k, v]) => node.metadata.annotations?.[k] === v)) return;
    await nodes.patch(this.#o.nodeName, { metadata: { annotations } });
  }
}
