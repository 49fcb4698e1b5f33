/**
 * Pushes the node's and its pods' `metrics.k8s.io/v1beta1` readings to the
 * API server every 15 s (metrics-server's resolution), where `kubectl top`
 * and `skiff top` read them. The server keeps them in memory only.
 *
 * @module
 */

import { type Clock, ForbiddenError, type NodeMetrics, NotFoundError, type PodMetrics, systemClock } from "@skiff/api";
import type { ApiClient } from "@skiff/client";
import { type HardwareReadings, nodeMetrics } from "../hardware/mod.ts";
import { errorMessage, Problems } from "./_problems.ts";

/** Seconds between metrics reports. */
export const METRICS_REPORT_SECONDS = 15;

/** Options of {@linkcode MetricsReporter}. */
export interface MetricsReporterOptions {
  /** The API client, acting as the node. */
  client: ApiClient;
  /** The node's name. */
  nodeName: string;
  /** The latest hardware readings. */
  readings: () => HardwareReadings;
  /** The metrics of the pods on the node (default: none). */
  podMetrics?: () => Promise<PodMetrics[]>;
  /** Seconds between reports (default 15). */
  periodSeconds?: number;
  /** Time source. */
  clock?: Clock;
  /** Where problems are told. */
  log?: (line: string) => void;
}

/** What the reporter has written. */
export interface MetricsReporterStats {
  /** NodeMetrics written. */
  nodeReports: number;
  /** PodMetrics written. */
  podReports: number;
}

/** The path a NodeMetrics is PUT to. */
export function nodeMetricsPath(nodeName: string): string {
  return `/apis/metrics.k8s.io/v1beta1/nodes/${encodeURIComponent(nodeName)}`;
}

/** The path a PodMetrics is PUT to. */
export function podMetricsPath(namespace: string, name: string): string {
  return `/apis/metrics.k8s.io/v1beta1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(name)}`;
}

/** Reports NodeMetrics and PodMetrics on a period. */
export class MetricsReporter {
  readonly #options: MetricsReporterOptions;
  readonly #clock: Clock;
  readonly #problems: Problems;
  readonly #periodMs: number;
  #timer: number | undefined;
  #inFlight: Promise<void> | undefined;
  #running = false;
  #stats: MetricsReporterStats = { nodeReports: 0, podReports: 0 };

  /**
   * Prepares the reporter; {@linkcode MetricsReporter.start} sends the first report.
   *
   * @throws {RangeError} when `periodSeconds` is not a positive number
   */
  constructor(options: MetricsReporterOptions) {
    const period = options.periodSeconds ?? METRICS_REPORT_SECONDS;
    if (!(Number.isFinite(period) && period > 0)) {
      throw new RangeError(`Invalid option "periodSeconds": ${period} is not a positive number of seconds`);
    }
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    this.#problems = new Problems(options.log ?? ((line) => console.error(line)), this.#clock);
    this.#periodMs = period * 1000;
  }

  /** What has been written so far. */
  get stats(): MetricsReporterStats {
    return { ...this.#stats };
  }

  /** Reports now, then every period until {@linkcode MetricsReporter.stop}. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#tick();
  }

  /** Stops reporting; waits for a report in flight. */
  async stop(): Promise<void> {
    this.#running = false;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#inFlight;
  }

  /**
   * Writes the node's metrics (when the CPU has been sampled twice) and
   * every pod's; a pod that left the node meanwhile is skipped.
   */
  async report(): Promise<void> {
    const { client, nodeName } = this.#options;
    const node: NodeMetrics | null = nodeMetrics(this.#options.readings(), { nodeName });
    if (node) {
      await client.request("PUT", nodeMetricsPath(nodeName), { body: node });
      this.#stats.nodeReports++;
    }
    const pods = this.#options.podMetrics ? await this.#options.podMetrics() : [];
    for (const pod of pods) {
      const { namespace, name } = pod.metadata;
      if (!namespace || !name) continue;
      try {
        await client.request("PUT", podMetricsPath(namespace, name), {
          body: { apiVersion: "metrics.k8s.io/v1beta1", kind: "PodMetrics", ...pod },
        });
        this.#stats.podReports++;
      } catch (error) {
        if (!(error instanceof ForbiddenError || error instanceof NotFoundError)) throw error;
      }
    }
  }

  #tick(): void {
    if (!this.#running) return;
    this.#inFlight = this.report().catch((error) => {
      this.#problems.report(
        `Cannot report the metrics of node "${this.#options.nodeName}": ${
          errorMessage(error)
        }; kubectl top shows stale figures until the next report`,
      );
    }).finally(() => {
      this.#inFlight = undefined;
      if (this.#running) this.#timer = this.#clock.setTimeout(() => this.#tick(), this.#periodMs);
    });
  }
}
