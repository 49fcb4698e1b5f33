/**
 * The node's heartbeats, as the kubelet sends them: the Lease
 * `kube-node-lease/<node>` renewed every 10 s (cheap: the control plane
 * times node health by it), and the full node status (conditions,
 * capacity, addresses, system info, usage annotations) reported when
 * something that matters changes, and otherwise every 60 s. Usage figures
 * change on every reading, so they ride along with status reports and are
 * never written more often.
 *
 * @module
 */

import {
  AlreadyExistsError,
  type Clock,
  ConflictError,
  type Lease,
  type Node,
  NODE_HEARTBEAT_SECONDS,
  NODE_LEASE_NAMESPACE,
  NODE_NOT_READY_SECONDS,
  type NodeAddress,
  type NodeStatus,
  NotFoundError,
  systemClock,
} from "@skiff/api";
import type { ApiClient, ResourceClient } from "@skiff/client";
import {
  type HardwareArea,
  type HardwareReadings,
  type PressureThresholds,
  USAGE_ANNOTATIONS,
  usageAnnotations,
} from "../hardware/mod.ts";
import { errorMessage, Problems } from "./_problems.ts";
import { mapPatch, nodeObjectLabels, nodeStatus, type NodeStatusOptions, statusChange } from "./node_status.ts";
import { explainAuthError } from "./registration.ts";

/** Seconds between full status reports when nothing changed, as the kubelet's `nodeStatusReportFrequency`. */
export const NODE_STATUS_REPORT_SECONDS = 60;

/** Where the readings come from: a {@linkcode HardwareMonitor} or anything shaped like one. */
export interface ReadingsSource {
  /** The latest readings. */
  readonly readings: HardwareReadings;
  /** Calls `listener` after every new reading; returns a function that unsubscribes. */
  onUpdate(listener: (area: HardwareArea, readings: HardwareReadings) => void): () => void;
}

/** Options of {@linkcode NodeHeartbeat}. */
export interface NodeHeartbeatOptions {
  /** The API client, acting as the node. */
  client: ApiClient;
  /** The Node as registered (its name and uid). */
  node: Node;
  /** The hardware readings. */
  monitor: ReadingsSource;
  /** The node's addresses. */
  addresses: NodeAddress[];
  /** E.g. `containerd://1.6.20`. */
  containerRuntimeVersion: string;
  /** Labels given by the user, kept over hardware labels. */
  labels?: Record<string, string>;
  /** Why the node cannot run pods yet (until {@linkcode NodeHeartbeat.setNotReadyReasons}). */
  notReadyReasons?: readonly string[];
  /**
   * Asked before each periodic report: reasons the node cannot run pods
   * now (say, the container runtime does not answer); none when healthy.
   */
  health?: () => Promise<string[]>;
  /** Pressure thresholds. */
  thresholds?: Partial<PressureThresholds>;
  /** Reservations and pod count for allocatable. */
  capacity?: NodeStatusOptions["capacity"];
  /** The port the agent serves logs and exec on (default 10250). */
  agentPort?: number;
  /** Seconds between Lease renewals (default 10). */
  leaseSeconds?: number;
  /** Seconds between status reports when nothing changed (default 60). */
  statusSeconds?: number;
  /** The Lease's `leaseDurationSeconds` (default 40). */
  leaseDurationSeconds?: number;
  /** Time source. */
  clock?: Clock;
  /** Where progress and problems are told. */
  log?: (line: string) => void;
}

/** What the heartbeats have done. */
export interface HeartbeatStats {
  /** Lease renewals written (creation included). */
  leaseRenewals: number;
  /** Status reports written. */
  statusReports: number;
}

/** A Lease's `renewTime`: RFC 3339 with microseconds (MicroTime). */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace("Z", "000Z");
}

/** Renews the node's Lease and reports its status. */
export class NodeHeartbeat {
  readonly #options: NodeHeartbeatOptions;
  readonly #name: string;
  readonly #clock: Clock;
  readonly #log: (line: string) => void;
  readonly #problems: Problems;
  readonly #nodes: ResourceClient<Node>;
  readonly #leases: ResourceClient<Lease>;
  readonly #leaseMs: number;
  readonly #statusMs: number;
  #node: Node;
  #lease: Lease | undefined;
  #reported: NodeStatus | undefined;
  #notReady: readonly string[];
  #health: string[] = [];
  #leaseTimer: number | undefined;
  #statusTimer: number | undefined;
  #unsubscribe: (() => void) | undefined;
  #reporting: Promise<void> | undefined;
  #again: { periodic: boolean } | undefined;
  #renewing: Promise<void> | undefined;
  #leaseFailing = false;
  /** The control plane may have changed the Node meanwhile (marked it Unknown): read it before reporting. */
  #stale = false;
  #running = false;
  #stats: HeartbeatStats = { leaseRenewals: 0, statusReports: 0 };

  /**
   * Prepares the heartbeats; {@linkcode NodeHeartbeat.start} sends the first.
   *
   * @throws {RangeError} when a period is not a positive number of seconds
   */
  constructor(options: NodeHeartbeatOptions) {
    for (const field of ["leaseSeconds", "statusSeconds", "leaseDurationSeconds"] as const) {
      const value = options[field];
      if (value !== undefined && !(Number.isFinite(value) && value > 0)) {
        throw new RangeError(`Invalid option "${field}": ${value} is not a positive number of seconds`);
      }
    }
    this.#options = options;
    this.#node = options.node;
    this.#name = options.node.metadata.name!;
    this.#clock = options.clock ?? systemClock;
    this.#log = options.log ?? ((line) => console.error(line));
    this.#problems = new Problems(this.#log, this.#clock);
    this.#nodes = options.client.kind<Node>("v1", "Node");
    this.#leases = options.client.kind<Lease>("coordination.k8s.io/v1", "Lease");
    this.#leaseMs = (options.leaseSeconds ?? NODE_HEARTBEAT_SECONDS) * 1000;
    this.#statusMs = (options.statusSeconds ?? NODE_STATUS_REPORT_SECONDS) * 1000;
    this.#notReady = options.notReadyReasons ?? [];
  }

  /** The Node as last written. */
  get node(): Node {
    return this.#node;
  }

  /** What the heartbeats have done so far. */
  get stats(): HeartbeatStats {
    return { ...this.#stats };
  }

  /**
   * Renews the Lease (creating it if needed) and reports the status, then
   * keeps doing both on their periods and whenever the readings change the
   * status.
   *
   * @throws {NodeCredentialsError} when the server refuses the node's credentials
   */
  async start(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    try {
      await this.#renewLease();
      await this.#requestReport(true);
    } catch (error) {
      await this.stop();
      throw explainAuthError(error, this.#name);
    }
    this.#scheduleLease(this.#leaseMs);
    this.#unsubscribe = this.#options.monitor.onUpdate((_area, readings) => this.#onReadings(readings));
  }

  /**
   * Replaces the reasons the node cannot run pods (none: it can) and, when
   * they changed, reports at once (asking `health` too); resolves when reported.
   */
  async setNotReadyReasons(reasons: readonly string[]): Promise<void> {
    const changed = reasons.join("\n") !== this.#notReady.join("\n");
    this.#notReady = [...reasons];
    if (changed && this.#running) await this.#requestReport(true);
  }

  /** Reports the full status now; resolves when written. */
  async report(): Promise<void> {
    await this.#requestReport(true);
  }

  /** Stops renewing and reporting; waits for writes in flight. The Node and Lease stay. */
  async stop(): Promise<void> {
    this.#running = false;
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    if (this.#leaseTimer !== undefined) this.#clock.clearTimeout(this.#leaseTimer);
    if (this.#statusTimer !== undefined) this.#clock.clearTimeout(this.#statusTimer);
    this.#leaseTimer = this.#statusTimer = undefined;
    this.#again = undefined;
    await Promise.allSettled([this.#reporting, this.#renewing]);
  }

  #scheduleLease(ms: number): void {
    if (!this.#running) return;
    if (this.#leaseTimer !== undefined) this.#clock.clearTimeout(this.#leaseTimer);
    this.#leaseTimer = this.#clock.setTimeout(() => {
      this.#leaseTimer = undefined;
      this.#renewing = this.#renewLease().then(
        () => {
          if (this.#leaseFailing) {
            // Back after an outage: the control plane may have marked the node Unknown meanwhile.
            this.#leaseFailing = false;
            this.#stale = true;
            this.#log(`Node "${this.#name}" reaches the API server again: reporting its status`);
            this.#requestReport(true).catch(() => {});
          }
          this.#scheduleLease(this.#leaseMs);
        },
        (error) => {
          this.#leaseFailing = true;
          this.#problems.report(
            `Cannot renew the Lease of node "${this.#name}": ${
              errorMessage(explainAuthError(error, this.#name))
            }; retrying in 2 s (the node turns NotReady after ${NODE_NOT_READY_SECONDS} s without renewals)`,
          );
          this.#scheduleLease(Math.min(2_000, this.#leaseMs));
        },
      ).finally(() => this.#renewing = undefined);
    }, ms);
  }

  #scheduleStatus(ms: number): void {
    if (!this.#running) return;
    if (this.#statusTimer !== undefined) this.#clock.clearTimeout(this.#statusTimer);
    this.#statusTimer = this.#clock.setTimeout(() => {
      this.#statusTimer = undefined;
      this.#requestReport(true).catch(() => {});
    }, ms);
  }

  async #renewLease(): Promise<void> {
    const now = this.#clock.now();
    const spec = {
      holderIdentity: this.#name,
      leaseDurationSeconds: this.#options.leaseDurationSeconds ?? NODE_NOT_READY_SECONDS,
      renewTime: microTime(now),
    };
    const create = async () => {
      const lease: Lease = {
        apiVersion: "coordination.k8s.io/v1",
        kind: "Lease",
        metadata: {
          name: this.#name,
          namespace: NODE_LEASE_NAMESPACE,
          ownerReferences: [{ apiVersion: "v1", kind: "Node", name: this.#name, uid: this.#node.metadata.uid! }],
        },
        spec,
      };
      try {
        return await this.#leases.create(lease);
      } catch (error) {
        if (!(error instanceof AlreadyExistsError)) throw error;
        const current = await this.#leases.get(this.#name, { namespace: NODE_LEASE_NAMESPACE });
        return await this.#leases.update({ ...current, spec: { ...current.spec, ...spec } });
      }
    };
    const update = async (lease: Lease) => await this.#leases.update({ ...lease, spec: { ...lease.spec, ...spec } });
    try {
      if (this.#lease) {
        this.#lease = await update(this.#lease);
      } else {
        this.#lease = await this.#leases.get(this.#name, { namespace: NODE_LEASE_NAMESPACE }).then(update);
      }
    } catch (error) {
      if (error instanceof ConflictError) {
        this.#lease = await update(await this.#leases.get(this.#name, { namespace: NODE_LEASE_NAMESPACE }));
      } else if (error instanceof NotFoundError) {
        this.#lease = await create();
      } else {
        throw error;
      }
    }
    this.#stats.leaseRenewals++;
  }

  #onReadings(readings: HardwareReadings): void {
    if (!this.#running || this.#reporting) return;
    const candidate = this.#status(readings, this.#clock.now());
    const labels = mapPatch(this.#node.metadata.labels, nodeObjectLabels(readings, this.#name, this.#options.labels));
    if (statusChange(this.#reported, candidate) !== undefined || labels !== undefined) {
      this.#requestReport(false).catch(() => {});
    }
  }

  #status(readings: HardwareReadings, now: number): NodeStatus {
    const options = this.#options;
    return nodeStatus(readings, {
      now,
      previous: this.#node.status?.conditions ?? [],
      addresses: options.addresses,
      containerRuntimeVersion: options.containerRuntimeVersion,
      notReadyReasons: [...this.#notReady, ...this.#health],
      ...(options.thresholds ? { thresholds: options.thresholds } : {}),
      ...(options.capacity ? { capacity: options.capacity } : {}),
      ...(options.agentPort !== undefined ? { agentPort: options.agentPort } : {}),
    });
  }

  /**
   * Runs a report, or queues one more after the report in flight; resolves
   * when the report asked for is written, rejects when it failed (the failure
   * is logged, and the next report comes sooner).
   */
  #requestReport(periodic: boolean): Promise<void> {
    if (this.#reporting) {
      this.#again = { periodic: periodic || (this.#again?.periodic ?? false) };
      return this.#reporting.catch(() => {}).then(() => this.#reporting ?? Promise.resolve());
    }
    const run = async (full: boolean): Promise<void> => {
      let failed = false;
      try {
        await this.#report(full);
      } catch (error) {
        failed = true;
        this.#problems.report(
          error instanceof NotFoundError
            ? `Node "${this.#name}" was deleted from the cluster: restart the agent to register it again`
            : `Cannot report the status of node "${this.#name}": ${
              errorMessage(explainAuthError(error, this.#name))
            }; retrying in ${Math.min(10_000, this.#statusMs) / 1000} s`,
        );
        throw error;
      } finally {
        const again = this.#again;
        this.#again = undefined;
        if (again && this.#running) {
          const next = run(again.periodic);
          next.catch(() => {});
          this.#reporting = next;
        } else {
          this.#reporting = undefined;
          this.#scheduleStatus(failed ? Math.min(10_000, this.#statusMs) : this.#statusMs);
        }
      }
    };
    const first = run(periodic);
    this.#reporting = first;
    return first;
  }

  async #report(periodic: boolean): Promise<void> {
    if (periodic && this.#options.health) {
      try {
        this.#health = await this.#options.health();
      } catch (error) {
        this.#health = [`health check failed: ${errorMessage(error)}`];
      }
    }
    if (this.#stale) {
      this.#node = await this.#nodes.get(this.#name);
      this.#stale = false;
    }
    const readings = this.#options.monitor.readings;
    const status = this.#status(readings, this.#clock.now());
    const change = statusChange(this.#reported, status);
    let node = this.#node;
    const labels = mapPatch(node.metadata.labels, nodeObjectLabels(readings, this.#name, this.#options.labels));
    const annotations = mapPatch(node.metadata.annotations, usageAnnotations(readings), USAGE_ANNOTATIONS);
    if (labels || annotations) {
      node = await this.#nodes.patch(this.#name, {
        metadata: { ...(labels ? { labels } : {}), ...(annotations ? { annotations } : {}) },
      });
    }
    const capacity = mapPatch(node.status?.capacity, status.capacity ?? {}, Object.keys(node.status?.capacity ?? {}));
    const allocatable = mapPatch(
      node.status?.allocatable,
      status.allocatable ?? {},
      Object.keys(node.status?.allocatable ?? {}),
    );
    node = await this.#nodes.patch(this.#name, {
      status: {
        ...status,
        capacity: capacity ?? undefined,
        allocatable: allocatable ?? undefined,
      },
    }, { subresource: "status" });
    this.#node = node;
    this.#reported = status;
    this.#stats.statusReports++;
    if (change !== undefined && change !== "first report") this.#log(`Node "${this.#name}" status: ${change}`);
  }
}
