/**
 * What `skiff top` does: reads NodeMetrics or PodMetrics from
 * metrics.k8s.io and prints kubectl's columns (CPU in millicores, memory
 * in MiB, percentages of what the node can allocate), plus the node's
 * temperature.
 *
 * @module
 */

import type { Command } from "commander";
import {
  ApiError,
  type KubeObject,
  type Node,
  type NodeMetrics,
  type PodMetrics,
  type ResourceList,
  toBytes,
  toMillicores,
} from "@skiff/api";
import type { CliContext, Connection } from "./_context.ts";
import { renderTable } from "./_table.ts";
import { nodeCpuPercent, nodeMemoryPercent, nodeTemperature } from "./_views.ts";

/** Options of {@linkcode runTopNodes}. */
export interface TopNodesOptions {
  /** `-l`. */
  selector?: string;
  /** `--sort-by`. */
  sortBy?: "cpu" | "memory";
  /** False with `--no-headers`. */
  headers: boolean;
}

/** Options of {@linkcode runTopPods}. */
export interface TopPodsOptions extends TopNodesOptions {
  /** `-A`. */
  allNamespaces: boolean;
  /** `--containers`. */
  containers: boolean;
}

function cpu(usage: ResourceList | undefined): number {
  try {
    return usage?.cpu !== undefined ? toMillicores(usage.cpu) : 0;
  } catch {
    return 0;
  }
}

function memory(usage: ResourceList | undefined): number {
  try {
    return usage?.memory !== undefined ? toBytes(usage.memory) : 0;
  } catch {
    return 0;
  }
}

const cpuText = (m: number) => `${Math.round(m)}m`;
const memoryText = (b: number) => `${Math.round(b / (1024 * 1024))}Mi`;

const METRICS_ADVICE =
  "the node agents publish usage to metrics.k8s.io; check that they run (`skiff get nodes`) and try again in a minute";

async function listMetrics<T extends KubeObject>(
  conn: Connection,
  kind: "NodeMetrics" | "PodMetrics",
  options: { namespace?: string; selector?: string },
): Promise<T[]> {
  try {
    const list = await conn.client.kind<T>("metrics.k8s.io/v1beta1", kind).listAll({
      ...(options.namespace ? { namespace: options.namespace } : {}),
      ...(options.selector ? { labelSelector: options.selector } : {}),
    });
    return list.items;
  } catch (err) {
    if (err instanceof ApiError && err.code === 404) throw new Error(`Metrics API not available: ${METRICS_ADVICE}`);
    throw err;
  }
}

/** Runs `skiff top nodes`. */
export async function runTopNodes(
  ctx: CliContext,
  command: Command,
  name: string | undefined,
  options: TopNodesOptions,
): Promise<void> {
  const conn = await ctx.connect(command);
  const items = await listMetrics<NodeMetrics>(conn, "NodeMetrics", options);
  const nodes = await conn.client.kind<Node>("v1", "Node").listAll({
    ...(options.selector ? { labelSelector: options.selector } : {}),
  });
  const metrics = new Map(items.map((m) => [m.metadata.name, m]));
  let shown = nodes.items.filter((n) => name === undefined || n.metadata.name === name);
  if (name !== undefined && shown.length === 0) {
    throw new Error(`node "${name}" not found: list nodes with \`skiff get nodes\``);
  }
  if (items.length === 0 || shown.every((n) => !metrics.has(n.metadata.name))) {
    throw new Error(`metrics not available yet for ${name ? `node "${name}"` : "any node"}: ${METRICS_ADVICE}`);
  }
  if (options.sortBy) {
    const key = (n: Node) =>
      options.sortBy === "cpu" ? cpu(metrics.get(n.metadata.name)?.usage) : memory(metrics.get(n.metadata.name)?.usage);
    shown = [...shown].sort((a, b) => key(b) - key(a));
  }
  const withMetrics = shown.filter((n) => metrics.has(n.metadata.name));
  const without = shown.filter((n) => !metrics.has(n.metadata.name));
  const rows = [["NAME", "CPU(cores)", "CPU(%)", "MEMORY(bytes)", "MEMORY(%)", "TEMP"]];
  for (const node of withMetrics) {
    const m = metrics.get(node.metadata.name)!;
    rows.push([
      node.metadata.name ?? "",
      cpuText(cpu(m.usage)),
      nodeCpuPercent(node, m),
      memoryText(memory(m.usage)),
      nodeMemoryPercent(node, m),
      nodeTemperature(node),
    ]);
  }
  for (const node of without) {
    rows.push([node.metadata.name ?? "", "<unknown>", "<unknown>", "<unknown>", "<unknown>", nodeTemperature(node)]);
  }
  ctx.print(renderTable(options.headers ? rows : rows.slice(1)));
}

/** Runs `skiff top pods`. */
export async function runTopPods(
  ctx: CliContext,
  command: Command,
  name: string | undefined,
  options: TopPodsOptions,
): Promise<void> {
  const conn = await ctx.connect(command);
  const namespace = options.allNamespaces ? undefined : conn.namespace;
  const items = await listMetrics<PodMetrics>(conn, "PodMetrics", {
    ...(namespace ? { namespace } : {}),
    ...(options.selector ? { selector: options.selector } : {}),
  });
  let shown = items.filter((m) => name === undefined || m.metadata.name === name);
  if (shown.length === 0) {
    const where = namespace ? ` in namespace "${namespace}"` : "";
    throw new Error(`metrics not available yet for ${name ? `pod "${name}"` : "any pod"}${where}: ${METRICS_ADVICE}`);
  }
  const total = (m: PodMetrics, f: (u: ResourceList | undefined) => number) =>
    (m.containers ?? []).reduce((sum, c) => sum + f(c.usage), 0);
  if (options.sortBy) {
    const f = options.sortBy === "cpu" ? cpu : memory;
    shown = [...shown].sort((a, b) => total(b, f) - total(a, f));
  }
  const ns = options.allNamespaces ? ["NAMESPACE"] : [];
  const rows: string[][] = [];
  if (options.containers) {
    rows.push([...ns, "POD", "NAME", "CPU(cores)", "MEMORY(bytes)"]);
    for (const m of shown) {
      for (const c of m.containers ?? []) {
        rows.push([
          ...(options.allNamespaces ? [m.metadata.namespace ?? ""] : []),
          m.metadata.name ?? "",
          c.name,
          cpuText(cpu(c.usage)),
          memoryText(memory(c.usage)),
        ]);
      }
    }
  } else {
    rows.push([...ns, "NAME", "CPU(cores)", "MEMORY(bytes)"]);
    for (const m of shown) {
      rows.push([
        ...(options.allNamespaces ? [m.metadata.namespace ?? ""] : []),
        m.metadata.name ?? "",
        cpuText(total(m, cpu)),
        memoryText(total(m, memory)),
      ]);
    }
  }
  ctx.print(renderTable(options.headers ? rows : rows.slice(1)));
}
