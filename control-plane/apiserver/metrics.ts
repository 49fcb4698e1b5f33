/**
 * The metrics.k8s.io API (NodeMetrics, PodMetrics), as metrics-server serves
 * it, so `kubectl top` and `skiff top` work. Agents push their readings with
 * PUT; the server keeps them in memory only — they change every few seconds
 * and are worthless after a restart, so writing them to the store would wear
 * an SD card for nothing. Readings older than two minutes are dropped.
 *
 * @module
 */

import {
  BadRequestError,
  type Clock,
  ForbiddenError,
  type KubeObject,
  MethodNotAllowedError,
  NotFoundError,
  parseSelector,
  systemClock,
} from "@skiff/api";
import { decodeObject, readBody } from "./_body.ts";
import type { SubresourceHandler } from "./handler.ts";
import type { ObjectStore } from "./object_store.ts";
import type { ServedType } from "./served_type.ts";

const TTL_MS = 120_000;

interface Entry {
  object: KubeObject;
  at: number;
}

/** In-memory storage and handlers of the metrics API. */
export class MetricsApi {
  #nodes = new Map<string, Entry>();
  #pods = new Map<string, Entry>();
  #clock: Clock;
  #podType: ServedType;

  /** Creates an empty metrics store; `podType` is the core Pod type (to check who may report a pod). */
  constructor(podType: ServedType, clock: Clock = systemClock) {
    this.#podType = podType;
    this.#clock = clock;
  }

  /** The handlers to register as `resources` of the API handler. */
  handlers(): Record<string, SubresourceHandler> {
    return {
      "metrics.k8s.io/nodes": (req, ctx) => this.#serve(req, ctx, this.#nodes, "NodeMetrics"),
      "metrics.k8s.io/pods": (req, ctx) => this.#serve(req, ctx, this.#pods, "PodMetrics"),
    };
  }

  async #serve(
    req: Request,
    ctx: Parameters<SubresourceHandler>[1],
    map: Map<string, Entry>,
    kind: "NodeMetrics" | "PodMetrics",
  ): Promise<Response> {
    const { route, user, objects } = ctx;
    if (route.subresource) throw new NotFoundError(`${route.resource}/${route.subresource} is not served`);
    this.#expire(map);
    if (req.method === "GET" && kind === "PodMetrics") await this.#forgetDeletedPods(objects, route.namespace);
    const key = (ns: string | undefined, name: string) => ns ? `${ns}/${name}` : name;
    if (req.method === "GET") {
      if (route.name) {
        const entry = map.get(key(route.namespace, route.name));
        if (!entry) {
          throw new NotFoundError(`${route.resource}.metrics.k8s.io "${route.name}" not found`, {
            details: { name: route.name, group: "metrics.k8s.io", kind: route.resource },
          });
        }
        return json(200, entry.object);
      }
      const selector = new URL(req.url).searchParams.get("labelSelector");
      let matches: (labels: Record<string, string> | undefined) => boolean = () => true;
      if (selector) {
        try {
          const parsed = parseSelector(selector);
          matches = (labels) => parsed.matches(labels);
        } catch (cause) {
          throw new BadRequestError(`Invalid labelSelector "${selector}": ${(cause as Error).message}`, { cause });
        }
      }
      const items = [...map.entries()]
        .filter(([k]) => !route.namespace || k.startsWith(`${route.namespace}/`))
        .map(([, e]) => e.object)
        .filter((o) => matches(o.metadata.labels))
        .sort((a, b) =>
          key(a.metadata.namespace, a.metadata.name!).localeCompare(key(b.metadata.namespace, b.metadata.name!))
        );
      return json(200, { kind: `${kind}List`, apiVersion: "metrics.k8s.io/v1beta1", metadata: {}, items });
    }
    if (req.method !== "PUT" || !route.name) {
      throw new MethodNotAllowedError(`${route.resource}.metrics.k8s.io supports get, list, and PUT of one object`);
    }
    const body = decodeObject(await readBody(req), "json") as KubeObject;
    if (body.kind !== kind) {
      throw new BadRequestError(`The body must be a ${kind} object`);
    }
    if (kind === "PodMetrics" && user.role === "node") {
      await this.#checkPodOnNode(objects, route.namespace!, route.name, user.nodeName!);
    }
    const object: KubeObject = {
      ...body,
      apiVersion: "metrics.k8s.io/v1beta1",
      kind,
      metadata: {
        ...(body.metadata ?? {}),
        name: route.name,
        ...(route.namespace ? { namespace: route.namespace } : {}),
        creationTimestamp: new Date(this.#clock.now()).toISOString().replace(/\.\d{3}Z$/, "Z"),
      },
    };
    map.set(key(route.namespace, route.name), { object, at: this.#clock.now() });
    return json(200, object);
  }

  async #checkPodOnNode(objects: ObjectStore, namespace: string, name: string, node: string): Promise<void> {
    const pod = await objects.find(this.#podType, namespace, name);
    if ((pod?.spec as { nodeName?: string } | undefined)?.nodeName !== node) {
      throw new ForbiddenError(
        `node "${node}" may report metrics only of pods bound to it; ${namespace}/${name} is not`,
      );
    }
  }

  /** Drops the readings of pods that no longer exist, so `kubectl top pod` never lists a deleted pod. */
  async #forgetDeletedPods(objects: ObjectStore, namespace: string | undefined): Promise<void> {
    for (const [key, entry] of this.#pods) {
      const { namespace: ns, name } = entry.object.metadata;
      if (namespace && ns !== namespace) continue;
      if (!(await objects.find(this.#podType, ns!, name!))) this.#pods.delete(key);
    }
  }

  #expire(map: Map<string, Entry>): void {
    const cutoff = this.#clock.now() - TTL_MS;
    for (const [key, entry] of map) if (entry.at < cutoff) map.delete(key);
  }
}

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
}
