/**
 * Server-side Table output (`Accept: application/json;as=Table;g=meta.k8s.io`),
 * with the columns kubectl users know for each kind; `-o wide` shows the
 * columns of priority 1.
 *
 * @module
 */

import {
  age as printAge,
  type Clock,
  humanDuration,
  type KubeObject,
  type Node,
  nodeRoles,
  nodeStatus,
  type Pod,
  podReady,
  podRestarts,
  podStatus,
  systemClock,
} from "@skiff/api";
import type { ServedType } from "./served_type.ts";

/** One column of a Table. */
export interface TableColumn {
  name: string;
  type: string;
  format: string;
  description: string;
  priority: number;
}

/** A `meta.k8s.io/v1` Table. */
export interface Table {
  kind: "Table";
  apiVersion: "meta.k8s.io/v1";
  metadata: Record<string, unknown>;
  columnDefinitions: TableColumn[];
  rows: { cells: unknown[]; object?: unknown }[];
}

/** Converts objects to a Table. */
export interface TableConverter {
  /** A Table of `objects` (all of `type`); `includeObject` is Object, Metadata or None. */
  toTable(type: ServedType, objects: KubeObject[], options: { includeObject: string }): Table;
}

// deno-lint-ignore no-explicit-any
type Obj = Record<string, any>;
type Cell = (obj: Obj, now: number) => unknown;
type Column = [name: string, cell: Cell, priority?: number, type?: string];

const age: Cell = (obj, now) => printAge(obj.metadata?.creationTimestamp, now);
const since = (time: string | undefined, now: number) => time ? humanDuration(now - Date.parse(time)) : "<unknown>";
const none = (value: unknown) => value === undefined || value === null || value === "" ? "<none>" : value;
const count = (value: unknown) => (value && typeof value === "object" ? Object.keys(value).length : 0);
const containers = (obj: Obj) => (obj.spec?.template?.spec?.containers ?? []).map((c: Obj) => c.name).join(",");
const images = (obj: Obj) => (obj.spec?.template?.spec?.containers ?? []).map((c: Obj) => c.image).join(",");
const selector = (obj: Obj) => {
  const s = obj.spec?.selector;
  if (!s) return "<none>";
  const parts = Object.entries(s.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  for (const e of s.matchExpressions ?? []) {
    parts.push(`${e.key} ${String(e.operator).toLowerCase()} (${(e.values ?? []).join(",")})`);
  }
  return parts.join(",") || "<none>";
};
const accessModes = (modes: string[] | undefined) =>
  (modes ?? []).map((m) =>
    ({ ReadWriteOnce: "RWO", ReadOnlyMany: "ROX", ReadWriteMany: "RWX", ReadWriteOncePod: "RWOP" })[m] ?? m
  ).join(",");

function nodeAddress(node: Obj, type: string): string {
  return (node.status?.addresses ?? []).find((a: Obj) => a.type === type)?.address ?? "<none>";
}

function servicePorts(svc: Obj): string {
  const ports = (svc.spec?.ports ?? []).map((p: Obj) =>
    `${p.port}${p.nodePort ? `:${p.nodePort}` : ""}/${p.protocol ?? "TCP"}`
  );
  return ports.join(",") || "<none>";
}

function externalIp(svc: Obj): string {
  const ips: string[] = [...(svc.spec?.externalIPs ?? [])];
  if (svc.spec?.type === "LoadBalancer") {
    const ingress = (svc.status?.loadBalancer?.ingress ?? []).map((i: Obj) => i.ip ?? i.hostname);
    if (ingress.length === 0 && ips.length === 0) return "<pending>";
    ips.push(...ingress);
  }
  if (svc.spec?.type === "ExternalName") return svc.spec.externalName ?? "<none>";
  return ips.join(",") || "<none>";
}

function endpointsList(ep: Obj): string {
  const all: string[] = [];
  for (const subset of ep.subsets ?? []) {
    for (const address of subset.addresses ?? []) {
      for (const port of subset.ports ?? [{}]) all.push(port.port ? `${address.ip}:${port.port}` : address.ip);
    }
  }
  if (all.length === 0) return "<none>";
  return all.length > 3 ? `${all.slice(0, 3).join(",")} + ${all.length - 3} more...` : all.join(",");
}

const COLUMNS: Record<string, Column[]> = {
  Pod: [
    ["Ready", (p) => podReady(p as Pod)],
    ["Status", (p) => podStatus(p as Pod)],
    ["Restarts", (p, now) => podRestarts(p as Pod, now)],
    ["Age", age],
    ["IP", (p) => none(p.status?.podIP), 1],
    ["Node", (p) => none(p.spec?.nodeName), 1],
    ["Nominated Node", (p) => none(p.status?.nominatedNodeName), 1],
    [
      "Readiness Gates",
      (p) => (p.spec?.readinessGates ?? []).length ? String(p.spec.readinessGates.length) : "<none>",
      1,
    ],
  ],
  Namespace: [["Status", (n) => n.status?.phase ?? "Active"], ["Age", age]],
  Node: [
    ["Status", (n) => nodeStatus(n as Node)],
    ["Roles", (n) => nodeRoles(n as Node)],
    ["Age", age],
    ["Version", (n) => n.status?.nodeInfo?.kubeletVersion ?? ""],
    ["Internal-IP", (n) => nodeAddress(n, "InternalIP"), 1],
    ["External-IP", (n) => nodeAddress(n, "ExternalIP"), 1],
    ["OS-Image", (n) => n.status?.nodeInfo?.osImage ?? "", 1],
    ["Kernel-Version", (n) => n.status?.nodeInfo?.kernelVersion ?? "", 1],
    ["Container-Runtime", (n) => n.status?.nodeInfo?.containerRuntimeVersion ?? "", 1],
  ],
  Service: [
    ["Type", (s) => s.spec?.type ?? "ClusterIP"],
    ["Cluster-IP", (s) => none(s.spec?.clusterIP)],
    ["External-IP", externalIp],
    ["Port(s)", servicePorts],
    ["Age", age],
    ["Selector", (s) => Object.entries(s.spec?.selector ?? {}).map(([k, v]) => `${k}=${v}`).join(",") || "<none>", 1],
  ],
  Endpoints: [["Endpoints", endpointsList], ["Age", age]],
  ConfigMap: [["Data", (c) => count(c.data) + count(c.binaryData), 0, "integer"], ["Age", age]],
  Secret: [["Type", (s) => s.type ?? "Opaque"], ["Data", (s) => count(s.data), 0, "integer"], ["Age", age]],
  Event: [
    ["Last Seen", (e, now) => since(e.lastTimestamp ?? e.eventTime ?? e.metadata?.creationTimestamp, now)],
    ["Type", (e) => e.type ?? ""],
    ["Reason", (e) => e.reason ?? ""],
    ["Object", (e) => `${String(e.involvedObject?.kind ?? "").toLowerCase()}/${e.involvedObject?.name ?? ""}`],
    ["Message", (e) => String(e.message ?? "").trim()],
    ["Source", (e) => e.source?.component ?? e.reportingComponent ?? "", 1],
    ["First Seen", (e, now) => since(e.firstTimestamp ?? e.eventTime ?? e.metadata?.creationTimestamp, now), 1],
    ["Count", (e) => e.count ?? 1, 1, "integer"],
    ["Name", (e) => e.metadata?.name ?? "", 1],
  ],
  PersistentVolume: [
    ["Capacity", (v) => v.spec?.capacity?.storage ?? ""],
    ["Access Modes", (v) => accessModes(v.spec?.accessModes)],
    ["Reclaim Policy", (v) => v.spec?.persistentVolumeReclaimPolicy ?? ""],
    ["Status", (v) => v.status?.phase ?? ""],
    ["Claim", (v) => v.spec?.claimRef ? `${v.spec.claimRef.namespace}/${v.spec.claimRef.name}` : ""],
    ["StorageClass", (v) => v.spec?.storageClassName ?? ""],
    ["Reason", (v) => v.status?.reason ?? ""],
    ["Age", age],
    ["VolumeMode", (v) => v.spec?.volumeMode ?? "Filesystem", 1],
  ],
  PersistentVolumeClaim: [
    ["Status", (c) => c.metadata?.deletionTimestamp ? "Terminating" : c.status?.phase ?? "Pending"],
    ["Volume", (c) => c.spec?.volumeName ?? ""],
    ["Capacity", (c) => c.status?.capacity?.storage ?? ""],
    ["Access Modes", (c) => accessModes(c.status?.accessModes)],
    ["StorageClass", (c) => c.spec?.storageClassName ?? ""],
    ["Age", age],
    ["VolumeMode", (c) => c.spec?.volumeMode ?? "Filesystem", 1],
  ],
  Deployment: [
    ["Ready", (d) => `${d.status?.readyReplicas ?? 0}/${d.spec?.replicas ?? 1}`],
    ["Up-to-date", (d) => d.status?.updatedReplicas ?? 0, 0, "integer"],
    ["Available", (d) => d.status?.availableReplicas ?? 0, 0, "integer"],
    ["Age", age],
    ["Containers", containers, 1],
    ["Images", images, 1],
    ["Selector", selector, 1],
  ],
  ReplicaSet: [
    ["Desired", (r) => r.spec?.replicas ?? 1, 0, "integer"],
    ["Current", (r) => r.status?.replicas ?? 0, 0, "integer"],
    ["Ready", (r) => r.status?.readyReplicas ?? 0, 0, "integer"],
    ["Age", age],
    ["Containers", containers, 1],
    ["Images", images, 1],
    ["Selector", selector, 1],
  ],
  DaemonSet: [
    ["Desired", (d) => d.status?.desiredNumberScheduled ?? 0, 0, "integer"],
    ["Current", (d) => d.status?.currentNumberScheduled ?? 0, 0, "integer"],
    ["Ready", (d) => d.status?.numberReady ?? 0, 0, "integer"],
    ["Up-to-date", (d) => d.status?.updatedNumberScheduled ?? 0, 0, "integer"],
    ["Available", (d) => d.status?.numberAvailable ?? 0, 0, "integer"],
    [
      "Node Selector",
      (d) =>
        Object.entries(d.spec?.template?.spec?.nodeSelector ?? {}).map(([k, v]) => `${k}=${v}`).join(",") ||
        "<none>",
    ],
    ["Age", age],
    ["Containers", containers, 1],
    ["Images", images, 1],
    ["Selector", selector, 1],
  ],
  StatefulSet: [
    ["Ready", (s) => `${s.status?.readyReplicas ?? 0}/${s.spec?.replicas ?? 1}`],
    ["Age", age],
    ["Containers", containers, 1],
    ["Images", images, 1],
  ],
  Lease: [["Holder", (l) => l.spec?.holderIdentity ?? ""], ["Age", age]],
  StorageClass: [
    ["Provisioner", (s) => s.provisioner ?? ""],
    ["ReclaimPolicy", (s) => s.reclaimPolicy ?? "Delete"],
    ["VolumeBindingMode", (s) => s.volumeBindingMode ?? "Immediate"],
    ["AllowVolumeExpansion", (s) => Boolean(s.allowVolumeExpansion)],
    ["Age", age],
  ],
  EndpointSlice: [
    ["AddressType", (s) => s.addressType ?? ""],
    ["Ports", (s) => (s.ports ?? []).map((p: Obj) => p.port).join(",") || "<unset>"],
    ["Endpoints", (s) => (s.endpoints ?? []).flatMap((e: Obj) => e.addresses ?? []).join(",") || "<unset>"],
    ["Age", age],
  ],
};

/** The Table converter with kubectl's columns. */
export function createTableConverter(clock: Clock = systemClock): TableConverter {
  return {
    toTable(type, objects, options) {
      const columns: Column[] = [
        ["Name", (o: Obj) => o.metadata?.name ?? ""],
        ...(COLUMNS[type.kind] ?? [["Age", age]]),
      ];
      const now = clock.now();
      const isDefaultClass = (o: Obj) =>
        type.kind === "StorageClass" &&
        o.metadata?.annotations?.["storageclass.kubernetes.io/is-default-class"] === "true";
      return {
        kind: "Table",
        apiVersion: "meta.k8s.io/v1",
        metadata: {},
        columnDefinitions: columns.map(([name, , priority, kind]) => ({
          name: name === "Name" ? "Name" : name,
          type: kind ?? "string",
          format: name === "Name" ? "name" : "",
          description: name,
          priority: priority ?? 0,
        })),
        rows: objects.map((obj) => {
          const cells = columns.map(([name, cell]) => {
            const value = cell(obj as Obj, now);
            return name === "Name" && isDefaultClass(obj as Obj) ? `${value} (default)` : value;
          });
          const row: { cells: unknown[]; object?: unknown } = { cells };
          if (options.includeObject === "Object") row.object = obj;
          else if (options.includeObject !== "None") {
            row.object = { kind: "PartialObjectMetadata", apiVersion: "meta.k8s.io/v1", metadata: obj.metadata };
          }
          return row;
        }),
      };
    },
  };
}
