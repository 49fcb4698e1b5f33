/**
 * Services the proxy benchmark fills its tables with.
 *
 * @module
 */

import type { ProxyService } from "../node-agent/mod.ts";

/** Endpoints per generated Service. */
export const ENDPOINTS = 10;

/** `count` Services `s<i>` with 10 endpoints each, spread over the cluster's pod range. */
export function services(count: number, offset = 0): ProxyService[] {
  return Array.from({ length: count }, (_, i) => ({
    namespace: "bench",
    name: `s${i}`,
    clusterIP: `10.43.${(offset + i) >> 8}.${(offset + i) & 255}`,
    ports: [{
      name: "http",
      protocol: "TCP" as const,
      port: 80,
      endpoints: Array.from({ length: ENDPOINTS }, (_, e) => ({
        address: `10.42.${1 + ((i * ENDPOINTS + e) >> 8) % 200}.${2 + (i * ENDPOINTS + e) % 250}`,
        port: 8080,
      })),
    }],
  }));
}
