/**
 * How every actor talks to the API: kubeconfig files, TLS transport, the
 * typed client, informers and work queues.
 *
 * @module
 */

export * from "./kubeconfig.ts";
export * from "./tls.ts";
