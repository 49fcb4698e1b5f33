/**
 * Wake-on-LAN: the magic packet (6 bytes of 0xFF, then the target's MAC
 * address 16 times) sent as a UDP broadcast, by default to
 * 255.255.255.255 port 9 (discard), which a sleeping machine's network
 * card listens for.
 *
 * @example
 * ```ts
 * await sendWakeOnLan("dc:a6:32:12:34:56");
 * ```
 *
 * @module
 */

import { createSocket } from "node:dgram";

/** The broadcast address magic packets go to by default. */
export const WAKE_ON_LAN_ADDRESS = "255.255.255.255";
/** The UDP port magic packets go to by default (discard). */
export const WAKE_ON_LAN_PORT = 9;

/** The six bytes of a MAC address written `aa:bb:cc:dd:ee:ff` (or with `-`). */
export function parseMac(mac: string): Uint8Array {
  const parts = mac.trim().split(/[:-]/);
  if (parts.length !== 6 || !parts.every((p) => /^[0-9a-fA-F]{2}$/.test(p))) {
    throw new TypeError(`Invalid MAC address "${mac}": expected six hex pairs such as dc:a6:32:12:34:56`);
  }
  const bytes = new Uint8Array(parts.map((p) => parseInt(p, 16)));
  if (bytes.every((b) => b === 0) || bytes.every((b) => b === 0xff)) {
    throw new TypeError(`Invalid MAC address "${mac}": it is not a network card's address`);
  }
  return bytes;
}

/**
 * The magic packet waking the card with MAC `mac`: 102 bytes.
 *
 * @throws {TypeError} when `mac` is not a MAC address
 */
export function magicPacket(mac: string): Uint8Array {
  const address = parseMac(mac);
  const packet = new Uint8Array(6 + 16 * 6).fill(0xff, 0, 6);
  for (let i = 0; i < 16; i++) packet.set(address, 6 + i * 6);
  return packet;
}

/** Options of {@linkcode sendWakeOnLan}. */
export interface WakeOnLanOptions {
  /** Where the packet goes (default 255.255.255.255; a subnet's broadcast address works too). */
  address?: string;
  /** The UDP port (default 9). */
  port?: number;
  /** How many copies to send, for a lossy network (default 3). */
  copies?: number;
}

/**
 * Sends the magic packet waking `mac`.
 *
 * @throws {TypeError} when `mac` is not a MAC address
 * @throws {Error} when the packet cannot be sent (no route to the broadcast address, say)
 */
export async function sendWakeOnLan(mac: string, options: WakeOnLanOptions = {}): Promise<void> {
  const packet = magicPacket(mac);
  const address = options.address ?? WAKE_ON_LAN_ADDRESS;
  const port = options.port ?? WAKE_ON_LAN_PORT;
  const socket = createSocket("udp4");
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once("error", reject);
      socket.bind(0, () => resolve());
    });
    socket.setBroadcast(true);
    for (let i = 0; i < (options.copies ?? 3); i++) {
      await new Promise<void>((resolve, reject) => {
        socket.send(packet, port, address, (err) => err ? reject(err) : resolve());
      }).catch((err) => {
        throw new Error(`Cannot send the Wake-on-LAN packet for ${mac} to ${address}:${port}: ${err.message}`, {
          cause: err,
        });
      });
    }
  } finally {
    socket.close();
  }
}
