/**
 * `describe` text, laid out as kubectl lays it out: aligned `Key:  value`
 * lines, sections, small tables, and the object's Events last. Pods, nodes,
 * deployments, replica sets and services have their own describers; every
 * other kind is shown field by field.
 *
 * @module
 */

import {
  age,
  type Condition,
  type Container,
  type Deployment,
  type KubeObject,
  type Node,
  type NodeMetrics,
  nodeRoles,
  type Pod,
  podStatus,
  type PodTemplateSpec,
  type ReplicaSet,
} from "@skiff/api";
import { LAST_APPLIED_ANNOTATION } from "./_well_known.ts";
import { renderTable } from "./_table.ts";
import { nodeArch, nodeCpuPercent, nodeMemoryPercent, nodeTemperature } from "./_views.ts";

type Line = { indent: number; key?: string; value: string };

/** Accumulates describe lines; values of consecutive `key: value` lines at one indent line up. */
export class DescribeWriter {
  #lines: Line[] = [];

  /** A `Key:  value` line. A multi-line value continues under the value column. */
  kv(indent: number, key: string, value: unknown): void {
    this.#lines.push({
      indent,
      key,
      value: value === undefined || value === null || value === "" ? "<none>" : String(value),
    });
  }

  /** A line of text (a section title such as `Containers:`, or a table row). */
  text(indent: number, text: string): void {
    this.#lines.push({ indent, value: text });
  }

  /** A table under a section, with kubectl's dashes under the header. */
  table(indent: number, header: string[], rows: string[][]): void {
    const dashes = header.map((h) => "-".repeat(h.length));
    for (const line of renderTable([header, dashes, ...rows]).trimEnd().split("\n")) this.text(indent, line);
  }

  /**
   * The rendered text. The values of `key: value` lines at one indent line
   * up across deeper lines between them, until a shallower line or a title
   * at that indent.
   */
  render(): string {
    const lines = this.#lines;
    const widths = new Map<number, number>();
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!;
      if (line.key === undefined || widths.has(i)) continue;
      const block: number[] = [];
      for (let j = i; j < lines.length; j++) {
        const other = lines[j]!;
        if (other.indent < line.indent || (other.indent === line.indent && other.key === undefined)) break;
        if (other.indent === line.indent) block.push(j);
      }
      const width = Math.max(...block.map((j) => lines[j]!.key!.length + 1));
      for (const j of block) widths.set(j, width);
    }
    const out: string[] = [];
    lines.forEach((line, i) => {
      const pad = " ".repeat(line.indent * 2);
      if (line.key === undefined) {
        out.push(pad + line.value);
        return;
      }
      const width = widths.get(i)!;
      const [first, ...rest] = line.value.replace(/\n$/, "").split("\n");
      out.push(`${pad}${`${line.key}:`.padEnd(width + 2)}${first}`.trimEnd());
      for (const more of rest) out.push((" ".repeat(pad.length + width + 2) + more).trimEnd());
    });
    return out.join("\n") + "\n";
  }
}

/** `k=v` lines, sorted, or `<none>`. */
function mapLines(map: Record<string, string> | undefined, separator = "="): string {
  const entries = Object.entries(map ?? {}).sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0);
  return entries.length === 0 ? "<none>" : entries.map(([k, v]) => `${k}${separator}${v}`).join("\n");
}

function annotationLines(obj: KubeObject): string {
  const annotations = { ...(obj.metadata.annotations ?? {}) };
  delete annotations[LAST_APPLIED_ANNOTATION];
  return mapLines(annotations, ": ");
}

function selectorText(selector: { matchLabels?: Record<string, string>; matchExpressions?: unknown[] } | undefined) {
  if (!selector) return "<none>";
  const parts = Object.entries(selector.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  for (const e of (selector.matchExpressions ?? []) as { key: string; operator: string; values?: string[] }[]) {
    parts.push(`${e.key} ${e.operator.toLowerCase()} (${(e.values ?? []).join(",")})`);
  }
  return parts.join(",") || "<none>";
}

function header(w: DescribeWriter, obj: KubeObject, namespaced: boolean): void {
  w.kv(0, "Name", obj.metadata.name);
  if (namespaced) w.kv(0, "Namespace", obj.metadata.namespace);
  w.kv(0, "Labels", mapLines(obj.metadata.labels));
  w.kv(0, "Annotations", annotationLines(obj));
  w.kv(0, "CreationTimestamp", obj.metadata.creationTimestamp);
}

function controlledBy(obj: KubeObject): string | undefined {
  const owner = (obj.metadata.ownerReferences ?? []).find((o) => o.controller);
  return owner ? `${owner.kind}/${owner.name}` : undefined;
}

function conditionsTable(w: DescribeWriter, conditions: Condition[] | undefined, withReason: boolean): void {
  w.text(0, "Conditions:");
  if (!conditions || conditions.length === 0) {
    w.text(1, "<none>");
    return;
  }
  w.table(
    1,
    withReason ? ["Type", "Status", "Reason", "Message"] : ["Type", "Status"],
    conditions.map((c) => withReason ? [c.type, c.status, c.reason ?? "", c.message ?? ""] : [c.type, c.status]),
  );
}

function stateLines(w: DescribeWriter, indent: number, label: string, state: Record<string, unknown> | undefined) {
  const s = state as
    | {
      running?: { startedAt?: string };
      waiting?: { reason?: string; message?: string };
      terminated?: { reason?: string; exitCode?: number; startedAt?: string; finishedAt?: string; message?: string };
    }
    | undefined;
  if (s?.running) {
    w.kv(indent, label, "Running");
    w.kv(indent + 1, "Started", s.running.startedAt);
  } else if (s?.waiting) {
    w.kv(indent, label, "Waiting");
    w.kv(indent + 1, "Reason", s.waiting.reason);
    if (s.waiting.message) w.kv(indent + 1, "Message", s.waiting.message);
  } else if (s?.terminated) {
    w.kv(indent, label, "Terminated");
    w.kv(indent + 1, "Reason", s.terminated.reason);
    w.kv(indent + 1, "Exit Code", s.terminated.exitCode);
    w.kv(indent + 1, "Started", s.terminated.startedAt);
    w.kv(indent + 1, "Finished", s.terminated.finishedAt);
  } else if (label === "State") {
    w.kv(indent, label, "Waiting");
  }
}

function containerLines(w: DescribeWriter, indent: number, container: Container, pod?: Pod): void {
  w.text(indent, `${container.name}:`);
  const status = pod?.status?.containerStatuses?.find((s) => s.name === container.name) ??
    pod?.status?.initContainerStatuses?.find((s) => s.name === container.name);
  w.kv(indent + 1, "Image", container.image);
  const ports = (container.ports ?? []).map((p) => `${p.containerPort}/${p.protocol ?? "TCP"}`).join(", ");
  w.kv(indent + 1, "Port", ports || "<none>");
  if (container.command) w.kv(indent + 1, "Command", container.command.join("\n"));
  if (container.args) w.kv(indent + 1, "Args", container.args.join("\n"));
  if (pod) {
    stateLines(w, indent + 1, "State", status?.state as Record<string, unknown> | undefined);
    if (status?.lastState && Object.keys(status.lastState).length > 0) {
      stateLines(w, indent + 1, "Last State", status.lastState as Record<string, unknown>);
    }
    w.kv(indent + 1, "Ready", status?.ready ? "True" : "False");
    w.kv(indent + 1, "Restart Count", status?.restartCount ?? 0);
  }
  const limits = container.resources?.limits;
  const requests = container.resources?.requests;
  if (limits && Object.keys(limits).length > 0) {
    w.text(indent + 1, "Limits:");
    for (const [k, v] of Object.entries(limits)) w.kv(indent + 2, k, v);
  }
  if (requests && Object.keys(requests).length > 0) {
    w.text(indent + 1, "Requests:");
    for (const [k, v] of Object.entries(requests)) w.kv(indent + 2, k, v);
  }
  const env = (container.env ?? []).map((e): [string, string] => {
    if (e.value !== undefined) return [e.name, e.value];
    const from = e.valueFrom;
    if (from?.secretKeyRef) {
      return [e.name, `<set to the key '${from.secretKeyRef.key}' in secret '${from.secretKeyRef.name}'>`];
    }
    if (from?.configMapKeyRef) {
      return [e.name, `<set to the key '${from.configMapKeyRef.key}' of config map '${from.configMapKeyRef.name}'>`];
    }
    if (from?.fieldRef) return [e.name, `(${from.fieldRef.apiVersion ?? "v1"}:${from.fieldRef.fieldPath})`];
    return [e.name, "<set from a source>"];
  });
  if (env.length === 0) w.kv(indent + 1, "Environment", "<none>");
  else {
    w.text(indent + 1, "Environment:");
    for (const [name, value] of env) w.kv(indent + 2, name, value);
  }
  const mounts = (container.volumeMounts ?? []).map((m) =>
    `${m.mountPath} from ${m.name} (${m.readOnly ? "ro" : "rw"})`
  );
  if (mounts.length === 0) w.kv(indent + 1, "Mounts", "<none>");
  else {
    w.text(indent + 1, "Mounts:");
    for (const line of mounts) w.text(indent + 2, line);
  }
}

function volumeLines(w: DescribeWriter, volumes: Record<string, unknown>[] | undefined): void {
  if (!volumes || volumes.length === 0) {
    w.kv(0, "Volumes", "<none>");
    return;
  }
  w.text(0, "Volumes:");
  for (const volume of volumes) {
    w.text(1, `${volume.name}:`);
    const [kind, source] = Object.entries(volume).find(([k]) => k !== "name") ?? ["unknown", {}];
    w.kv(2, "Type", kind);
    for (const [k, v] of Object.entries((source ?? {}) as Record<string, unknown>)) {
      w.kv(2, k, typeof v === "object" ? JSON.stringify(v) : v);
    }
  }
}

/** The `Pod Template:` section of deployments, replica sets and `rollout history --revision`. */
export function podTemplateLines(w: DescribeWriter, indent: number, template: PodTemplateSpec | undefined): void {
  w.kv(indent, "Labels", mapLines(template?.metadata?.labels));
  const annotations = template?.metadata?.annotations;
  if (annotations && Object.keys(annotations).length > 0) w.kv(indent, "Annotations", mapLines(annotations, ": "));
  const spec = template?.spec;
  if (spec?.initContainers?.length) {
    w.text(indent, "Init Containers:");
    for (const c of spec.initContainers) containerLines(w, indent + 1, c);
  }
  w.text(indent, "Containers:");
  for (const c of spec?.containers ?? []) containerLines(w, indent + 1, c);
  if (spec?.volumes?.length) {
    w.text(indent, "Volumes:");
    for (const volume of spec.volumes as unknown as Record<string, unknown>[]) {
      const [kind] = Object.entries(volume).find(([k]) => k !== "name") ?? ["unknown"];
      w.kv(indent + 1, String(volume.name), kind);
    }
  }
  w.kv(indent, "Node-Selectors", mapLines(spec?.nodeSelector));
}

/** A Kubernetes Event, as far as describe needs it. */
export interface EventLike extends KubeObject {
  /** Normal or Warning. */
  type?: string;
  /** Short reason. */
  reason?: string;
  /** Message. */
  message?: string;
  /** How many times it happened. */
  count?: number;
  /** First time. */
  firstTimestamp?: string;
  /** Last time. */
  lastTimestamp?: string;
  /** Time (events.k8s.io style). */
  eventTime?: string;
  /** Who reported it. */
  source?: { component?: string; host?: string };
  /** Who reported it (new style). */
  reportingComponent?: string;
}

/** When an event last happened. */
export function eventTime(e: EventLike): string | undefined {
  return e.lastTimestamp ?? e.eventTime ?? e.firstTimestamp ?? e.metadata.creationTimestamp;
}

function eventsSection(w: DescribeWriter, events: EventLike[] | undefined, now: number): void {
  if (events === undefined) return;
  if (events.length === 0) {
    w.kv(0, "Events", "<none>");
    return;
  }
  w.text(0, "Events:");
  const sorted = [...events].sort((a, b) => Date.parse(eventTime(a) ?? "") - Date.parse(eventTime(b) ?? ""));
  w.table(
    1,
    ["Type", "Reason", "Age", "From", "Message"],
    sorted.map((e) => {
      const last = age(eventTime(e), now);
      const count = e.count ?? 1;
      const when = count > 1 ? `${last} (x${count} over ${age(e.firstTimestamp ?? eventTime(e), now)})` : last;
      return [e.type ?? "", e.reason ?? "", when, e.source?.component ?? e.reportingComponent ?? "", e.message ?? ""];
    }),
  );
}

/** What a describer may use besides the object. */
export interface DescribeExtras {
  /** The object's events (undefined: do not show the section). */
  events?: EventLike[];
  /** The current time. */
  now: number;
  /** Pods on the node (node describe). */
  pods?: Pod[];
  /** The node's usage (node describe). */
  nodeMetrics?: NodeMetrics;
  /** Replica sets of the deployment (deployment describe). */
  replicaSets?: ReplicaSet[];
}

function describePod(w: DescribeWriter, pod: Pod, extras: DescribeExtras): void {
  w.kv(0, "Name", pod.metadata.name);
  w.kv(0, "Namespace", pod.metadata.namespace);
  w.kv(0, "Priority", pod.spec?.priority ?? 0);
  const hostIP = pod.status?.hostIP ? `/${pod.status.hostIP}` : "";
  w.kv(0, "Node", pod.spec?.nodeName ? `${pod.spec.nodeName}${hostIP}` : "<none>");
  w.kv(0, "Start Time", pod.status?.startTime);
  w.kv(0, "Labels", mapLines(pod.metadata.labels));
  w.kv(0, "Annotations", annotationLines(pod));
  w.kv(0, "Status", podStatus(pod));
  w.kv(0, "IP", pod.status?.podIP);
  w.kv(0, "Controlled By", controlledBy(pod));
  if (pod.spec?.initContainers?.length) {
    w.text(0, "Init Containers:");
    for (const c of pod.spec.initContainers) containerLines(w, 1, c, pod);
  }
  w.text(0, "Containers:");
  for (const c of pod.spec?.containers ?? []) containerLines(w, 1, c, pod);
  conditionsTable(w, pod.status?.conditions, false);
  volumeLines(w, pod.spec?.volumes as unknown as Record<string, unknown>[] | undefined);
  w.kv(0, "QoS Class", pod.status?.qosClass);
  w.kv(0, "Node-Selectors", mapLines(pod.spec?.nodeSelector));
  const tolerations = (pod.spec?.tolerations ?? []).map((t) =>
    `${t.key ?? ""}${t.operator === "Exists" ? "" : t.value ? `=${t.value}` : ""}${t.effect ? `:${t.effect}` : ""}${
      t.tolerationSeconds !== undefined ? ` for ${t.tolerationSeconds}s` : ""
    }` || "op=Exists"
  );
  w.kv(0, "Tolerations", tolerations.join("\n") || "<none>");
  eventsSection(w, extras.events, extras.now);
}

function describeNode(w: DescribeWriter, node: Node, extras: DescribeExtras): void {
  w.kv(0, "Name", node.metadata.name);
  w.kv(0, "Roles", nodeRoles(node));
  w.kv(0, "Labels", mapLines(node.metadata.labels));
  w.kv(0, "Annotations", annotationLines(node));
  w.kv(0, "CreationTimestamp", node.metadata.creationTimestamp);
  const taints = (node.spec?.taints ?? []).map((t) => `${t.key}${t.value ? `=${t.value}` : ""}:${t.effect}`);
  w.kv(0, "Taints", taints.join("\n") || "<none>");
  w.kv(0, "Unschedulable", Boolean(node.spec?.unschedulable));
  w.text(0, "Hardware:");
  w.kv(1, "Arch", nodeArch(node));
  w.kv(1, "CPU", nodeCpuPercent(node, extras.nodeMetrics));
  w.kv(1, "Memory", nodeMemoryPercent(node, extras.nodeMetrics));
  w.kv(1, "Temperature", nodeTemperature(node));
  conditionsTable(w, node.status?.conditions, true);
  w.text(0, "Addresses:");
  for (const a of node.status?.addresses ?? []) w.kv(1, a.type, a.address);
  for (
    const [title, list] of [["Capacity", node.status?.capacity], ["Allocatable", node.status?.allocatable]] as const
  ) {
    w.text(0, `${title}:`);
    for (const [k, v] of Object.entries(list ?? {})) w.kv(1, k, v);
  }
  const info = node.status?.nodeInfo;
  if (info) {
    w.text(0, "System Info:");
    w.kv(1, "Kernel Version", info.kernelVersion);
    w.kv(1, "OS Image", info.osImage);
    w.kv(1, "Operating System", info.operatingSystem);
    w.kv(1, "Architecture", info.architecture);
    w.kv(1, "Container Runtime Version", info.containerRuntimeVersion);
    w.kv(1, "Kubelet Version", info.kubeletVersion);
  }
  w.kv(0, "PodCIDR", node.spec?.podCIDR);
  if (extras.pods) {
    const active = extras.pods.filter((p) => p.status?.phase !== "Succeeded" && p.status?.phase !== "Failed");
    w.text(0, `Non-terminated Pods:  (${active.length} in total)`);
    if (active.length > 0) {
      const sum = (c: Container[] | undefined, kind: "requests" | "limits", res: string) =>
        (c ?? []).map((x) => x.resources?.[kind]?.[res]).filter((v) => v).join("+") || "0";
      w.table(
        1,
        ["Namespace", "Name", "CPU Requests", "CPU Limits", "Memory Requests", "Memory Limits", "Age"],
        active.map((p) => [
          p.metadata.namespace ?? "",
          p.metadata.name ?? "",
          sum(p.spec?.containers, "requests", "cpu"),
          sum(p.spec?.containers, "limits", "cpu"),
          sum(p.spec?.containers, "requests", "memory"),
          sum(p.spec?.containers, "limits", "memory"),
          age(p.metadata.creationTimestamp, extras.now),
        ]),
      );
    }
  }
  eventsSection(w, extras.events, extras.now);
}

function describeDeployment(w: DescribeWriter, d: Deployment, extras: DescribeExtras): void {
  header(w, d, true);
  w.kv(0, "Selector", selectorText(d.spec?.selector));
  const s = d.status ?? {};
  const desired = d.spec?.replicas ?? 1;
  w.kv(
    0,
    "Replicas",
    `${desired} desired | ${s.updatedReplicas ?? 0} updated | ${s.replicas ?? 0} total | ${
      s.availableReplicas ?? 0
    } available | ${s.unavailableReplicas ?? 0} unavailable`,
  );
  w.kv(0, "StrategyType", d.spec?.strategy?.type ?? "RollingUpdate");
  w.kv(0, "MinReadySeconds", d.spec?.minReadySeconds ?? 0);
  const rolling = d.spec?.strategy?.rollingUpdate;
  if ((d.spec?.strategy?.type ?? "RollingUpdate") === "RollingUpdate") {
    w.kv(
      0,
      "RollingUpdateStrategy",
      `${rolling?.maxUnavailable ?? "25%"} max unavailable, ${rolling?.maxSurge ?? "25%"} max surge`,
    );
  }
  w.text(0, "Pod Template:");
  podTemplateLines(w, 1, d.spec?.template);
  conditionsTable(w, s.conditions, true);
  if (extras.replicaSets) {
    const owned = extras.replicaSets;
    const hash = (rs: ReplicaSet) => JSON.stringify(rs.spec?.template?.spec);
    const current = owned.find((rs) => hash(rs) === JSON.stringify(d.spec?.template?.spec));
    const text = (rs: ReplicaSet) =>
      `${rs.metadata.name} (${rs.status?.replicas ?? 0}/${rs.spec?.replicas ?? 0} replicas created)`;
    const old = owned.filter((rs) => rs !== current && (rs.spec?.replicas ?? 0) > 0);
    w.kv(0, "OldReplicaSets", old.map(text).join(", ") || "<none>");
    w.kv(0, "NewReplicaSet", current ? text(current) : "<none>");
  }
  eventsSection(w, extras.events, extras.now);
}

function describeReplicaSet(w: DescribeWriter, rs: ReplicaSet, extras: DescribeExtras): void {
  header(w, rs, true);
  w.kv(0, "Selector", selectorText(rs.spec?.selector));
  w.kv(0, "Controlled By", controlledBy(rs));
  w.kv(0, "Replicas", `${rs.status?.replicas ?? 0} current / ${rs.spec?.replicas ?? 1} desired`);
  w.kv(0, "Pods Status", `${rs.status?.readyReplicas ?? 0} Ready / ${rs.status?.availableReplicas ?? 0} Available`);
  w.text(0, "Pod Template:");
  podTemplateLines(w, 1, rs.spec?.template);
  eventsSection(w, extras.events, extras.now);
}

function describeService(w: DescribeWriter, svc: KubeObject, extras: DescribeExtras): void {
  const spec = (svc.spec ?? {}) as {
    selector?: Record<string, string>;
    type?: string;
    clusterIP?: string;
    ports?: { name?: string; port: number; targetPort?: unknown; nodePort?: number; protocol?: string }[];
    sessionAffinity?: string;
    externalIPs?: string[];
  };
  w.kv(0, "Name", svc.metadata.name);
  w.kv(0, "Namespace", svc.metadata.namespace);
  w.kv(0, "Labels", mapLines(svc.metadata.labels));
  w.kv(0, "Annotations", annotationLines(svc));
  w.kv(0, "Selector", Object.entries(spec.selector ?? {}).map(([k, v]) => `${k}=${v}`).join(",") || "<none>");
  w.kv(0, "Type", spec.type ?? "ClusterIP");
  w.kv(0, "IP", spec.clusterIP);
  if (spec.externalIPs?.length) w.kv(0, "External IPs", spec.externalIPs.join(","));
  for (const p of spec.ports ?? []) {
    w.kv(0, "Port", `${p.name ?? "<unset>"}  ${p.port}/${p.protocol ?? "TCP"}`);
    w.kv(0, "TargetPort", `${p.targetPort ?? p.port}/${p.protocol ?? "TCP"}`);
    if (p.nodePort) w.kv(0, "NodePort", `${p.name ?? "<unset>"}  ${p.nodePort}/${p.protocol ?? "TCP"}`);
  }
  w.kv(0, "Session Affinity", spec.sessionAffinity ?? "None");
  eventsSection(w, extras.events, extras.now);
}

/** `creationTimestamp` -> `Creation Timestamp`, as kubectl's generic describer names fields. */
function fieldTitle(key: string): string {
  const words = key.replace(/([a-z0-9])([A-Z])/g, "$1 $2").replace(/([A-Z]+)([A-Z][a-z])/g, "$1 $2");
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function genericValue(w: DescribeWriter, indent: number, key: string, value: unknown): void {
  if (Array.isArray(value)) {
    if (value.length === 0) return w.kv(indent, key, "<none>");
    if (value.every((v) => typeof v !== "object" || v === null)) return w.kv(indent, key, value.join("\n"));
    w.text(indent, `${key}:`);
    for (const item of value) {
      const entries = Object.entries(item as Record<string, unknown>);
      entries.forEach(([k, v], i) => {
        if (i === 0 && (typeof v !== "object" || v === null)) w.kv(indent + 1, fieldTitle(k), v);
        else genericValue(w, indent + 1, fieldTitle(k), v);
      });
    }
    return;
  }
  if (typeof value === "object" && value !== null) {
    const entries = Object.entries(value);
    if (entries.length === 0) return w.kv(indent, key, "<none>");
    w.text(indent, `${key}:`);
    for (const [k, v] of entries) genericValue(w, indent + 1, /[./]/.test(k) ? k : fieldTitle(k), v);
    return;
  }
  w.kv(indent, key, value);
}

function describeGeneric(w: DescribeWriter, obj: KubeObject, namespaced: boolean, extras: DescribeExtras): void {
  w.kv(0, "Name", obj.metadata.name);
  if (namespaced) w.kv(0, "Namespace", obj.metadata.namespace);
  w.kv(0, "Labels", mapLines(obj.metadata.labels));
  w.kv(0, "Annotations", annotationLines(obj));
  w.kv(0, "API Version", obj.apiVersion);
  w.kv(0, "Kind", obj.kind);
  const { metadata: _metadata, apiVersion: _apiVersion, kind: _kind, ...rest } = obj;
  for (const [key, value] of Object.entries(rest)) {
    genericValue(w, 0, key === "data" && obj.kind === "Secret" ? "Data" : fieldTitle(key), value);
  }
  eventsSection(w, extras.events, extras.now);
}

function describeSecret(w: DescribeWriter, secret: KubeObject, extras: DescribeExtras): void {
  w.kv(0, "Name", secret.metadata.name);
  w.kv(0, "Namespace", secret.metadata.namespace);
  w.kv(0, "Labels", mapLines(secret.metadata.labels));
  w.kv(0, "Annotations", annotationLines(secret));
  w.kv(0, "Type", (secret as { type?: string }).type ?? "Opaque");
  w.text(0, "");
  w.text(0, "Data");
  w.text(0, "====");
  for (const [key, value] of Object.entries((secret.data ?? {}) as Record<string, string>)) {
    w.kv(0, key, `${atob(value).length} bytes`);
  }
  eventsSection(w, extras.events, extras.now);
}

/** The describe text of one object. */
export function describeObject(obj: KubeObject, namespaced: boolean, extras: DescribeExtras): string {
  const w = new DescribeWriter();
  switch (obj.kind) {
    case "Pod":
      describePod(w, obj as Pod, extras);
      break;
    case "Node":
      describeNode(w, obj as Node, extras);
      break;
    case "Deployment":
      describeDeployment(w, obj as Deployment, extras);
      break;
    case "ReplicaSet":
      describeReplicaSet(w, obj as ReplicaSet, extras);
      break;
    case "Service":
      describeService(w, obj, extras);
      break;
    case "Secret":
      describeSecret(w, obj, extras);
      break;
    default:
      describeGeneric(w, obj, namespaced, extras);
  }
  return w.render();
}
