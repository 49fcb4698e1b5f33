/**
 * The Endpoints and EndpointSlice controller: for every Service with a
 * selector, the addresses and ports of the pods it selects, as core/v1
 * Endpoints (ready pods in `addresses`, the others in `notReadyAddresses`)
 * and discovery.k8s.io/v1 EndpointSlices (with ready, serving and
 * terminating conditions), target ports resolved per pod. Objects are
 * written only when they change, and removed with their Service.
 *
 * @module
 */

import {
  ConflictError,
  type Endpoint as SliceEndpoint,
  type EndpointAddress,
  type EndpointPort,
  type Endpoints,
  type EndpointSlice,
  type EndpointSlicePort,
  type EndpointSubset,
  ForbiddenError,
  LABEL_SERVICE_NAME,
  type ObjectReference,
  type OwnerReference,
  type Pod,
  type Selector,
  selectorFromSet,
  type Service,
  type ServicePort,
} from "@skiff/api";
import type { Informer } from "@skiff/client";
import { type ControllerContext, isPodReady, objectKey, QueueController } from "./controller.ts";
import { ignoreNotFound, messageOf, stableJson } from "./_workload.ts";

/** Label naming the controller that manages an EndpointSlice. */
export const LABEL_MANAGED_BY = "endpointslice.kubernetes.io/managed-by";
/** This controller's value of {@linkcode LABEL_MANAGED_BY}. */
export const ENDPOINTSLICE_CONTROLLER_NAME = "endpointslice-controller.skiff.dev";
/** Label naming the controller that manages an Endpoints object. */
export const LABEL_ENDPOINTS_MANAGED_BY = "endpoints.kubernetes.io/managed-by";
/** This controller's value of {@linkcode LABEL_ENDPOINTS_MANAGED_BY}. */
export const ENDPOINTS_CONTROLLER_NAME = "endpoints-controller.skiff.dev";
/** Label marking the Endpoints and slices of headless Services. */
export const LABEL_HEADLESS = "service.kubernetes.io/headless";
/** The most endpoints one slice holds, as Kubernetes' default. */
export const MAX_ENDPOINTS_PER_SLICE = 100;

/**
 * The pod port a Service port sends to: a numeric targetPort as is, a named
 * one looked up in the pod's container ports (same protocol); undefined when
 * the pod has no such port.
 */
export function resolveTargetPort(pod: Pod, port: ServicePort): number | undefined {
  const target = port.targetPort ?? port.port;
  if (typeof target === "number") return target;
  if (/^\d+$/.test(target)) return Number(target);
  const protocol = port.protocol ?? "TCP";
  for (const container of pod.spec?.containers ?? []) {
    for (const p of container.ports ?? []) {
      if (p.name === target && (p.protocol ?? "TCP") === protocol) return p.containerPort;
    }
  }
  return undefined;
}

const isFinished = (pod: Pod) => pod.status?.phase === "Failed" || pod.status?.phase === "Succeeded";
const podIP = (pod: Pod) => pod.status?.podIP || pod.status?.podIPs?.[0]?.ip || "";
const isHeadless = (svc: Service) => svc.spec?.clusterIP === "None";

function podRef(pod: Pod): ObjectReference {
  return { kind: "Pod", namespace: pod.metadata.namespace!, name: pod.metadata.name!, uid: pod.metadata.uid! };
}

/** The hostname a pod publishes under a Service: its `spec.hostname` when its subdomain is the Service. */
function hostnameFor(pod: Pod, svc: Service): string | undefined {
  return pod.spec?.hostname && pod.spec.subdomain === svc.metadata.name ? pod.spec.hostname : undefined;
}

/** The ports of the Service as `pod` serves them, or undefined when the Service has ports and none resolves. */
function podPorts(pod: Pod, svc: Service): EndpointSlicePort[] | undefined {
  const ports: EndpointSlicePort[] = [];
  for (const port of svc.spec?.ports ?? []) {
    const number = resolveTargetPort(pod, port);
    if (number === undefined) continue;
    ports.push({
      name: port.name ?? "",
      port: number,
      protocol: port.protocol ?? "TCP",
      ...(port.appProtocol ? { appProtocol: port.appProtocol } : {}),
    });
  }
  if (ports.length === 0 && (svc.spec?.ports ?? []).length > 0) return undefined;
  if (ports.length === 0 && !isHeadless(svc)) return undefined;
  return ports;
}

/** The subsets of the Endpoints of `svc`, from the pods it selects (terminating ones left out). */
export function desiredSubsets(svc: Service, pods: readonly Pod[]): EndpointSubset[] {
  const publishNotReady = svc.spec?.publishNotReadyAddresses === true;
  const groups = new Map<string, { ports: EndpointPort[]; ready: EndpointAddress[]; notReady: EndpointAddress[] }>();
  for (const pod of pods) {
    const ip = podIP(pod);
    if (!ip || isFinished(pod) || (pod.metadata.deletionTimestamp && !publishNotReady)) continue;
    const ports = podPorts(pod, svc);
    if (!ports) continue;
    const epPorts: EndpointPort[] = ports.map((p) => ({
      ...(p.name ? { name: p.name } : {}),
      port: p.port!,
      protocol: p.protocol ?? "TCP",
      ...(p.appProtocol ? { appProtocol: p.appProtocol } : {}),
    })).sort((a, b) => (a.name ?? "").localeCompare(b.name ?? "") || a.port - b.port);
    const key = stableJson(epPorts);
    let group = groups.get(key);
    if (!group) groups.set(key, group = { ports: epPorts, ready: [], notReady: [] });
    const hostname = hostnameFor(pod, svc);
    const address: EndpointAddress = {
      ip,
      ...(hostname ? { hostname } : {}),
      ...(pod.spec?.nodeName ? { nodeName: pod.spec.nodeName } : {}),
      targetRef: podRef(pod),
    };
    (publishNotReady || isPodReady(pod) ? group.ready : group.notReady).push(address);
  }
  const byAddress = (a: EndpointAddress, b: EndpointAddress) =>
    a.ip.localeCompare(b.ip) || (a.targetRef?.name ?? "").localeCompare(b.targetRef?.name ?? "");
  return [...groups.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([, g]) => ({
    ...(g.ready.length > 0 ? { addresses: g.ready.sort(byAddress) } : {}),
    ...(g.notReady.length > 0 ? { notReadyAddresses: g.notReady.sort(byAddress) } : {}),
    ...(g.ports.length > 0 ? { ports: g.ports } : {}),
  }));
}

/** The content of one EndpointSlice. */
export interface SliceContent {
  /** `IPv4` or `IPv6`. */
  addressType: "IPv4" | "IPv6";
  /** The ports, shared by every endpoint. */
  ports: EndpointSlicePort[];
  /** The endpoints (at most {@linkcode MAX_ENDPOINTS_PER_SLICE}). */
  endpoints: SliceEndpoint[];
}

/**
 * The EndpointSlices of `svc`: endpoints grouped by address type and port
 * set, at most {@linkcode MAX_ENDPOINTS_PER_SLICE} a slice, terminating pods
 * included with `terminating: true`; one empty slice when there are none.
 */
export function desiredSlices(svc: Service, pods: readonly Pod[]): SliceContent[] {
  const publishNotReady = svc.spec?.publishNotReadyAddresses === true;
  const groups = new Map<string, SliceContent>();
  for (const pod of pods) {
    const ip = podIP(pod);
    if (!ip || isFinished(pod)) continue;
    const ports = podPorts(pod, svc);
    if (!ports) continue;
    ports.sort((a, b) => (a.name ?? "").localeCompare(b.name ?? "") || (a.port ?? 0) - (b.port ?? 0));
    const addressType = ip.includes(":") ? "IPv6" : "IPv4";
    const key = `${addressType} ${stableJson(ports)}`;
    let group = groups.get(key);
    if (!group) groups.set(key, group = { addressType, ports, endpoints: [] });
    const terminating = Boolean(pod.metadata.deletionTimestamp);
    const serving = publishNotReady || isPodReady(pod);
    const hostname = hostnameFor(pod, svc);
    group.endpoints.push({
      addresses: [ip],
      conditions: { ready: serving && (publishNotReady || !terminating), serving, terminating },
      ...(hostname ? { hostname } : {}),
      ...(pod.spec?.nodeName ? { nodeName: pod.spec.nodeName } : {}),
      targetRef: podRef(pod),
    });
  }
  if (groups.size === 0) return [{ addressType: "IPv4", ports: [], endpoints: [] }];
  const slices: SliceContent[] = [];
  for (const [, group] of [...groups].sort(([a], [b]) => a.localeCompare(b))) {
    group.endpoints.sort((a, b) =>
      a.addresses[0]!.localeCompare(b.addresses[0]!) || (a.targetRef?.name ?? "").localeCompare(b.targetRef?.name ?? "")
    );
    for (let i = 0; i < group.endpoints.length; i += MAX_ENDPOINTS_PER_SLICE) {
      slices.push({ ...group, endpoints: group.endpoints.slice(i, i + MAX_ENDPOINTS_PER_SLICE) });
    }
  }
  return slices;
}

/** What about a pod matters to endpoints. */
function podFingerprint(pod: Pod): string {
  return stableJson([
    pod.metadata.labels,
    podIP(pod),
    isPodReady(pod),
    pod.status?.phase,
    Boolean(pod.metadata.deletionTimestamp),
    pod.spec?.nodeName,
    pod.spec?.hostname,
    pod.spec?.subdomain,
    pod.spec?.containers?.map((c) => c.ports),
  ]);
}

const sliceKey = (s: { addressType: string; ports?: EndpointSlicePort[] | null }) =>
  `${s.addressType} ${stableJson(s.ports ?? [])}`;

/** The Endpoints and EndpointSlice controller. */
export class EndpointsController extends QueueController {
  #services!: Informer<Service>;
  #pods!: Informer<Pod>;
  #endpoints!: Informer<Endpoints>;
  #slices!: Informer<EndpointSlice>;
  #selectors = new WeakMap<Service, Selector>();
  /** Per Service, the newest revisions of the Endpoints and slices written; it waits until the caches have seen them. */
  #written = new Map<string, { endpoints: number; slices: number }>();

  /** Creates the controller. */
  constructor() {
    super("endpoints-controller", 4);
  }

  protected register(ctx: ControllerContext): void {
    this.#services = ctx.informers.for<Service>("v1", "Service");
    this.#pods = ctx.informers.for<Pod>("v1", "Pod");
    this.#endpoints = ctx.informers.for<Endpoints>("v1", "Endpoints");
    this.#slices = ctx.informers.for<EndpointSlice>("discovery.k8s.io/v1", "EndpointSlice");
    this.#services.on({
      add: (svc) => this.enqueue(objectKey(svc)),
      update: (_, svc) => this.enqueue(objectKey(svc)),
      delete: (svc) => this.enqueue(objectKey(svc)),
    });
    this.#pods.on({
      add: (pod) => this.#enqueueFor(pod),
      update: (old, pod) => {
        if (old !== pod && podFingerprint(old) === podFingerprint(pod)) return;
        this.#enqueueFor(pod);
        if (stableJson(old.metadata.labels) !== stableJson(pod.metadata.labels)) this.#enqueueFor(old);
      },
      delete: (pod) => this.#enqueueFor(pod),
    });
    this.#endpoints.on({
      add: (ep) => this.enqueue(objectKey(ep)),
      update: (_, ep) => this.enqueue(objectKey(ep)),
      delete: (ep) => this.enqueue(objectKey(ep)),
    });
    const slice = (s: EndpointSlice) => {
      const service = s.metadata.labels?.[LABEL_SERVICE_NAME];
      if (service && s.metadata.labels?.[LABEL_MANAGED_BY] === ENDPOINTSLICE_CONTROLLER_NAME) {
        this.enqueue(`${s.metadata.namespace}/${service}`);
      }
    };
    this.#slices.on({ add: slice, update: (_, s) => slice(s), delete: slice });
  }

  #selector(svc: Service): Selector | undefined {
    if (!svc.spec?.selector || svc.spec.type === "ExternalName") return undefined;
    let s = this.#selectors.get(svc);
    if (!s) this.#selectors.set(svc, s = selectorFromSet(svc.spec.selector));
    return s;
  }

  #enqueueFor(pod: Pod): void {
    for (const svc of this.#services.list()) {
      if (svc.metadata.namespace !== pod.metadata.namespace) continue;
      if (this.#selector(svc)?.matches(pod.metadata.labels)) this.enqueue(objectKey(svc));
    }
  }

  /** True once both caches have seen every write this controller made for `key`. */
  #cachesCurrent(key: string): boolean {
    const written = this.#written.get(key);
    if (written === undefined) return true;
    if (
      (Number(this.#endpoints.resourceVersion) || 0) < written.endpoints ||
      (Number(this.#slices.resourceVersion) || 0) < written.slices
    ) return false;
    this.#written.delete(key);
    return true;
  }

  #wrote(key: string, kind: "endpoints" | "slices", obj: { metadata: { resourceVersion?: string } }): void {
    const written = this.#written.get(key) ?? { endpoints: 0, slices: 0 };
    written[kind] = Math.max(written[kind], Number(obj.metadata.resourceVersion) || 0);
    this.#written.set(key, written);
  }

  async reconcile(key: string): Promise<void> {
    if (!this.#cachesCurrent(key)) return;
    const svc = this.#services.get(key);
    const [namespace, name] = [key.slice(0, key.indexOf("/")), key.slice(key.indexOf("/") + 1)];
    const selector = svc ? this.#selector(svc) : undefined;
    if (!svc || !selector) {
      const ep = this.#endpoints.get(key);
      if (ep?.metadata.labels?.[LABEL_ENDPOINTS_MANAGED_BY] === ENDPOINTS_CONTROLLER_NAME) {
        await ignoreNotFound(this.ctx.client.kind("v1", "Endpoints").delete(name, { namespace }));
      }
      await this.#deleteSlices(this.#ownedSlices(namespace, name));
      return;
    }
    const pods = this.#pods.list().filter((p) =>
      p.metadata.namespace === namespace && selector.matches(p.metadata.labels)
    );
    await this.#syncEndpoints(svc, key, desiredSubsets(svc, pods));
    await this.#syncSlices(svc, key, desiredSlices(svc, pods));
  }

  #labels(svc: Service): Record<string, string> {
    return { ...svc.metadata.labels, ...(isHeadless(svc) ? { [LABEL_HEADLESS]: "" } : {}) };
  }

  async #syncEndpoints(svc: Service, key: string, subsets: EndpointSubset[]): Promise<void> {
    const client = this.ctx.client.kind<Endpoints>("v1", "Endpoints");
    const current = this.#endpoints.get(key);
    const labels = { ...this.#labels(svc), [LABEL_ENDPOINTS_MANAGED_BY]: ENDPOINTS_CONTROLLER_NAME };
    if (
      current && stableJson(current.subsets ?? []) === stableJson(subsets) &&
      stableJson(current.metadata.labels ?? {}) === stableJson(labels)
    ) return;
    try {
      const written = current
        ? await client.update({ ...current, metadata: { ...current.metadata, labels }, subsets })
        : await client.create({
          apiVersion: "v1",
          kind: "Endpoints",
          metadata: { name: svc.metadata.name!, namespace: svc.metadata.namespace!, labels },
          subsets,
        });
      this.#wrote(key, "endpoints", written);
    } catch (err) {
      if (err instanceof ForbiddenError) return; // the namespace is being deleted
      if (err instanceof ConflictError) throw err; // a stale cache: retried
      this.ctx.recorder.event(
        svc,
        "Warning",
        "FailedToUpdateEndpoint",
        `Failed to update endpoint ${key}: ${messageOf(err)}`,
      );
      throw err;
    }
  }

  #ownedSlices(namespace: string, name: string): EndpointSlice[] {
    return this.#slices.list().filter((s) =>
      s.metadata.namespace === namespace && s.metadata.labels?.[LABEL_SERVICE_NAME] === name &&
      s.metadata.labels?.[LABEL_MANAGED_BY] === ENDPOINTSLICE_CONTROLLER_NAME
    );
  }

  async #deleteSlices(slices: EndpointSlice[]): Promise<void> {
    const client = this.ctx.client.kind<EndpointSlice>("discovery.k8s.io/v1", "EndpointSlice");
    for (const slice of slices) {
      await ignoreNotFound(client.delete(slice.metadata.name!, { namespace: slice.metadata.namespace! }));
    }
  }

  async #syncSlices(svc: Service, key: string, desired: SliceContent[]): Promise<void> {
    const client = this.ctx.client.kind<EndpointSlice>("discovery.k8s.io/v1", "EndpointSlice");
    const namespace = svc.metadata.namespace!;
    const labels = {
      ...this.#labels(svc),
      [LABEL_SERVICE_NAME]: svc.metadata.name!,
      [LABEL_MANAGED_BY]: ENDPOINTSLICE_CONTROLLER_NAME,
    };
    const owner: OwnerReference = {
      apiVersion: "v1",
      kind: "Service",
      name: svc.metadata.name!,
      uid: svc.metadata.uid!,
      controller: true,
      blockOwnerDeletion: true,
    };
    const existing = new Map<string, EndpointSlice[]>();
    for (const slice of this.#ownedSlices(namespace, svc.metadata.name!)) {
      const k = sliceKey(slice);
      existing.set(k, [...(existing.get(k) ?? []), slice]);
    }
    for (const list of existing.values()) list.sort((a, b) => a.metadata.name!.localeCompare(b.metadata.name!));
    try {
      for (const content of desired) {
        const reuse = existing.get(sliceKey(content))?.shift();
        const body = { addressType: content.addressType, endpoints: content.endpoints, ports: content.ports };
        if (!reuse) {
          this.#wrote(
            key,
            "slices",
            await client.create({
              apiVersion: "discovery.k8s.io/v1",
              kind: "EndpointSlice",
              metadata: { generateName: `${svc.metadata.name}-`, namespace, labels, ownerReferences: [owner] },
              ...body,
            }),
          );
          continue;
        }
        const same = stableJson([reuse.endpoints ?? [], reuse.ports ?? [], reuse.metadata.labels ?? {}]) ===
            stableJson([body.endpoints, body.ports, labels]) &&
          reuse.metadata.ownerReferences?.some((r) => r.uid === owner.uid);
        if (same) continue;
        this.#wrote(
          key,
          "slices",
          await client.update({
            ...reuse,
            ...body,
            metadata: { ...reuse.metadata, labels, ownerReferences: [owner] },
          }),
        );
      }
      await this.#deleteSlices([...existing.values()].flat());
    } catch (err) {
      if (err instanceof ForbiddenError) return; // the namespace is being deleted
      if (err instanceof ConflictError) throw err; // a stale cache: retried
      this.ctx.recorder.event(
        svc,
        "Warning",
        "FailedToUpdateEndpointSlices",
        `Error updating Endpoint Slices for Service ${key}: ${messageOf(err)}`,
      );
      throw err;
    }
  }
}
