/**
 * Stopping containers as the kubelet does: a `Killing` event, the
 * container's preStop hook (given at most the grace period), then SIGTERM
 * and, after what is left of the grace period (never less than 2 s unless
 * overridden), SIGKILL.
 *
 * @module
 */

import { type Clock, type Container, type Pod, systemClock } from "@skiff/api";
import { type ContainerInfo, LABEL_CONTAINER_NAME, type Runtime } from "../runtime/mod.ts";
import { runHandler } from "./handlers.ts";
import type { EventSink } from "./prober.ts";

/** The kubelet's shortest shutdown window, so containers are not SIGKILLed needlessly. */
export const MINIMUM_GRACE_PERIOD_SECONDS = 2;

/** Options of {@linkcode killContainer}. */
export interface KillContainerOptions {
  /** Stops the container and runs exec hooks. */
  runtime: Runtime;
  /** Where events go. */
  recorder: EventSink;
  /** Time source (hook deadlines, sleep hooks). */
  clock?: Clock;
  /** The pod. */
  pod: Pod;
  /** The container's spec, when the pod still has it (for its preStop hook). */
  container?: Container;
  /** The container to stop. */
  info: ContainerInfo;
  /** The pod's address, for httpGet hooks. */
  podIP?: string;
  /** Seconds between the start of the stop and SIGKILL. */
  gracePeriodSeconds: number;
  /** Use `gracePeriodSeconds` as given, without the 2 s minimum (pods force-deleted or gone). */
  override?: boolean;
  /** The Killing event's message (default `Stopping container <name>`). */
  message?: string;
}

function clockSleep(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.setTimeout(resolve, ms));
}

/** Stops one container: event, preStop hook, SIGTERM, grace period, SIGKILL. */
export async function killContainer(options: KillContainerOptions): Promise<void> {
  const clock = options.clock ?? systemClock;
  const name = options.container?.name ?? options.info.labels[LABEL_CONTAINER_NAME] ?? options.info.id;
  options.recorder.event(options.pod, "Normal", "Killing", options.message ?? `Stopping container ${name}`);
  let grace = Math.max(0, options.gracePeriodSeconds);
  const preStop = options.container?.lifecycle?.preStop;
  if (preStop && grace > 0) {
    const start = clock.now();
    let timer: number | undefined;
    const outcome = await Promise.race([
      runHandler(preStop, {
        runtime: options.runtime,
        containerId: options.info.id,
        container: options.container!,
        podIP: options.podIP,
        timeoutMs: grace * 1000,
        sleep: (ms) => clockSleep(clock, ms),
      }),
      new Promise<{ success: false; output: string }>((resolve) => {
        timer = clock.setTimeout(
          () => resolve({ success: false, output: `it did not finish within the grace period of ${grace}s` }),
          grace * 1000,
        );
      }),
    ]);
    if (timer !== undefined) clock.clearTimeout(timer);
    if (!outcome.success) {
      options.recorder.event(
        options.pod,
        "Warning",
        "FailedPreStopHook",
        `PreStopHook failed for container ${name}: ${outcome.output}`,
      );
    }
    grace -= Math.floor((clock.now() - start) / 1000);
  }
  if (!options.override) grace = Math.max(grace, MINIMUM_GRACE_PERIOD_SECONDS);
  await options.runtime.stopContainer(options.info.id, { gracePeriodSeconds: Math.max(0, grace) });
}
