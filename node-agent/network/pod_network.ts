/**
 * `PodNetwork`: gives each pod sandbox its own network namespace with an
 * address from the node's pod CIDR, and takes it away again; and
 * `CniPodNetwork`, which does it with the real CNI plugin binaries: the
 * `loopback` plugin for `lo`, then the chain `bridge` (with `host-local`
 * IPAM) and, when the pod has host ports, `portmap`.
 *
 * What each sandbox got (its namespace, the configuration used and the
 * cached ADD results) is kept in one JSON file per pod under the state
 * directory, next to host-local's allocations, so a restarted agent tears
 * down exactly what the previous one set up and can garbage-collect what
 * nobody remembers.
 *
 * @module
 */

import { pathExists } from "../_fs.ts";
import { createHash } from "node:crypto";
import { isIPv4 as isIpv4 } from "node:net";
import { join } from "node:path";
import { AlreadyExistsError, NotFoundError } from "@skiff/api";
import { type Exec, run } from "../_exec.ts";
import { intToIpv4, type Ipv4Cidr, parseIpv4, parseIpv4Cidr } from "./_cidr.ts";
import { JsonRecords } from "./_state.ts";
import { removeBridgeMasquerade } from "./_bridge_masquerade.ts";
import {
  addNetworkList,
  checkNetworkList,
  CNI_VERSION,
  CniError,
  type CniExecOptions,
  type CniNetworkList,
  type CniResult,
  delNetworkList,
  invokeCniPlugin,
} from "./cni_plugin.ts";

/** A host port forwarded to a port of the pod (a container's `hostPort`). */
export interface PortMapping {
  /** Port on the node, 1 to 65535. */
  hostPort: number;
  /** Port in the pod, 1 to 65535. */
  containerPort: number;
  /** `tcp` (default), `udp` or `sctp`, in any case. */
  protocol?: string;
  /** Forward only connections to this node address (default: any). */
  hostIP?: string;
}

/** Names one pod sandbox. */
export interface SandboxRef {
  /** The pod's uid; it names the sandbox (CNI_CONTAINERID). */
  podUid: string;
  /**
   * The sandbox's network namespace name in /run/netns; default
   * `skiff-<node>-<first 8 characters of the uid>`. /run/netns is shared by
   * every node simulated on one machine, so names must be unique across them.
   */
  netnsName?: string;
}

/** A pod sandbox to wire. */
export interface PodSandbox extends SandboxRef {
  /** The pod's namespace. */
  namespace: string;
  /** The pod's name. */
  name: string;
  /** Host ports to forward into the pod. */
  portMappings?: PortMapping[];
}

/** A wired sandbox's network, as the ADD result gave it. */
export interface PodNetworkStatus {
  /** The pod's IPv4 address, e.g. `10.42.3.7`. */
  ip: string;
  /** Prefix length of the pod network, e.g. `24`. */
  prefixLength: number;
  /** The pod's default gateway (the bridge's address). */
  gateway: string | undefined;
  /** Hardware address of the pod's interface. */
  mac: string | undefined;
  /** The pod's interface name, e.g. `eth0`. */
  interface: string;
  /** The network namespace name, in /run/netns. */
  netnsName: string;
  /** The network namespace path containers join, e.g. `/run/netns/skiff-pi-3-1c2d3e4f`. */
  netnsPath: string;
}

/** One sandbox this node remembers, from {@linkcode PodNetwork.list}. */
export interface SandboxNetwork {
  /** The pod's uid. */
  podUid: string;
  /** The pod's namespace. */
  namespace: string;
  /** The pod's name. */
  name: string;
  /** The network namespace name. */
  netnsName: string;
  /** The network namespace path. */
  netnsPath: string;
  /** Host ports forwarded into the pod (protocols in lower case). */
  portMappings: PortMapping[];
  /** Whether setup finished; `false` while (or after a crash while) setting up. */
  ready: boolean;
  /** The pod's address, when setup finished. */
  ip: string | undefined;
}

/** What {@linkcode PodNetwork.gc} removed, and what it could not. */
export interface GcReport {
  /** Uids of pods whose sandbox networks were torn down. */
  sandboxes: string[];
  /** Network namespaces deleted that no sandbox claimed. */
  namespaces: string[];
  /** host-local addresses released that no sandbox claimed. */
  addresses: string[];
  /** nat chains of the bridge plugin's masquerading removed that no sandbox claimed. */
  chains: string[];
  /**
   * Network namespaces left alone, though no live pod claims them, because
   * processes still run in them: a sandbox's containers keep their
   * namespace, their address and their record until they have stopped.
   */
  inUse: string[];
  /** What could not be removed; the rest was still collected. */
  failures: { subject: string; error: Error }[];
}

/** The pod network seam of the node agent. */
export interface PodNetwork {
  /**
   * Creates the sandbox's network namespace and wires it, or returns the
   * existing wiring of a sandbox already set up (repairing it when it
   * fails CHECK or its port mappings changed).
   */
  setup(sandbox: PodSandbox): Promise<PodNetworkStatus>;
  /** Unwires the sandbox and deletes its namespace; idempotent. */
  teardown(sandbox: SandboxRef): Promise<void>;
  /**
   * Verifies a set-up sandbox with CNI CHECK.
   *
   * @throws {NotFoundError} when the sandbox is not set up.
   * @throws {CniError} when it is broken.
   */
  check(sandbox: SandboxRef): Promise<void>;
  /** The sandboxes this node remembers. */
  list(): Promise<SandboxNetwork[]>;
  /**
   * Tears down every remembered sandbox whose pod uid is not in
   * `liveSandboxes`, and removes this node's network namespaces and
   * addresses that no sandbox claims (left by a crash or lost state);
   * never a namespace that processes still run in.
   */
  gc(liveSandboxes: Iterable<string>): Promise<GcReport>;
}

/** Options of {@linkcode CniPodNetwork}. */
export interface CniPodNetworkOptions {
  /** The node's name; part of every namespace name it creates. */
  nodeName: string;
  /** The node's pod range (`node.spec.podCIDR`), e.g. `10.42.3.0/24`. */
  podCidr: string;
  /** Where sandbox records and host-local allocations are kept, e.g. `<data-dir>/network`. */
  stateDir: string;
  /**
   * Run the plugins inside this named network namespace, so the bridge lives
   * there (a simulated host); default: the agent's own. Pod namespaces are
   * still created from the agent's mount namespace, which must be the host's.
   */
  hostNetns?: string;
  /** The bridge's name (default `skiff0`). */
  bridgeName?: string;
  /** Directory of CNI plugin binaries (default `/usr/lib/cni`). */
  cniBinDir?: string;
  /**
   * Let the bridge plugin masquerade traffic from pods to anything outside
   * the node's pod CIDR (default `true`). Turn it off once the node's
   * nftables table masquerades traffic leaving the cluster CIDR instead.
   */
  ipMasq?: boolean;
  /** Runs commands (default: {@linkcode run}); tests pass a recorder. */
  exec?: Exec;
}

/** The CNI network name; plugins derive chain names and the host-local directory from it. */
export const CNI_NETWORK_NAME = "skiff";
/** The default bridge name. */
export const DEFAULT_BRIDGE_NAME = "skiff0";
/** Where Debian's containernetworking-plugins puts the plugins. */
export const DEFAULT_CNI_BIN_DIR = "/usr/lib/cni";

const NETNS_DIR = "/run/netns";
const POD_IFNAME = "eth0";
const LOOPBACK: CniNetworkList = { cniVersion: CNI_VERSION, name: "skiff-loopback", plugins: [{ type: "loopback" }] };
const UID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const NETNS_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$/;
const NODE_NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
const BRIDGE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/;
const PROTOCOLS = new Set(["tcp", "udp", "sctp"]);

/** One CNI attachment of a sandbox, as remembered. */
interface AttachmentRecord {
  list: CniNetworkList;
  ifName: string;
  result?: CniResult;
}

/** What the state directory keeps per sandbox. */
interface SandboxRecord {
  podUid: string;
  namespace: string;
  name: string;
  netnsName: string;
  /** The namespace the plugins ran in; absent: the agent's own. */
  hostNetns?: string;
  portMappings: PortMapping[];
  /** In ADD order: loopback, then the pod network. */
  attachments: AttachmentRecord[];
  ready: boolean;
}

/** A {@linkcode PodNetwork} wired by CNI plugin binaries. */
export class CniPodNetwork implements PodNetwork {
  readonly #nodePart: string;
  readonly #podCidr: Ipv4Cidr;
  readonly #hostNetns: string | undefined;
  readonly #bridgeName: string;
  readonly #binDir: string;
  readonly #ipMasq: boolean;
  readonly #exec: Exec;
  #bridgeReady: Promise<void> | undefined;
  readonly #records: JsonRecords<SandboxRecord>;
  readonly #ipamDir: string;
  readonly #locks = new Map<string, Promise<void>>();

  /**
   * Checks the options; nothing touches the system until the first call.
   *
   * @throws {TypeError} naming the option that is not valid.
   */
  constructor(options: CniPodNetworkOptions) {
    if (typeof options.nodeName !== "string" || !NODE_NAME.test(options.nodeName)) {
      throw new TypeError(
        `Invalid option "nodeName": ${JSON.stringify(options.nodeName)} is not a node name (lower-case DNS subdomain)`,
      );
    }
    if (typeof options.stateDir !== "string" || options.stateDir === "") {
      throw new TypeError('Invalid option "stateDir": expected a directory path');
    }
    if (options.hostNetns !== undefined && !NETNS_NAME.test(options.hostNetns)) {
      throw new TypeError(`Invalid option "hostNetns": "${options.hostNetns}" is not a network namespace name`);
    }
    const bridgeName = options.bridgeName ?? DEFAULT_BRIDGE_NAME;
    if (!BRIDGE_NAME.test(bridgeName)) {
      throw new TypeError(
        `Invalid option "bridgeName": "${bridgeName}" is not an interface name (1 to 15 of letters, digits, "_", "." or "-")`,
      );
    }
    this.#podCidr = parseIpv4Cidr(options.podCidr, { field: 'option "podCidr"', minBits: 8, maxBits: 30 });
    this.#nodePart = options.nodeName.length <= 64
      ? options.nodeName
      : createHash("sha256").update(options.nodeName).digest("hex").slice(0, 16);
    this.#hostNetns = options.hostNetns;
    this.#bridgeName = bridgeName;
    this.#binDir = options.cniBinDir ?? DEFAULT_CNI_BIN_DIR;
    this.#ipMasq = options.ipMasq ?? true;
    this.#exec = options.exec ?? run;
    this.#records = new JsonRecords(join(options.stateDir, "sandboxes"));
    this.#ipamDir = join(options.stateDir, "ipam");
  }

  /** The node's pod range, canonical, e.g. `10.42.3.0/24`. */
  get podCidr(): string {
    return this.#podCidr.text;
  }

  /** The bridge's name. */
  get bridgeName(): string {
    return this.#bridgeName;
  }

  /** The namespace the plugins run in, or `undefined` for the agent's own. */
  get hostNetns(): string | undefined {
    return this.#hostNetns;
  }

  /** The bridge's address, every pod's default gateway: {@linkcode podGateway} of the pod CIDR. */
  get gateway(): string {
    return podGateway(this.#podCidr.text);
  }

  /**
   * Creates the bridge with its gateway address and brings it up, as the
   * bridge plugin does on the first pod's ADD, so that what listens on the
   * gateway (the cluster DNS) can start before any pod; a bridge already
   * there is kept, and gets the address if it lacks it. The bridge's MAC
   * address is pinned to what it is now: a Linux bridge whose address was
   * never set takes the lowest MAC of its ports, so it would change as
   * pods come and go, and the bridge plugin's CHECK (which compares it
   * with the one in each pod's stored result) would fail for healthy pods.
   *
   * @throws {CommandError} when `ip` fails.
   */
  ensureBridge(): Promise<void> {
    this.#bridgeReady ??= this.#ensureBridge().catch((error) => {
      this.#bridgeReady = undefined;
      throw error;
    });
    return this.#bridgeReady;
  }

  async #ensureBridge(): Promise<void> {
    const options = this.#hostNetns === undefined ? {} : { netns: this.#hostNetns };
    const bridge = this.#bridgeName;
    const shown = await this.#exec(["ip", "link", "show", "dev", bridge], { ...options, check: false });
    if (shown.code !== 0) {
      const added = await this.#exec(["ip", "link", "add", "name", bridge, "type", "bridge"], {
        ...options,
        check: false,
      });
      // Another caller may have created it meanwhile: only a bridge that still does not exist is a failure.
      if (added.code !== 0) await this.#exec(["ip", "link", "show", "dev", bridge], options);
    }
    await this.#exec(["ip", "addr", "replace", `${this.gateway}/${this.#podCidr.bits}`, "dev", bridge], options);
    const link = await this.#exec(["ip", "-j", "link", "show", "dev", bridge], options);
    const address = (JSON.parse(link.stdout) as { address?: string }[])[0]?.address;
    if (address) await this.#exec(["ip", "link", "set", "dev", bridge, "address", address], options);
    await this.#exec(["ip", "link", "set", "dev", bridge, "up"], options);
  }

  /**
   * The default network namespace name of a pod on this node:
   * `skiff-<node>-<first 8 letters and digits of the uid>`.
   */
  netnsNameFor(podUid: string): string {
    return this.#netnsNames(checkUid(podUid))[0];
  }

  /**
   * Creates the sandbox's namespace (`ip netns add`), runs the loopback
   * plugin and the pod network chain, and returns the address the ADD
   * result gave. A sandbox set up before is checked with CNI CHECK and its
   * existing address returned; when the check fails or its port mappings
   * changed, it is unwired and wired again in the same namespace.
   *
   * @throws {TypeError} naming the field of `sandbox` that is not valid.
   * @throws {AlreadyExistsError} when the pod is set up under another `netnsName`.
   * @throws {CniError} when a plugin fails (everything added is undone).
   * @throws {CommandError} when `ip netns` fails.
   */
  async setup(sandbox: PodSandbox): Promise<PodNetworkStatus> {
    const request = checkSandbox(sandbox);
    await this.ensureBridge();
    return await this.#locked(request.podUid, async () => {
      const old = await this.#records.get(request.podUid);
      if (old && request.netnsName !== undefined && old.netnsName !== request.netnsName) {
        throw new AlreadyExistsError(
          `Cannot set up pod "${request.namespace}/${request.name}": its sandbox already uses network namespace "${old.netnsName}", not "${request.netnsName}"`,
        );
      }
      if (old?.ready && samePortMappings(old.portMappings, request.portMappings)) {
        if (await netnsExists(old.netnsName)) {
          try {
            await this.#checkRecord(old);
            return statusOf(old);
          } catch {
            // Broken wiring: unwired and wired again below.
          }
        }
      }
      if (old) await this.#unwire(old);

      const netnsName = old?.netnsName ?? request.netnsName ?? await this.#freeNetnsName(request.podUid);
      const record: SandboxRecord = {
        podUid: request.podUid,
        namespace: request.namespace,
        name: request.name,
        netnsName,
        ...(this.#hostNetns === undefined ? {} : { hostNetns: this.#hostNetns }),
        portMappings: request.portMappings,
        attachments: this.#attachments(request.portMappings),
        ready: false,
      };
      await this.#records.put(request.podUid, record);

      const existed = await netnsExists(netnsName);
      if (!existed) {
        await this.#exec(["ip", "netns", "add", netnsName]);
      } else if (!old) {
        // A namespace nobody remembers (lost state, or created by the caller):
        // clear any wiring left in it before adding ours.
        await this.#unwire(record);
      }
      try {
        await this.#addAll(record);
        const status = statusOf(record);
        record.ready = true;
        await this.#records.put(request.podUid, record);
        return status;
      } catch (error) {
        await this.#unwire(record).catch(() => {});
        if (!existed) {
          await this.#deleteNetns(netnsName).catch(() => {});
          await this.#records.remove(request.podUid).catch(() => {});
        }
        throw error;
      }
    });
  }

  /**
   * Runs DEL for every attachment (reverse order, with the cached results),
   * deletes the namespace and forgets the sandbox. Without a record of the
   * sandbox it still releases the pod's address and deletes its namespace
   * when it exists. Idempotent.
   *
   * @throws {TypeError} for an invalid `podUid` or `netnsName`.
   * @throws {CniError} when a plugin's DEL fails (the record is kept, so a retry can finish).
   */
  async teardown(sandbox: SandboxRef): Promise<void> {
    const podUid = checkUid(sandbox.podUid);
    if (sandbox.netnsName !== undefined) checkNetnsName(sandbox.netnsName);
    await this.#locked(podUid, () => this.#teardown(podUid, sandbox.netnsName));
  }

  /**
   * Runs CHECK for every attachment of a set-up sandbox.
   *
   * @throws {NotFoundError} when the sandbox is not set up (or not finished).
   * @throws {CniError} when a plugin finds its wiring broken.
   */
  async check(sandbox: SandboxRef): Promise<void> {
    const podUid = checkUid(sandbox.podUid);
    await this.#locked(podUid, async () => {
      const record = await this.#records.get(podUid);
      if (!record?.ready) throw new NotFoundError(`Pod sandbox "${podUid}" has no network set up on this node`);
      if (!await netnsExists(record.netnsName)) {
        throw new NotFoundError(`Pod sandbox "${podUid}" lost its network namespace "${record.netnsName}"`);
      }
      await this.#checkRecord(record);
    });
  }

  /** The sandboxes remembered in the state directory, in uid order. */
  async list(): Promise<SandboxNetwork[]> {
    const entries = await this.#records.list();
    return entries.flatMap(({ value: record }) => {
      if (!record) return [];
      let ip: string | undefined;
      if (record.ready) {
        try {
          ip = statusOf(record).ip;
        } catch {
          ip = undefined;
        }
      }
      return [{
        podUid: record.podUid,
        namespace: record.namespace,
        name: record.name,
        netnsName: record.netnsName,
        netnsPath: join(NETNS_DIR, record.netnsName),
        portMappings: record.portMappings,
        ready: record.ready,
        ip,
      }];
    });
  }

  /**
   * Tears down remembered sandboxes of pods not in `liveSandboxes` (pod
   * uids), then deletes this node's namespaces (`skiff-<node>-…`),
   * releases host-local addresses and removes the bridge plugin's
   * masquerade rules that no remaining sandbox, live pod or operation in
   * progress claims, and removes half-written state files.
   */
  async gc(liveSandboxes: Iterable<string>): Promise<GcReport> {
    const live = new Set(liveSandboxes);
    return await this.#locked(" gc", async () => {
      const report: GcReport = { sandboxes: [], namespaces: [], addresses: [], chains: [], inUse: [], failures: [] };
      const attempt = async (subject: string, fn: () => Promise<void>) => {
        try {
          await fn();
        } catch (error) {
          report.failures.push({ subject, error: error instanceof Error ? error : new Error(String(error)) });
        }
      };
      // Look at the system first, then at the records: whatever exists was
      // recorded before it was created, so nothing in flight looks orphaned.
      const namespaces = await this.#ownNamespaces();
      const allocations = await this.#allocations();
      const busy = new Set(this.#locks.keys());
      const entries = await this.#records.list();
      // Namespaces that processes (a sandbox's containers) run in are never
      // collected, whatever the records and the caller say: deleting one
      // would leave its containers cut off in a namespace nobody can name.
      const occupied = await namespacesInUse();
      const inUse = async (name: string) => {
        const id = await netnsId(join(NETNS_DIR, name));
        return id !== undefined && occupied.has(id);
      };

      const keep = new Set<string>([...live, ...busy]);
      const claimedNetns = new Set<string>();
      for (const uid of keep) {
        if (UID.test(uid)) { for (const name of this.#netnsNames(uid)) claimedNetns.add(name); }
      }
      for (const { key, value } of entries) {
        if (!keep.has(key) && value && await inUse(value.netnsName)) {
          keep.add(key);
          report.inUse.push(value.netnsName);
        }
        if (keep.has(key)) {
          if (value) claimedNetns.add(value.netnsName);
          continue;
        }
        await attempt(`pod sandbox "${key}"`, async () => {
          await this.#locked(key, () => this.#teardown(key, value?.netnsName));
          report.sandboxes.push(key);
        });
      }
      for (const name of namespaces) {
        if (claimedNetns.has(name) || !await netnsExists(name)) continue;
        if (await inUse(name)) {
          report.inUse.push(name);
          continue;
        }
        await attempt(`network namespace "${name}"`, async () => {
          await this.#deleteNetns(name);
          report.namespaces.push(name);
        });
      }
      for (const allocation of allocations) {
        if (keep.has(allocation.containerId)) continue;
        if (!await pathExists(allocation.path)) continue;
        await attempt(`address ${allocation.ip}`, async () => {
          await this.#releaseAddress(allocation.containerId, allocation.ifName);
          report.addresses.push(allocation.ip);
        });
      }
      if (this.#ipMasq) {
        await attempt("masquerade rules", async () => {
          const scope = { exec: this.#exec, netns: this.#hostNetns, network: CNI_NETWORK_NAME };
          report.chains = await removeBridgeMasquerade(scope, (id) => !keep.has(id));
        });
      }
      await attempt("state directory", async () => {
        await this.#records.removeTemporaries(busy);
      });
      return report;
    });
  }

  async #teardown(podUid: string, netnsName: string | undefined): Promise<void> {
    const record = await this.#records.get(podUid) ?? await this.#unrecorded(podUid, netnsName);
    await this.#unwire(record);
    if (await netnsExists(record.netnsName)) await this.#deleteNetns(record.netnsName);
    await this.#records.remove(podUid);
  }

  /** A record for a sandbox the state directory does not know: the pod network without host ports. */
  async #unrecorded(podUid: string, netnsName: string | undefined): Promise<SandboxRecord> {
    let name = netnsName;
    if (name === undefined) {
      const [short, long] = this.#netnsNames(podUid);
      name = !await netnsExists(short) && await netnsExists(long) ? long : short;
    }
    return {
      podUid,
      namespace: "",
      name: "",
      netnsName: name,
      ...(this.#hostNetns === undefined ? {} : { hostNetns: this.#hostNetns }),
      portMappings: [],
      attachments: this.#attachments([]),
      ready: false,
    };
  }

  /** DEL of every attachment, in reverse order; loopback only while the namespace exists. */
  async #unwire(record: SandboxRecord): Promise<void> {
    const present = await netnsExists(record.netnsName);
    for (const attachment of [...record.attachments].reverse()) {
      if (!present && attachment.ifName === "lo") continue;
      const del = () =>
        delNetworkList(attachment.list, { ...this.#cniArgs(record, attachment, present), cached: attachment.result });
      const masquerades = attachment.list.plugins.some((plugin) => plugin.type === "bridge" && plugin.ipMasq === true);
      if (!masquerades) {
        await del();
        continue;
      }
      // The bridge plugin leaves its masquerade rules behind when the pod's
      // address is gone, and then fails every later DEL: remove them, and
      // retry a DEL that failed because of them.
      let failure: unknown;
      await del().catch((error) => failure = error);
      const scope = { exec: this.#exec, netns: record.hostNetns, network: attachment.list.name };
      const removed = await removeBridgeMasquerade(scope, (id) => id === record.podUid);
      if (failure !== undefined) {
        if (removed.length === 0) throw failure;
        await del();
      }
    }
  }

  /**
   * Runs ADD for every attachment of a sandbox, each started once the one
   * before has started its first plugin (so they begin in order: loopback,
   * then the pod network), and side by side after that, since they wire
   * different interfaces. Resolves once all have ended; rejects with the
   * first failure.
   */
  async #addAll(record: SandboxRecord): Promise<void> {
    const runs: Promise<void>[] = [];
    for (const attachment of record.attachments) {
      const started = Promise.withResolvers<void>();
      const args = this.#cniArgs(record, attachment, true);
      const exec: Exec = (cmd, options) => {
        started.resolve();
        return args.exec(cmd, options);
      };
      const added = addNetworkList(attachment.list, { ...args, exec }).then((result) => {
        attachment.result = result;
      });
      runs.push(added);
      await Promise.race([started.promise, added.catch(() => {})]);
    }
    const failed = (await Promise.allSettled(runs)).find((o): o is PromiseRejectedResult => o.status === "rejected");
    if (failed) throw failed.reason;
  }

  async #checkRecord(record: SandboxRecord): Promise<void> {
    for (const attachment of record.attachments) {
      if (attachment.result === undefined) {
        throw new NotFoundError(`Pod sandbox "${record.podUid}" has no cached result for "${attachment.list.name}"`);
      }
      await checkNetworkList(attachment.list, {
        ...this.#cniArgs(record, attachment, true),
        cached: attachment.result,
      });
    }
  }

  #cniArgs(record: SandboxRecord, attachment: AttachmentRecord, withNetns: boolean) {
    const options: CniExecOptions = {
      exec: this.#exec,
      binDir: this.#binDir,
      subject: record.name === "" ? `pod sandbox "${record.podUid}"` : `pod "${record.namespace}/${record.name}"`,
      ...(record.hostNetns === undefined ? {} : { netns: record.hostNetns }),
    };
    return {
      ...options,
      containerId: record.podUid,
      netnsPath: withNetns ? join(NETNS_DIR, record.netnsName) : "",
      ifName: attachment.ifName,
      runtimeConfig: { portMappings: record.portMappings.map((m) => ({ protocol: "tcp", ...m })) },
    };
  }

  #attachments(portMappings: PortMapping[]): AttachmentRecord[] {
    const pod: CniNetworkList = {
      cniVersion: CNI_VERSION,
      name: CNI_NETWORK_NAME,
      plugins: [{ type: "bridge", ...this.#bridgeSettings() }],
    };
    if (portMappings.length > 0) {
      pod.plugins.push({ type: "portmap", capabilities: { portMappings: true }, snat: true });
    }
    return [{ list: LOOPBACK, ifName: "lo" }, { list: pod, ifName: POD_IFNAME }];
  }

  #bridgeSettings() {
    return {
      bridge: this.#bridgeName,
      isGateway: true,
      ipMasq: this.#ipMasq,
      hairpinMode: true,
      ipam: {
        type: "host-local",
        ranges: [[{ subnet: this.#podCidr.text, gateway: this.gateway }]],
        routes: [{ dst: "0.0.0.0/0" }],
        dataDir: this.#ipamDir,
      },
    };
  }

  /** The short and the long default namespace name of a pod. */
  #netnsNames(podUid: string): [string, string] {
    const letters = podUid.toLowerCase().replace(/[^a-z0-9]/g, "") || "0";
    return [`skiff-${this.#nodePart}-${letters.slice(0, 8)}`, `skiff-${this.#nodePart}-${letters}`];
  }

  /** The short default name, or the long one when another sandbox has the short one. */
  async #freeNetnsName(podUid: string): Promise<string> {
    const taken = new Set(
      (await this.#records.list()).flatMap(({ key, value }) => key !== podUid && value ? [value.netnsName] : []),
    );
    const name = this.#netnsNames(podUid).find((candidate) => !taken.has(candidate));
    if (name === undefined) {
      throw new AlreadyExistsError(`Cannot name a network namespace for pod sandbox "${podUid}": its names are taken`);
    }
    return name;
  }

  /** Namespaces in /run/netns named like this node's pod namespaces. */
  async #ownNamespaces(): Promise<string[]> {
    const out = (await this.#exec(["ip", "-j", "netns", "list"])).stdout.trim();
    const names = out === "" ? [] : (JSON.parse(out) as { name: string }[]).map((ns) => ns.name);
    const prefix = `skiff-${this.#nodePart}-`;
    return names.filter((name) => name.startsWith(prefix) && /^[a-z0-9]+$/.test(name.slice(prefix.length)));
  }

  /** host-local's allocation files: one per address, holding the container id and interface. */
  async #allocations(): Promise<{ ip: string; containerId: string; ifName: string; path: string }[]> {
    const dir = join(this.#ipamDir, CNI_NETWORK_NAME);
    const found = [];
    try {
      for await (const entry of Deno.readDir(dir)) {
        if (!entry.isFile || !isIpv4(entry.name)) continue;
        const path = join(dir, entry.name);
        const text = await Deno.readTextFile(path).catch(() => "");
        const [containerId = "", ifName = POD_IFNAME] = text.split(/\r?\n/);
        if (!UID.test(containerId)) continue;
        found.push({ ip: entry.name, containerId, ifName: ifName || POD_IFNAME, path });
      }
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    return found;
  }

  /** Releases one address through host-local's own DEL. */
  async #releaseAddress(containerId: string, ifName: string): Promise<void> {
    await invokeCniPlugin({ type: "host-local", ...this.#bridgeSettings() }, {
      network: { cniVersion: CNI_VERSION, name: CNI_NETWORK_NAME },
      exec: this.#exec,
      binDir: this.#binDir,
      subject: `an address left by pod sandbox "${containerId}"`,
      command: "DEL",
      containerId,
      netnsPath: "",
      ifName,
    });
  }

  async #deleteNetns(name: string): Promise<void> {
    try {
      await this.#exec(["ip", "netns", "del", name]);
    } catch (error) {
      if (await netnsExists(name)) throw error;
    }
  }

  /** Runs `fn` after every earlier operation on `key` has finished. */
  async #locked<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.#locks.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = previous.then(() => new Promise<void>((resolve) => release = resolve));
    this.#locks.set(key, mine);
    await previous;
    try {
      return await fn();
    } finally {
      release();
      if (this.#locks.get(key) === mine) this.#locks.delete(key);
    }
  }
}

/**
 * The pod bridge's address on a node's pod CIDR: its first address, e.g.
 * `10.42.3.1` for `10.42.3.0/24`. Pods route through it, and the node's
 * cluster DNS server listens on it.
 *
 * @throws {TypeError} when `podCidr` is not an IPv4 CIDR of /8 to /30.
 */
export function podGateway(podCidr: string): string {
  const cidr = parseIpv4Cidr(podCidr, { field: "podCidr", minBits: 8, maxBits: 30 });
  return intToIpv4(cidr.base + 1);
}

/** The status a finished record's pod network result gives. */
function statusOf(record: SandboxRecord): PodNetworkStatus {
  const attachment = record.attachments.find((a) => a.ifName === POD_IFNAME);
  const result = attachment?.result;
  const fail = (msg: string) =>
    new CniError({
      plugin: attachment?.list.plugins[0]?.type ?? "bridge",
      command: "ADD",
      msg,
      subject: `pod "${record.namespace}/${record.name}"`,
    });
  if (!result) throw fail("no result was recorded");
  const interfaces = result.interfaces ?? [];
  const v4 = (result.ips ?? []).filter((ip) => !ip.address.includes(":"));
  const inPod = (index: number | undefined) => {
    const iface = index === undefined ? undefined : interfaces[index];
    return iface !== undefined && iface.name === POD_IFNAME && iface.sandbox !== undefined;
  };
  const chosen = v4.find((ip) => inPod(ip.interface)) ?? v4[0];
  if (!chosen) throw fail(`the result has no IPv4 address: ${JSON.stringify(result.ips ?? [])}`);
  const [ip = "", bits = "32"] = chosen.address.split("/");
  if (!isIpv4(ip)) throw fail(`the result's address "${chosen.address}" is not IPv4`);
  const iface = chosen.interface === undefined ? undefined : interfaces[chosen.interface];
  return {
    ip,
    prefixLength: Number(bits),
    gateway: chosen.gateway,
    mac: iface?.mac,
    interface: POD_IFNAME,
    netnsName: record.netnsName,
    netnsPath: join(NETNS_DIR, record.netnsName),
  };
}

function checkUid(podUid: unknown): string {
  if (typeof podUid !== "string" || !UID.test(podUid)) {
    throw new TypeError(
      `Invalid podUid ${
        JSON.stringify(podUid)
      }: expected 1 to 128 of letters, digits, "_", "." or "-", starting with a letter or digit`,
    );
  }
  return podUid;
}

function checkNetnsName(name: unknown): string {
  if (typeof name !== "string" || !NETNS_NAME.test(name)) {
    throw new TypeError(
      `Invalid netnsName ${JSON.stringify(name)}: expected a file name of letters, digits, "_", "." or "-"`,
    );
  }
  return name;
}

/** Validates a sandbox and normalizes its port mappings (protocol in lower case, sorted). */
function checkSandbox(sandbox: PodSandbox): PodSandbox & { portMappings: PortMapping[] } {
  if (typeof sandbox !== "object" || sandbox === null) throw new TypeError("Invalid sandbox: expected an object");
  const podUid = checkUid(sandbox.podUid);
  for (const field of ["namespace", "name"] as const) {
    const value = sandbox[field];
    if (typeof value !== "string" || value === "" || value.length > 253) {
      throw new TypeError(`Invalid ${field} ${JSON.stringify(value)}: expected the pod's ${field}`);
    }
  }
  if (sandbox.portMappings !== undefined && !Array.isArray(sandbox.portMappings)) {
    throw new TypeError("Invalid portMappings: expected an array");
  }
  const seen = new Map<string, number>();
  const portMappings = (sandbox.portMappings ?? []).map((mapping, i) => {
    const at = `portMappings[${i}]`;
    for (const field of ["hostPort", "containerPort"] as const) {
      const port = mapping?.[field];
      if (!Number.isInteger(port) || port < 1 || port > 65535) {
        throw new TypeError(`Invalid ${at}.${field} ${JSON.stringify(port)}: expected a port from 1 to 65535`);
      }
    }
    const protocol = (mapping.protocol ?? "tcp").toLowerCase();
    if (!PROTOCOLS.has(protocol)) {
      throw new TypeError(`Invalid ${at}.protocol "${mapping.protocol}": expected TCP, UDP or SCTP`);
    }
    const normalized: PortMapping = { hostPort: mapping.hostPort, containerPort: mapping.containerPort, protocol };
    if (mapping.hostIP !== undefined && mapping.hostIP !== "" && mapping.hostIP !== "0.0.0.0") {
      normalized.hostIP = parseIpv4(`${at}.hostIP`, mapping.hostIP);
    }
    const key = `${normalized.hostIP ?? "*"}:${mapping.hostPort}/${protocol}`;
    const other = seen.get(key);
    if (other !== undefined) {
      throw new TypeError(`Invalid ${at}: host port ${key} is also used by portMappings[${other}]`);
    }
    seen.set(key, i);
    return normalized;
  });
  portMappings.sort((a, b) => a.hostPort - b.hostPort || a.protocol!.localeCompare(b.protocol!));
  return {
    podUid,
    namespace: sandbox.namespace,
    name: sandbox.name,
    portMappings,
    ...(sandbox.netnsName === undefined ? {} : { netnsName: checkNetnsName(sandbox.netnsName) }),
  };
}

function samePortMappings(a: PortMapping[], b: PortMapping[]): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function netnsExists(name: string): Promise<boolean> {
  return pathExists(join(NETNS_DIR, name));
}

/**
 * Identifies a network namespace file (`/run/netns/…` or `/proc/<pid>/ns/net`)
 * by device and inode, as the kernel does; `undefined` when the path is
 * missing or is not a namespace (a file no namespace is mounted on).
 */
export async function netnsId(path: string): Promise<string | undefined> {
  let info: Deno.FileInfo;
  let own: Deno.FileInfo;
  try {
    [info, own] = await Promise.all([Deno.stat(path), Deno.stat("/proc/self/ns/net")]);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.PermissionDenied) return undefined;
    throw error;
  }
  // Every namespace file lives on the one nsfs device; anything else is a plain file.
  if (info.dev !== own.dev) return undefined;
  return `${info.dev}:${info.ino}`;
}

/** The network namespaces ({@linkcode netnsId}) that at least one process of the machine runs in. */
async function namespacesInUse(): Promise<Set<string>> {
  const found = new Set<string>();
  const pids: string[] = [];
  for await (const entry of Deno.readDir("/proc")) {
    if (/^[0-9]+$/.test(entry.name)) pids.push(entry.name);
  }
  for (const pid of pids) {
    // A process that exits meanwhile is not in any namespace.
    const id = await netnsId(`/proc/${pid}/ns/net`).catch(() => undefined);
    if (id !== undefined) found.add(id);
  }
  return found;
}
