/**
 * How Kubernetes shows objects to people, as pure functions shared by the
 * API server's Table output and the CLI: durations (`5m10s`), a pod's
 * STATUS, READY and RESTARTS, a node's STATUS and ROLES.
 *
 * @module
 */

import type { Node } from "./types_core.ts";
import type { ContainerStatus, Pod } from "./types_pod.ts";

/**
 * Kubernetes' HumanDuration, as in AGE columns: `45s`, `5m10s`, `3h`,
 * `2d4h`, `1y20d`.
 *
 * @example
 * ```ts
 * humanDuration(310_000); // "5m10s"
 * ```
 */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < -1) return "<invalid>";
  if (seconds < 0) return "0s";
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) return seconds % 60 === 0 ? `${minutes}m` : `${minutes}m${seconds % 60}s`;
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 8) return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`;
  if (hours < 48) return `${hours}h`;
  if (hours < 192) return hours % 24 === 0 ? `${Math.floor(hours / 24)}d` : `${Math.floor(hours / 24)}d${hours % 24}h`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24)}d`;
  if (hours < 24 * 365 * 8) {
    const days = Math.floor(hours / 24) % 365;
    return days === 0 ? `${Math.floor(hours / 24 / 365)}y` : `${Math.floor(hours / 24 / 365)}y${days}d`;
  }
  return `${Math.floor(hours / 24 / 365)}y`;
}

/** The age of an object created at `timestamp` (RFC 3339), or `<unknown>`. */
export function age(timestamp: string | undefined, now: number): string {
  if (!timestamp) return "<unknown>";
  const at = Date.parse(timestamp);
  return Number.isNaN(at) ? "<unknown>" : humanDuration(now - at);
}

/**
 * The STATUS kubectl shows for a pod: the phase, or what holds it
 * (`Init:0/1`, `ContainerCreating`, `CrashLoopBackOff`, `Completed`,
 * `Terminating`).
 */
export function podStatus(pod: Pod): string {
  let reason: string = pod.status?.reason ?? pod.status?.phase ?? "Unknown";
  const inits: ContainerStatus[] = pod.status?.initContainerStatuses ?? [];
  let initializing = false;
  for (let i = 0; i < inits.length; i++) {
    const s = inits[i]!;
    if (s.state?.terminated?.exitCode === 0) continue;
    initializing = true;
    if (s.state?.terminated) {
      reason = s.state.terminated.reason
        ? `Init:${s.state.terminated.reason}`
        : `Init:ExitCode:${s.state.terminated.exitCode}`;
    } else if (s.state?.waiting?.reason && s.state.waiting.reason !== "PodInitializing") {
      reason = `Init:${s.state.waiting.reason}`;
    } else {
      reason = `Init:${i}/${(pod.spec?.initContainers ?? []).length}`;
    }
    break;
  }
  if (!initializing) {
    let running = false;
    for (const s of [...(pod.status?.containerStatuses ?? [])].reverse()) {
      if (s.state?.waiting?.reason) reason = s.state.waiting.reason;
      else if (s.state?.terminated?.reason) reason = s.state.terminated.reason;
      else if (s.state?.terminated) {
        reason = s.state.terminated.signal
          ? `Signal:${s.state.terminated.signal}`
          : `ExitCode:${s.state.terminated.exitCode}`;
      } else if (s.ready && s.state?.running) running = true;
    }
    if (reason === "Completed" && running) {
      const ready = (pod.status?.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True");
      reason = ready ? "Running" : "NotReady";
    }
  }
  if (pod.metadata?.deletionTimestamp) reason = pod.status?.reason === "NodeLost" ? "Unknown" : "Terminating";
  return reason;
}

/** The READY column of a pod: ready containers over containers, `1/2`. */
export function podReady(pod: Pod): string {
  const ready = (pod.status?.containerStatuses ?? []).filter((s) => s.ready).length;
  return `${ready}/${(pod.spec?.containers ?? []).length}`;
}

/** The RESTARTS column of a pod: `0`, or `3 (5m ago)` with the time of the last restart. */
export function podRestarts(pod: Pod, now: number): string {
  let restarts = 0;
  let last: number | undefined;
  for (const s of [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])]) {
    restarts += s.restartCount ?? 0;
    const finished = s.lastState?.terminated?.finishedAt;
    if (finished) last = Math.max(last ?? 0, Date.parse(finished));
  }
  return restarts > 0 && last ? `${restarts} (${humanDuration(now - last)} ago)` : String(restarts);
}

/**
 * The STATUS of a node: `Ready`, `NotReady` or `Unknown` (a power state,
 * `Sleeping` or `Waking`, from the annotation `power.skiff.dev/state`
 * replaces it), plus `SchedulingDisabled` when cordoned.
 */
export function nodeStatus(node: Node): string {
  const ready = (node.status?.conditions ?? []).find((c) => c.type === "Ready");
  const parts = [ready?.status === "True" ? "Ready" : ready?.status === "False" ? "NotReady" : "Unknown"];
  const power = node.metadata?.annotations?.["power.skiff.dev/state"];
  if (power === "Sleeping" || power === "Waking") parts[0] = power;
  if (node.spec?.unschedulable) parts.push("SchedulingDisabled");
  return parts.join(",");
}

/** The ROLES of a node, from its `node-role.kubernetes.io/<role>` labels, or `<none>`. */
export function nodeRoles(node: Node): string {
  const roles = Object.keys(node.metadata?.labels ?? {})
    .filter((k) => k.startsWith("node-role.kubernetes.io/"))
    .map((k) => k.slice("node-role.kubernetes.io/".length))
    .filter((r) => r !== "");
  return roles.sort().join(",") || "<none>";
}
