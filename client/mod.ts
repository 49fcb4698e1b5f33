/**
 * How every actor talks to the API: kubeconfig files, TLS transport, the
 * typed client, informers and work queues.
 *
 * @module
 */

export * from "./api_client.ts";
export * from "./informer.ts";
export * from "./kubeconfig.ts";
export * from "./tls.ts";
export * from "./work_queue.ts";
export * from "./event_recorder.ts";
export * from "./leader_election.ts";
export * from "./shared_informers.ts";
