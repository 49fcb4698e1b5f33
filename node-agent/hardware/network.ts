/**
 * The network fingerprinter: byte counters of every interface from
 * `/proc/net/dev` on every read (cheap), receive and send rates over the
 * physical interfaces, and the interface list with MAC and IP addresses,
 * link type and speed from systeminformation, which is slow (about 400 ms
 * on a small machine): it is listed on the first read, on full reads and
 * when older than `interfacesPeriodMs`.
 *
 * @module
 */

import { join } from "node:path";
import { type Clock, systemClock } from "@skiff/api";
import { errorMessage, exists, readRequired } from "./_read.ts";
import {
  type Fingerprinter,
  type HostRoots,
  type InterfaceCounters,
  type NetworkInterfaceInfo,
  type NetworkReading,
  resolveRoots,
} from "./readings.ts";

/** Default period of the network fingerprinter: counters every 5 s. */
export const NETWORK_PERIOD_MS = 5_000;
/** Default age after which the interface list is listed again: 5 minutes. */
export const NETWORK_INTERFACES_PERIOD_MS = 300_000;

/** Lists the machine's network interfaces. */
export type ListInterfaces = () => Promise<NetworkInterfaceInfo[]>;

/** Options of {@linkcode networkFingerprinter}. */
export interface NetworkFingerprinterOptions {
  /** Where procfs and sysfs are (default `/proc`, `/sys`). */
  roots?: Partial<HostRoots>;
  /** Clock for `sampledAt` and rates (default the system clock). */
  clock?: Clock;
  /** Lists interfaces (default {@linkcode systemInterfaces}). */
  listInterfaces?: ListInterfaces;
  /** Period of the counters in milliseconds (default {@linkcode NETWORK_PERIOD_MS}). */
  periodMs?: number;
  /** Age in milliseconds after which interfaces are listed again (default {@linkcode NETWORK_INTERFACES_PERIOD_MS}). */
  interfacesPeriodMs?: number;
}

/** Name, received and sent bytes of each interface in the text of `/proc/net/dev`. */
export function parseNetDev(text: string): { name: string; rxBytes: number; txBytes: number }[] {
  const counters: { name: string; rxBytes: number; txBytes: number }[] = [];
  for (const line of text.split("\n")) {
    const colon = line.indexOf(":");
    if (colon < 0) continue;
    const name = line.slice(0, colon).trim();
    const fields = line.slice(colon + 1).trim().split(/\s+/).map(Number);
    const rxBytes = fields[0];
    const txBytes = fields[8];
    if (!name || rxBytes === undefined || txBytes === undefined || !Number.isFinite(rxBytes + txBytes)) continue;
    counters.push({ name, rxBytes, txBytes });
  }
  return counters;
}

/** The interfaces of this machine, from systeminformation (loaded on first use). */
export const systemInterfaces: ListInterfaces = async () => {
  const si = (await import("systeminformation")).default;
  const found = await si.networkInterfaces();
  const list = Array.isArray(found) ? found : [found];
  return list.map((nic): NetworkInterfaceInfo => ({
    name: nic.iface,
    mac: (nic.mac ?? "").toLowerCase(),
    ipv4: nic.ip4 ?? "",
    ipv6: nic.ip6 ?? "",
    type: nic.type ?? "",
    isDefault: nic.default === true,
    internal: nic.internal === true,
    operstate: nic.operstate ?? "",
    speedMbps: typeof nic.speed === "number" && nic.speed > 0 ? nic.speed : null,
  }));
};

/** Total received and sent bytes over the interfaces that count for the node's traffic. */
function totals(counters: readonly InterfaceCounters[]): { rx: number; tx: number } {
  const physical = counters.filter((c) => c.physical);
  // Without any physical interface (a container, a VM with only virtual
  // links), all but loopback count.
  const counted = physical.length > 0 ? physical : counters.filter((c) => c.name !== "lo");
  return counted.reduce((sum, c) => ({ rx: sum.rx + c.rxBytes, tx: sum.tx + c.txBytes }), { rx: 0, tx: 0 });
}

/** The network fingerprinter. */
export function networkFingerprinter(options: NetworkFingerprinterOptions = {}): Fingerprinter<"network"> {
  const roots = resolveRoots(options.roots);
  const clock = options.clock ?? systemClock;
  const listInterfaces = options.listInterfaces ?? systemInterfaces;
  const interfacesPeriodMs = options.interfacesPeriodMs ?? NETWORK_INTERFACES_PERIOD_MS;
  let interfaces: NetworkInterfaceInfo[] = [];
  let interfacesAt = 0;
  let interfacesError: string | null = null;
  const physicalByName = new Map<string, boolean>();
  let previous: { rx: number; tx: number; at: number } | undefined;

  async function isPhysical(name: string): Promise<boolean> {
    let physical = physicalByName.get(name);
    if (physical === undefined) {
      physical = await exists(join(roots.sys, "class", "net", name, "device"));
      physicalByName.set(name, physical);
    }
    return physical;
  }

  return {
    area: "network",
    periodMs: options.periodMs ?? NETWORK_PERIOD_MS,
    async read(readOptions = {}): Promise<NetworkReading> {
      if (readOptions.full || interfacesAt === 0 || clock.now() - interfacesAt >= interfacesPeriodMs) {
        try {
          interfaces = await listInterfaces();
          interfacesError = null;
        } catch (error) {
          interfacesError = `Cannot list network interfaces: ${errorMessage(error)}`;
        }
        interfacesAt = clock.now();
      }
      const text = await readRequired(join(roots.proc, "net", "dev"), "network counters");
      const at = clock.now();
      const parsed = parseNetDev(text);
      for (const name of physicalByName.keys()) {
        if (!parsed.some((c) => c.name === name)) physicalByName.delete(name);
      }
      const counters = await Promise.all(
        parsed.map(async (c): Promise<InterfaceCounters> => ({ ...c, physical: await isPhysical(c.name) })),
      );
      const now = totals(counters);
      let rxBytesPerSecond: number | null = null;
      let txBytesPerSecond: number | null = null;
      const seconds = previous ? (at - previous.at) / 1000 : 0;
      // A counter that went backwards (interface removed, 32-bit wrap) gives no rate this round.
      if (previous && seconds > 0 && now.rx >= previous.rx && now.tx >= previous.tx) {
        rxBytesPerSecond = (now.rx - previous.rx) / seconds;
        txBytesPerSecond = (now.tx - previous.tx) / seconds;
      }
      previous = { ...now, at };
      return {
        interfaces,
        interfacesAt,
        interfacesError,
        counters,
        rxBytesPerSecond,
        txBytesPerSecond,
        sampledAt: at,
      };
    },
  };
}
