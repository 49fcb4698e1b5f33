/**
 * Registers the Node (create, or bring an existing one up to date: same
 * uid, same pod CIDR) and waits for the control plane to give it a pod
 * CIDR.
 *
 * @module
 */

import {
  AlreadyExistsError,
  type Clock,
  ConflictError,
  ForbiddenError,
  type Node,
  systemClock,
  type Taint,
  UnauthorizedError,
} from "@skiff/api";
import type { ApiClient } from "@skiff/client";
import { mapPatch } from "./node_status.ts";

/** What {@linkcode registerNode} did. */
export interface Registration {
  /** The Node as the server has it now. */
  node: Node;
  /** True when it was created now, false when it existed and was updated. */
  created: boolean;
}

const CONFLICT_RETRIES = 5;

/** The API refused the node's credentials. */
export class NodeCredentialsError extends Error {
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "NodeCredentialsError";
  }
}

/** `error` as a {@linkcode NodeCredentialsError} saying what to do, when it is a 401 or 403; else itself. */
export function explainAuthError(error: unknown, nodeName: string): unknown {
  if (error instanceof UnauthorizedError) {
    return new NodeCredentialsError(
      `The API server refused the node's token: ${error.message}; create a node token on the control plane and pass it with --token`,
      { cause: error },
    );
  }
  if (error instanceof ForbiddenError) {
    return new NodeCredentialsError(
      `The API server does not let this token act as node "${nodeName}": ${error.message}; use a token made for this node name, or pass --node-name with the name the token was made for`,
      { cause: error },
    );
  }
  return error;
}

function taintKey(taint: Taint): string {
  return `${taint.key}:${taint.effect}`;
}

/** The taints of `current` with each of `wanted` added or replacing the one of the same key and effect. */
function withTaints(current: readonly Taint[], wanted: readonly Taint[]): Taint[] | undefined {
  const keys = new Set(wanted.map(taintKey));
  const missing = wanted.some((w) =>
    !current.some((t) => taintKey(t) === taintKey(w) && (t.value ?? "") === (w.value ?? ""))
  );
  if (!missing) return undefined;
  return [...current.filter((t) => !keys.has(taintKey(t))), ...wanted];
}

/**
 * Creates the Node; when it exists, keeps it (its uid and pod CIDR) and
 * updates its labels, annotations, taints and status to `desired`'s. Labels
 * and taints others set are kept.
 *
 * @throws {NodeCredentialsError} when the server refuses the credentials
 */
export async function registerNode(client: ApiClient, desired: Node): Promise<Registration> {
  const nodes = client.kind<Node>("v1", "Node");
  const name = desired.metadata.name!;
  try {
    try {
      return { node: await nodes.create(desired), created: true };
    } catch (error) {
      if (!(error instanceof AlreadyExistsError)) throw error;
    }
    for (let attempt = 0;; attempt++) {
      const current = await nodes.get(name);
      const labels = mapPatch(current.metadata.labels, desired.metadata.labels ?? {});
      const annotations = mapPatch(current.metadata.annotations, desired.metadata.annotations ?? {});
      const taints = withTaints(current.spec?.taints ?? [], desired.spec?.taints ?? []);
      let node = current;
      try {
        if (labels || annotations || taints) {
          node = await nodes.patch(name, {
            metadata: {
              resourceVersion: current.metadata.resourceVersion,
              ...(labels ? { labels } : {}),
              ...(annotations ? { annotations } : {}),
            },
            ...(taints ? { spec: { taints } } : {}),
          });
        }
      } catch (error) {
        if (error instanceof ConflictError && attempt < CONFLICT_RETRIES) continue;
        throw error;
      }
      const status = desired.status ?? {};
      const capacity = mapPatch(node.status?.capacity, status.capacity ?? {}, Object.keys(node.status?.capacity ?? {}));
      const allocatable = mapPatch(
        node.status?.allocatable,
        status.allocatable ?? {},
        Object.keys(node.status?.allocatable ?? {}),
      );
      node = await nodes.patch(name, {
        status: {
          ...status,
          ...(capacity ? { capacity } : { capacity: undefined }),
          ...(allocatable ? { allocatable } : { allocatable: undefined }),
        },
      }, { subresource: "status" });
      return { node, created: false };
    }
  } catch (error) {
    throw explainAuthError(error, name);
  }
}

/** Options of {@linkcode waitForPodCidr}. */
export interface WaitForPodCidrOptions {
  /** Stops waiting (rejects with the signal's reason). */
  signal?: AbortSignal;
  /** Time source, for the "still waiting" lines. */
  clock?: Clock;
  /** Where the "still waiting" lines go. */
  log?: (line: string) => void;
  /** Say so every this many ms while waiting (default 30 s). */
  reportEveryMs?: number;
}

/**
 * Waits until the control plane's node IPAM controller has written
 * `spec.podCIDR` and returns the Node with it.
 */
export async function waitForPodCidr(
  client: ApiClient,
  nodeName: string,
  options: WaitForPodCidrOptions = {},
): Promise<Node> {
  const nodes = client.kind<Node>("v1", "Node");
  const clock = options.clock ?? systemClock;
  const reportEveryMs = options.reportEveryMs ?? 30_000;
  const started = clock.now();
  let reported = started;
  for (;;) {
    options.signal?.throwIfAborted();
    const node = await nodes.get(nodeName);
    if (node.spec?.podCIDR) return node;
    const now = clock.now();
    if (now - reported >= reportEveryMs) {
      reported = now;
      options.log?.(
        `Still waiting for node "${nodeName}" to get a pod CIDR (${
          Math.round((now - started) / 1000)
        } s): check that the control plane runs its controllers (skiff up does) and has free /24s in 10.42.0.0/16`,
      );
    }
    const watch = new AbortController();
    const stop = () => watch.abort();
    options.signal?.addEventListener("abort", stop, { once: true });
    const timer = clock.setTimeout(stop, reportEveryMs);
    try {
      for await (
        const event of nodes.watch({
          fieldSelector: `metadata.name=${nodeName}`,
          resourceVersion: node.metadata.resourceVersion,
          timeoutSeconds: Math.max(1, Math.round(reportEveryMs / 1000)),
          signal: watch.signal,
        })
      ) {
        if (event.type !== "BOOKMARK" && event.object.spec?.podCIDR) return event.object;
      }
    } catch (error) {
      if (!watch.signal.aborted) throw error;
    } finally {
      clock.clearTimeout(timer);
      options.signal?.removeEventListener("abort", stop);
    }
  }
}
