/**
 * What `skiff up` does: starts the control plane, prints where the admin
 * kubeconfig is, and shuts down gracefully on SIGINT or SIGTERM.
 *
 * @module
 */

import { startControlPlane } from "@skiff/control-plane";

/** Options of {@linkcode runUp}. */
export interface UpOptions {
  /** Data directory. */
  dataDir: string;
  /** API port. */
  port: number;
  /** Bind address. */
  bind: string;
  /** Extra certificate names. */
  tlsSans: string[];
  /** Start a local agent. */
  agent: boolean;
}

/** Runs the cluster until a signal arrives. */
export async function runUp(options: UpOptions): Promise<void> {
  const started = performance.now();
  const plane = await startControlPlane({
    dataDir: options.dataDir,
    port: options.port,
    bind: options.bind,
    tlsSans: options.tlsSans,
    controllers: true,
  });
  const ms = Math.round(performance.now() - started);
  console.log(`Skiff API server is up at ${plane.url} (${ms} ms); admin kubeconfig: ${plane.kubeconfigPath}`);
  console.log(`  export KUBECONFIG=${plane.kubeconfigPath}; kubectl get nodes`);
  const done = Promise.withResolvers<void>();
  const stop = () => {
    console.log("Shutting down: finishing in-flight requests and closing the store");
    plane.stop().then(done.resolve, done.reject);
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  await done.promise;
  Deno.removeSignalListener("SIGINT", stop);
  Deno.removeSignalListener("SIGTERM", stop);
}
