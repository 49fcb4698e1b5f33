/**
 * Host devices for containers that request them through the extended
 * resources `devices.skiff.dev/<kind>` (`serial`, `camera`, `gpio`, `i2c`,
 * `spi`): each container gets as many of the node's device paths of that
 * kind as it asks for, never one another container holds. What a container
 * holds is written in its labels ({@linkcode LABEL_DEVICES}), so an agent
 * that restarts knows it again.
 *
 * @module
 */

import type { Container } from "@skiff/api";
import { DEVICE_RESOURCE_PREFIX } from "../hardware/mod.ts";
/** Container label holding the device paths it was given, comma-separated. */
export const LABEL_DEVICES = "skiff.dev/devices";

/** The devices a container asks for: kind to count. */
export function deviceRequests(container: Container): Map<string, number> {
  const out = new Map<string, number>();
  const resources = { ...container.resources?.requests, ...container.resources?.limits };
  for (const [name, quantity] of Object.entries(resources)) {
    if (!name.startsWith(DEVICE_RESOURCE_PREFIX)) continue;
    const count = Number(quantity);
    if (!Number.isSafeInteger(count) || count < 0) {
      throw new TypeError(`Invalid request of "${name}": "${quantity}" is not a whole number of devices`);
    }
    if (count > 0) out.set(name.slice(DEVICE_RESOURCE_PREFIX.length), count);
  }
  return out;
}

/** Hands out device paths to containers. */
export class DeviceAllocator {
  readonly #devicePaths: ((kind: string) => string[]) | undefined;
  /** Owner (`<pod uid>/<container name>`) to the paths it holds. */
  readonly #held = new Map<string, string[]>();

  /** Creates an allocator over the node's device paths by kind (absent: the node offers none). */
  constructor(devicePaths?: (kind: string) => string[]) {
    this.#devicePaths = devicePaths;
  }

  /** Records that `owner` holds `paths` (an adopted container's label). */
  adopt(owner: string, paths: readonly string[]): void {
    if (paths.length > 0) this.#held.set(owner, [...paths]);
  }

  /**
   * The device paths for `container` of pod `podUid`: the ones it holds
   * already, or newly allocated ones.
   *
   * @throws {Error} when the node does not have enough free devices of a kind.
   */
  allocate(podUid: string, container: Container): string[] {
    const owner = `${podUid}/${container.name}`;
    const requests = deviceRequests(container);
    if (requests.size === 0) return [];
    const held = this.#held.get(owner);
    if (held) return [...held];
    const taken = new Set([...this.#held.values()].flat());
    const given: string[] = [];
    for (const [kind, count] of requests) {
      const all = this.#devicePaths?.(kind) ?? [];
      const free = all.filter((p) => !taken.has(p));
      if (free.length < count) {
        throw new Error(
          `Cannot give container "${container.name}" ${count} "${kind}" device(s): ` +
            `the node has ${all.length}, of which ${free.length} free`,
        );
      }
      given.push(...free.slice(0, count));
    }
    this.#held.set(owner, given);
    return [...given];
  }

  /** Frees every device held by containers of pod `podUid`. */
  releasePod(podUid: string): void {
    for (const owner of [...this.#held.keys()]) if (owner.startsWith(`${podUid}/`)) this.#held.delete(owner);
  }
}
