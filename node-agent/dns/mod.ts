/**
 * Cluster DNS: each node agent answers its pods' queries for Services and
 * pods from its informer caches and forwards other names to the node's
 * upstream name servers; pods get a matching /etc/resolv.conf.
 *
 * @module
 */

export * from "./cluster_dns.ts";
export * from "./cluster_records.ts";
export * from "./forwarder.ts";
export * from "./resolv_conf.ts";
export * from "./response_cache.ts";
