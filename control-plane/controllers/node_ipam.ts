/**
 * The node IPAM controller: gives each Node its own /24 of the cluster pod
 * CIDR (10.42.0.0/16 by default) in `spec.podCIDR`, never two nodes the
 * same one. A deleted node's range is free again once the node is gone.
 * One worker, so allocations never race.
 *
 * @module
 */

import { CLUSTER_POD_CIDR, type Node, NODE_POD_CIDR_PREFIX, NotFoundError } from "@skiff/api";
import type { Informer } from "@skiff/client";
import { type ControllerContext, objectKey, QueueController } from "./controller.ts";

/** The subnets of `clusterCidr` with `prefix` bits, lowest first. */
export function subnets(clusterCidr: string, prefix: number): string[] {
  const [base, bitsText] = clusterCidr.split("/");
  const bits = Number(bitsText);
  const octets = (base ?? "").split(".").map(Number);
  if (octets.length !== 4 || octets.some((o) => !(o >= 0 && o <= 255)) || !(bits >= 0 && bits <= prefix)) {
    throw new RangeError(`Invalid cluster CIDR "${clusterCidr}" for /${prefix} node ranges`);
  }
  const start = ((octets[0]! << 24) | (octets[1]! << 16) | (octets[2]! << 8) | octets[3]!) >>> 0;
  const count = 2 ** (prefix - bits);
  const step = 2 ** (32 - prefix);
  return Array.from({ length: count }, (_, i) => {
    const n = (start + i * step) >>> 0;
    return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}/${prefix}`;
  });
}

/** Allocates node pod CIDRs. */
export class NodeIpamController extends QueueController {
  #nodes!: Informer<Node>;
  #ranges: string[];
  /** How many cached nodes use each range. */
  #inUse = new Map<string, number>();
  /** Ranges assigned but maybe not yet in the informer's cache. */
  #assigned = new Map<string, string>();

  /** Creates the controller for `clusterCidr` split into /`prefix` ranges. */
  constructor(options: { clusterCidr?: string; prefix?: number } = {}) {
    super("node-ipam-controller", 1);
    this.#ranges = subnets(options.clusterCidr ?? CLUSTER_POD_CIDR, options.prefix ?? NODE_POD_CIDR_PREFIX);
  }

  protected register(ctx: ControllerContext): void {
    this.#nodes = ctx.informers.for<Node>("v1", "Node");
    const seen = (node: Node) => {
      if (node.spec?.podCIDR) {
        this.#assigned.delete(node.metadata.name!);
        this.#inUse.set(node.spec.podCIDR, (this.#inUse.get(node.spec.podCIDR) ?? 0) + 1);
      }
      this.enqueue(objectKey(node));
    };
    const gone = (node: Node) => {
      const range = node.spec?.podCIDR;
      if (!range) return;
      const count = (this.#inUse.get(range) ?? 1) - 1;
      if (count > 0) this.#inUse.set(range, count);
      else this.#inUse.delete(range);
    };
    this.#nodes.on({
      add: seen,
      update: (old, node) => {
        gone(old);
        seen(node);
      },
      delete: (node) => {
        gone(node);
        this.#assigned.delete(node.metadata.name!);
        for (const waiting of this.#nodes.list()) if (!waiting.spec?.podCIDR) this.enqueue(objectKey(waiting));
      },
    });
  }

  async reconcile(key: string): Promise<void> {
    const node = this.#nodes.get(key);
    if (!node || node.spec?.podCIDR || node.metadata.deletionTimestamp) return;
    const taken = (range: string) => this.#inUse.has(range) || [...this.#assigned.values()].includes(range);
    const free = this.#ranges.find((r) => !taken(r));
    if (!free) {
      this.ctx.recorder.event(
        node,
        "Warning",
        "CIDRNotAvailable",
        `No pod address range left in the cluster pod CIDR for node ${node.metadata.name}: delete retired nodes`,
      );
      return;
    }
    try {
      await this.ctx.client.kind<Node>("v1", "Node").patch(node.metadata.name!, {
        metadata: { resourceVersion: node.metadata.resourceVersion },
        spec: { podCIDR: free, podCIDRs: [free] },
      });
      this.#assigned.set(node.metadata.name!, free);
      this.ctx.recorder.event(node, "Normal", "CIDRAssignmentSucceeded", `Assigned pod CIDR ${free}`);
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
    }
  }
}
