/**
 * The node's addresses: `InternalIP`, the address this machine uses to
 * reach the API server (or `--node-ip`), `ExternalIP` when configured
 * (`--node-external-ip`: the address the machine is reached at from outside
 * its LAN, say a port-forwarded public address), and `Hostname`.
 *
 * The route to the server decides which interface other machines reach
 * this node on; when that is loopback (the agent beside its control plane),
 * the default route's interface stands in, so pods on other nodes can
 * still reach this one.
 *
 * @module
 */

import { isIP } from "node:net";
import type { NodeAddress } from "@skiff/api";
import type { NetworkInterfaceInfo } from "../hardware/mod.ts";

/** Options of {@linkcode pickInternalIp}. */
export interface PickInternalIpOptions {
  /** `--node-ip`: wins when given. */
  nodeIp?: string;
  /** The local address of a connection to the API server, when one was made. */
  routeAddress?: string;
  /** The machine's interfaces (from the hardware readings). */
  interfaces: readonly NetworkInterfaceInfo[];
}

/** Whether `address` is a loopback address. */
export function isLoopback(address: string): boolean {
  return address === "::1" || address.startsWith("127.") || address === "localhost" ||
    address.startsWith("::ffff:127.");
}

/**
 * The node's InternalIP: `nodeIp`; else the route address unless it is
 * loopback; else the IPv4 address of the default route's interface; else
 * of any interface that has one; else the route address, even loopback.
 *
 * @throws {TypeError} when `nodeIp` is not an IP address
 * @throws {Error} when no address is known at all, saying to pass `--node-ip`
 */
export function pickInternalIp(options: PickInternalIpOptions): string {
  if (options.nodeIp !== undefined) {
    if (isIP(options.nodeIp) === 0) {
      throw new TypeError(`Invalid node IP "${options.nodeIp}": not an IPv4 or IPv6 address`);
    }
    return options.nodeIp;
  }
  const route = options.routeAddress?.replace(/^::ffff:/, "");
  if (route && !isLoopback(route)) return route;
  const usable = options.interfaces.filter((i) => !i.internal && i.ipv4 !== "" && !isLoopback(i.ipv4));
  const chosen = usable.find((i) => i.isDefault) ?? usable[0];
  if (chosen) return chosen.ipv4;
  if (route) return route;
  throw new Error("Cannot tell this node's IP address: no interface has an IPv4 address; pass --node-ip");
}

/**
 * The local address of a TCP connection to `server`'s host and port: the
 * address of the interface that routes there. `undefined` when the
 * connection cannot be made within `timeoutMs`, or `server` is not a
 * network address (an in-process server).
 */
export async function localAddressTowards(
  server: string,
  options: { timeoutMs?: number } = {},
): Promise<string | undefined> {
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    return undefined;
  }
  const hostname = url.hostname.replace(/^\[(.*)\]$/, "$1");
  if (isIP(hostname) === 0 && !hostname.includes(".") && hostname !== "localhost") return undefined;
  const port = Number(url.port || (url.protocol === "https:" ? 443 : 80));
  const connecting = Deno.connect({ hostname, port, transport: "tcp" });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), options.timeoutMs ?? 5_000);
  });
  try {
    const conn = await Promise.race([connecting, timeout]);
    if (!conn) {
      connecting.then((late) => late.close(), () => {});
      return undefined;
    }
    const local = conn.localAddr as Deno.NetAddr;
    conn.close();
    return local.hostname;
  } catch {
    return undefined;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * `address` when it is an IPv4 or IPv6 literal, to be the node's ExternalIP.
 *
 * @throws {TypeError} when it is not, naming `--node-external-ip`
 */
export function checkExternalIp(address: string): string {
  if (isIP(address) === 0) {
    throw new TypeError(
      `Invalid --node-external-ip "${address}": not an IPv4 or IPv6 address; pass the address this machine is reached at from outside, e.g. 203.0.113.7`,
    );
  }
  return address;
}

/**
 * The node's `status.addresses`: InternalIP, then ExternalIP when
 * `options.externalIp` is given, then Hostname.
 *
 * @throws {TypeError} when `options.externalIp` is not an IP address, naming `--node-external-ip`
 *
 * @example
 * ```ts
 * nodeAddresses("192.168.1.41", "pi-4", { externalIp: "203.0.113.7" });
 * // InternalIP 192.168.1.41, ExternalIP 203.0.113.7, Hostname pi-4
 * ```
 */
export function nodeAddresses(
  internalIp: string,
  hostname: string,
  options: { externalIp?: string } = {},
): NodeAddress[] {
  const addresses: NodeAddress[] = [{ type: "InternalIP", address: internalIp }];
  if (options.externalIp !== undefined) {
    addresses.push({ type: "ExternalIP", address: checkExternalIp(options.externalIp) });
  }
  addresses.push({ type: "Hostname", address: hostname });
  return addresses;
}
