/**
 * The API server: Kubernetes REST semantics over the store, discovery,
 * authentication, authorization, admission, and an HTTPS listener.
 *
 * @module
 */

export * from "./access_review.ts";
export * from "./admission.ts";
export * from "./auth.ts";
export * from "./discovery.ts";
export * from "./handler.ts";
export * from "./join.ts";
export * from "./metrics.ts";
export * from "./node_certificate.ts";
export * from "./node_proxy.ts";
export * from "./object_store.ts";
export * from "./serve.ts";
export * from "./served_type.ts";
export * from "./service_ips.ts";
export * from "./storage_admission.ts";
export * from "./strategies.ts";
export * from "./table.ts";
