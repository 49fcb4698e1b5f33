/**
 * The rows and columns `get` prints. Most kinds use the server's Table
 * (kubectl's columns); pods and nodes use Skiff's own, computed here from
 * the objects: pods READY, STATUS, RESTARTS, AGE, IP, NODE; nodes STATUS,
 * ROLES, ARCH, CPU%, MEM%, TEMP, AGE, with usage from metrics.k8s.io and
 * the temperature the agent publishes in a node annotation.
 *
 * @module
 */

import {
  age,
  ApiError,
  type KubeObject,
  type Node,
  type NodeMetrics,
  nodeRoles,
  nodeStatus,
  type Pod,
  podReady,
  podRestarts,
  podStatus,
  toBytes,
  toMillicores,
} from "@skiff/api";
import type { ApiClient } from "@skiff/client";
import { colorStatus, type Palette } from "./_color.ts";
import { qualifiedKind, typeOfObject } from "./_resources.ts";
import { TEMPERATURE_ANNOTATION } from "./_well_known.ts";

/** One row: its cells and the object it shows. */
export interface ViewRow {
  /** Cell texts, one per header. */
  cells: string[];
  /** The object (or its metadata). */
  object: KubeObject;
}

/** A table before rendering. */
export interface TableView {
  /** Upper-case headers. */
  headers: string[];
  /** 0 for default columns, 1 for `-o wide` only. */
  priorities: number[];
  /** The rows. */
  rows: ViewRow[];
}

/** A `meta.k8s.io/v1` Table as the server sends it. */
export interface ServerTable {
  /** Columns. */
  columnDefinitions?: { name: string; priority?: number; format?: string }[];
  /** Rows. */
  rows?: { cells: unknown[]; object?: KubeObject }[];
  /** List metadata. */
  metadata?: { resourceVersion?: string };
}

/** The Accept header that asks the server for a Table. */
export const TABLE_ACCEPT = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json";

/** Kinds whose columns the CLI computes itself. */
export function hasClientColumns(kind: string): boolean {
  return kind === "Pod" || kind === "Node";
}

function cellText(value: unknown): string {
  if (value === undefined || value === null) return "<none>";
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return JSON.stringify(value);
}

/** Turns the server's Table into a view (`columns` from an earlier Table when a watch event carries none). */
export function viewFromServerTable(table: ServerTable, columns?: TableView): TableView {
  const defs = table.columnDefinitions ?? [];
  const headers = defs.length > 0 ? defs.map((d) => d.name.toUpperCase()) : columns?.headers ?? [];
  const priorities = defs.length > 0 ? defs.map((d) => d.priority ?? 0) : columns?.priorities ?? [];
  return {
    headers,
    priorities,
    rows: (table.rows ?? []).map((row) => ({
      cells: row.cells.map(cellText),
      object: row.object ?? { metadata: {} },
    })),
  };
}

/** Node usage read from metrics.k8s.io, by node name. */
export type NodeUsage = Map<string, NodeMetrics>;

/**
 * Reads NodeMetrics; an API that is not there (or not allowed) gives an
 * empty map, so the columns show `<unknown>`.
 */
export async function readNodeUsage(client: ApiClient): Promise<NodeUsage> {
  try {
    const list = await client.kind<NodeMetrics>("metrics.k8s.io/v1beta1", "NodeMetrics").listAll();
    return new Map(list.items.map((m) => [m.metadata.name ?? "", m]));
  } catch (err) {
    if (err instanceof ApiError && err.code !== 401 && err.code < 500) return new Map();
    throw err;
  }
}

function percent(used: number, total: number): string {
  if (!Number.isFinite(used) || !Number.isFinite(total) || total <= 0) return "<unknown>";
  return `${Math.round((used / total) * 100)}%`;
}

function safe<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch {
    return undefined;
  }
}

/** CPU% of a node: usage over allocatable (else capacity). */
export function nodeCpuPercent(node: Node, metrics: NodeMetrics | undefined): string {
  const total = node.status?.allocatable?.cpu ?? node.status?.capacity?.cpu;
  const used = metrics?.usage?.cpu;
  if (total === undefined || used === undefined) return "<unknown>";
  return percent(safe(() => toMillicores(used)) ?? NaN, safe(() => toMillicores(total)) ?? NaN);
}

/** MEM% of a node: working set over allocatable (else capacity). */
export function nodeMemoryPercent(node: Node, metrics: NodeMetrics | undefined): string {
  const total = node.status?.allocatable?.memory ?? node.status?.capacity?.memory;
  const used = metrics?.usage?.memory;
  if (total === undefined || used === undefined) return "<unknown>";
  return percent(safe(() => toBytes(used)) ?? NaN, safe(() => toBytes(total)) ?? NaN);
}

/** TEMP of a node, `52°C`, from the agent's annotation. */
export function nodeTemperature(node: Node): string {
  const raw = node.metadata.annotations?.[TEMPERATURE_ANNOTATION];
  if (raw === undefined || raw.trim() === "") return "<unknown>";
  const celsius = Number(raw);
  return Number.isFinite(celsius) ? `${Math.round(celsius)}°C` : "<unknown>";
}

/** ARCH of a node, from its `kubernetes.io/arch` label or its system info. */
export function nodeArch(node: Node): string {
  return node.metadata.labels?.["kubernetes.io/arch"] ?? node.status?.nodeInfo?.architecture ?? "<unknown>";
}

function nodeAddress(node: Node, type: string): string {
  return (node.status?.addresses ?? []).find((a) => a.type === type)?.address ?? "<none>";
}

const none = (value: string | undefined) => value === undefined || value === "" ? "<none>" : value;

function readinessGates(pod: Pod): string {
  const gates = (pod.spec as { readinessGates?: unknown[] } | undefined)?.readinessGates ?? [];
  return gates.length > 0 ? String(gates.length) : "<none>";
}

/** Skiff's pod columns. */
export function podView(pods: readonly Pod[], now: number): TableView {
  return {
    headers: ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED NODE", "READINESS GATES"],
    priorities: [0, 0, 0, 0, 0, 0, 0, 1, 1],
    rows: pods.map((pod) => ({
      object: pod,
      cells: [
        pod.metadata.name ?? "",
        podReady(pod),
        podStatus(pod),
        podRestarts(pod, now),
        age(pod.metadata.creationTimestamp, now),
        none(pod.status?.podIP),
        none(pod.spec?.nodeName),
        none(pod.status?.nominatedNodeName),
        readinessGates(pod),
      ],
    })),
  };
}

/** Skiff's node columns: hardware at a glance. */
export function nodeView(nodes: readonly Node[], usage: NodeUsage, now: number): TableView {
  return {
    headers: [
      "NAME",
      "STATUS",
      "ROLES",
      "ARCH",
      "CPU%",
      "MEM%",
      "TEMP",
      "AGE",
      "VERSION",
      "INTERNAL-IP",
      "EXTERNAL-IP",
      "OS-IMAGE",
      "KERNEL-VERSION",
      "CONTAINER-RUNTIME",
    ],
    priorities: [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1],
    rows: nodes.map((node) => {
      const metrics = usage.get(node.metadata.name ?? "");
      return {
        object: node,
        cells: [
          node.metadata.name ?? "",
          nodeStatus(node),
          nodeRoles(node),
          nodeArch(node),
          nodeCpuPercent(node, metrics),
          nodeMemoryPercent(node, metrics),
          nodeTemperature(node),
          age(node.metadata.creationTimestamp, now),
          none(node.status?.nodeInfo?.kubeletVersion),
          nodeAddress(node, "InternalIP"),
          nodeAddress(node, "ExternalIP"),
          none(node.status?.nodeInfo?.osImage),
          none(node.status?.nodeInfo?.kernelVersion),
          none(node.status?.nodeInfo?.containerRuntimeVersion),
        ],
      };
    }),
  };
}

/** Options of {@linkcode renderView}. */
export interface RenderViewOptions {
  /** Show the wide columns. */
  wide: boolean;
  /** Add a NAMESPACE column first. */
  namespaceColumn: boolean;
  /** Prefix names with their kind (`pod/web`), when several types are shown. */
  showKind: boolean;
  /** Add a LABELS column. */
  showLabels: boolean;
  /** Label keys shown as columns (`-L`). */
  labelColumns: readonly string[];
  /** Colours (the STATUS column is coloured). */
  palette: Palette;
}

/** The header and rows of a view, as cell texts, ready for {@linkcode renderTable}. */
export function viewRows(view: TableView, options: RenderViewOptions): { header: string[]; rows: string[][] } {
  const keep = view.priorities.map((p) => options.wide || p === 0);
  const nameIndex = view.headers.indexOf("NAME");
  const statusIndex = view.headers.indexOf("STATUS");
  const header: string[] = [];
  if (options.namespaceColumn) header.push("NAMESPACE");
  view.headers.forEach((h, i) => keep[i] && header.push(h));
  for (const key of options.labelColumns) header.push(key.toUpperCase());
  if (options.showLabels) header.push("LABELS");
  const rows = view.rows.map((row) => {
    const cells: string[] = [];
    if (options.namespaceColumn) cells.push(row.object.metadata?.namespace ?? "");
    row.cells.forEach((cell, i) => {
      if (!keep[i]) return;
      let text = cell;
      if (i === nameIndex && options.showKind) {
        const type = typeOfObject(row.object);
        if (type) text = `${qualifiedKind(type)}/${cell}`;
      }
      if (i === statusIndex) text = colorStatus(options.palette, text);
      cells.push(text);
    });
    const labels = row.object.metadata?.labels ?? {};
    for (const key of options.labelColumns) cells.push(labels[key] ?? "");
    if (options.showLabels) {
      cells.push(Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(",") || "<none>");
    }
    return cells;
  });
  return { header, rows };
}
