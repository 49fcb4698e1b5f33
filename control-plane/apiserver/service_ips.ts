/**
 * ClusterIP and NodePort allocation for Services, as the Kubernetes API
 * server does it: an admission step assigns a free address from the service
 * CIDR (10.43.0.0/16) and a free node port (30000–32767) for each port that
 * needs one, honours requested values or refuses them clearly, and keeps
 * them across updates. Each allocation is a key in the store, created with a
 * compare-and-swap, so two Services never get the same one. Allocations are
 * released when the store shows the Service gone (or its ports changed), and
 * a repair pass at start releases any left by a write that failed after
 * admission.
 *
 * @module
 */

import {
  AlreadyExistsError,
  type FieldError,
  InvalidError,
  type KubeObject,
  NODE_PORT_MAX,
  NODE_PORT_MIN,
  SERVICE_CIDR,
} from "@skiff/api";
import type { Store, WatchEvent } from "../store/mod.ts";
import type { Admission } from "./object_store.ts";

const IP_PREFIX = "/registry/skiff.dev/serviceips/";
const PORT_PREFIX = "/registry/skiff.dev/nodeports/";
const SERVICE_PREFIX = "/registry/core/services/";

interface ServicePort {
  name?: string;
  port?: number;
  protocol?: string;
  nodePort?: number;
}

interface ServiceSpec {
  type?: string;
  clusterIP?: string;
  clusterIPs?: string[];
  ipFamilies?: string[];
  ipFamilyPolicy?: string;
  ports?: ServicePort[];
}

function ipToInt(ip: string): number | undefined {
  const parts = ip.split(".");
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return undefined;
    n = n * 256 + Number(p);
  }
  return n;
}

function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

function specOf(obj: KubeObject | undefined): ServiceSpec {
  return (obj?.spec ?? {}) as ServiceSpec;
}

function needsClusterIP(spec: ServiceSpec): boolean {
  return spec.type !== "ExternalName" && spec.clusterIP !== "None";
}

function needsNodePorts(spec: ServiceSpec): boolean {
  return spec.type === "NodePort" || spec.type === "LoadBalancer";
}

/** Allocates ClusterIPs and NodePorts; `admission` goes into the API's admission chain. */
export class ServiceAllocator {
  #store: Store;
  #first: number;
  #size: number;
  #cidr: string;
  #abort = new AbortController();
  #suspects = new Set<string>();

  /** Creates an allocator over `store` for the service CIDR (default 10.43.0.0/16). */
  constructor(store: Store, serviceCidr: string = SERVICE_CIDR) {
    this.#store = store;
    this.#cidr = serviceCidr;
    const [base, bits] = serviceCidr.split("/");
    const start = ipToInt(base ?? "");
    const prefix = Number(bits);
    if (start === undefined || !(prefix >= 8 && prefix <= 30)) {
      throw new RangeError(`Invalid service CIDR "${serviceCidr}": use an IPv4 CIDR from /8 to /30`);
    }
    this.#size = 2 ** (32 - prefix);
    this.#first = start - (start % this.#size);
  }

  /** The admission plugin. */
  readonly admission: Admission = async (req) => {
    if (req.type.kind !== "Service" || req.dryRun) return;
    if (req.operation === "create") await this.#assign(req.object, undefined);
    else if (req.operation === "update" && req.subresource !== "status") await this.#assign(req.object, req.old);
  };

  /**
   * Releases what deleted or changed Services no longer hold: now, whenever
   * the store changes, and every `repairIntervalMs` (allocations left by a
   * Service write that failed after admission).
   */
  async start(repairIntervalMs = 60_000): Promise<void> {
    if (repairIntervalMs > 0) {
      const timer = setInterval(() => this.repair().catch(() => {}), repairIntervalMs);
      this.#abort.signal.addEventListener("abort", () => clearInterval(timer), { once: true });
    }
    this.#follow(await this.repair(true));
  }

  #follow(revision: number): void {
    const watcher = this.#store.watch(SERVICE_PREFIX, { afterRevision: revision, signal: this.#abort.signal });
    (async () => {
      for await (const batch of watcher) await this.#onChanges(batch);
      if (!this.#abort.signal.aborted) this.#follow(await this.repair());
    })().catch((err) => {
      if (!this.#abort.signal.aborted) console.error(`Service allocation watch failed: ${(err as Error).message}`);
    });
  }

  /** Stops following the store. */
  stop(): void {
    this.#abort.abort();
  }

  /**
   * Releases allocations whose Service is gone or no longer uses them;
   * returns the revision read at. An allocation is released only when two
   * passes in a row find it unused (or `immediate`), so one claimed by a
   * create still in flight survives.
   */
  async repair(immediate = false): Promise<number> {
    const services = await this.#store.list(SERVICE_PREFIX);
    const held = new Set<string>();
    for (const kv of services.items) {
      const svc = JSON.parse(kv.value) as KubeObject;
      for (const key of this.#keysOf(svc)) held.add(key);
    }
    const suspects = new Set<string>();
    for (const prefix of [IP_PREFIX, PORT_PREFIX]) {
      const allocations = await this.#store.list(prefix, { revision: services.revision });
      for (const kv of allocations.items) {
        if (held.has(kv.key)) continue;
        const id = `${kv.key}@${kv.modRevision}`;
        if (immediate || this.#suspects.has(id)) {
          await this.#store.delete(kv.key, { expectedRevision: kv.modRevision }).catch(() => {});
        } else suspects.add(id);
      }
    }
    this.#suspects = suspects;
    return services.revision;
  }

  async #onChanges(batch: WatchEvent[]): Promise<void> {
    for (const event of batch) {
      const before = event.prev ? this.#keysOf(JSON.parse(event.prev.value)) : [];
      const after = event.type === "delete" ? [] : this.#keysOf(JSON.parse(event.kv.value));
      for (const key of before) {
        if (!after.includes(key)) await this.#store.delete(key).catch(() => {});
      }
    }
  }

  #keysOf(svc: KubeObject): string[] {
    const spec = specOf(svc);
    const keys: string[] = [];
    if (needsClusterIP(spec) && spec.clusterIP) keys.push(IP_PREFIX + spec.clusterIP);
    if (needsNodePorts(spec)) {
      for (const port of spec.ports ?? []) {
        if (port.nodePort) keys.push(`${PORT_PREFIX}${port.nodePort}-${(port.protocol ?? "TCP").toLowerCase()}`);
      }
    }
    return keys;
  }

  async #assign(svc: KubeObject, old: KubeObject | undefined): Promise<void> {
    const spec = specOf(svc);
    const before = specOf(old);
    const owner = JSON.stringify({ namespace: svc.metadata.namespace, name: svc.metadata.name, uid: svc.metadata.uid });
    const errors: FieldError[] = [];
    if (needsClusterIP(spec)) {
      if (!spec.clusterIP && before.clusterIP && needsClusterIP(before)) spec.clusterIP = before.clusterIP;
      if (!old || spec.clusterIP !== before.clusterIP || !needsClusterIP(before)) {
        const ip = await this.#claimIp(spec.clusterIP, owner, errors);
        if (ip) spec.clusterIP = ip;
      }
      if (spec.clusterIP) {
        spec.clusterIPs = [spec.clusterIP];
        spec.ipFamilies = ["IPv4"];
        spec.ipFamilyPolicy ??= "SingleStack";
      }
    } else if (spec.clusterIP === "None") {
      spec.clusterIPs = ["None"];
    }
    if (needsNodePorts(spec)) {
      for (const [i, port] of (spec.ports ?? []).entries()) {
        const protocol = (port.protocol ?? "TCP").toLowerCase();
        const previous = (before.ports ?? []).find((p) =>
          p.port === port.port && (p.protocol ?? "TCP").toLowerCase() === protocol && p.nodePort
        );
        if (!port.nodePort && previous && needsNodePorts(before)) port.nodePort = previous.nodePort;
        if (port.nodePort && port.nodePort === previous?.nodePort && needsNodePorts(before)) continue;
        const claimed = await this.#claimPort(port.nodePort, protocol, owner, `spec.ports[${i}].nodePort`, errors);
        if (claimed) port.nodePort = claimed;
      }
    }
    svc.spec = spec;
    if (errors.length > 0) {
      const kept = new Set(this.#keysOf(old ?? { metadata: {} }));
      for (const key of this.#keysOf(svc)) {
        if (!kept.has(key) && (await this.#store.get(key))?.value === owner) {
          await this.#store.delete(key).catch(() => {});
        }
      }
      throw new InvalidError("Service", svc.metadata.name ?? "", errors);
    }
  }

  /** Creates an allocation key; true if it is now ours (also when this owner already held it). */
  async #claim(key: string, owner: string): Promise<boolean> {
    try {
      await this.#store.create(key, owner);
      return true;
    } catch (err) {
      if (!(err instanceof AlreadyExistsError)) throw err;
      return (await this.#store.get(key))?.value === owner;
    }
  }

  async #claimIp(requested: string | undefined, owner: string, errors: FieldError[]): Promise<string | undefined> {
    if (requested) {
      const n = ipToInt(requested);
      if (n === undefined || n < this.#first || n >= this.#first + this.#size) {
        errors.push({
          field: "spec.clusterIP",
          type: "FieldValueInvalid",
          message:
            `Invalid value: "${requested}": failed to allocate IP ${requested}: the provided IP (${requested}) is not in the valid range. The range of valid IPs is ${this.#cidr}`,
        });
        return undefined;
      }
      if (await this.#claim(IP_PREFIX + requested, owner)) return requested;
      errors.push({
        field: "spec.clusterIP",
        type: "FieldValueInvalid",
        message: `Invalid value: "${requested}": failed to allocate IP ${requested}: provided IP is already allocated`,
      });
      return undefined;
    }
    const usable = this.#size - 3;
    const offset = Math.floor(Math.random() * usable);
    for (let i = 0; i < usable; i++) {
      const ip = intToIp(this.#first + 2 + ((offset + i) % usable));
      if (await this.#store.get(IP_PREFIX + ip)) continue;
      if (await this.#claim(IP_PREFIX + ip, owner)) return ip;
    }
    errors.push({
      field: "spec.clusterIP",
      type: "FieldValueInvalid",
      message: `Invalid value: "": failed to allocate a service IP: range is full (${this.#cidr})`,
    });
    return undefined;
  }

  async #claimPort(
    requested: number | undefined,
    protocol: string,
    owner: string,
    field: string,
    errors: FieldError[],
  ): Promise<number | undefined> {
    const key = (port: number) => `${PORT_PREFIX}${port}-${protocol}`;
    if (requested) {
      if (await this.#claim(key(requested), owner)) return requested;
      errors.push({
        field,
        type: "FieldValueInvalid",
        message: `Invalid value: ${requested}: provided port is already allocated`,
      });
      return undefined;
    }
    const span = NODE_PORT_MAX - NODE_PORT_MIN + 1;
    const offset = Math.floor(Math.random() * span);
    for (let i = 0; i < span; i++) {
      const port = NODE_PORT_MIN + ((offset + i) % span);
      if (await this.#store.get(key(port))) continue;
      if (await this.#claim(key(port), owner)) return port;
    }
    errors.push({
      field,
      type: "FieldValueInvalid",
      message: `Invalid value: 0: failed to allocate a node port: range ${NODE_PORT_MIN}-${NODE_PORT_MAX} is full`,
    });
    return undefined;
  }
}
