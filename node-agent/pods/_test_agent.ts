/**
 * A pod agent process for the containerd integration test: a
 * {@linkcode PodManager} over a real containerd runtime and a real CNI pod
 * network, talking to the API with a node's kubeconfig, so the test can
 * kill it with SIGKILL and start it again. Its configuration is one JSON
 * argument; it prints `started` once its pods are being run, and stops on
 * SIGTERM (leaving containers running). It exits when its standard input
 * closes, so it does not outlive a test process that died.
 *
 * @module
 */

import { ApiClient, EventRecorder } from "@skiff/client";
import { CniPodNetwork } from "../network/mod.ts";
import { ContainerdRuntime } from "../runtime/mod.ts";
import { PodManager } from "./pod_manager.ts";

/** The agent's configuration. */
export interface TestAgentConfig {
  /** The node's kubeconfig. */
  kubeconfig: string;
  /** The node's name. */
  nodeName: string;
  /** The node's address. */
  hostIP: string;
  /** The agent's data directory. */
  dataDir: string;
  /** containerd's socket. */
  containerdAddress: string;
  /** The containerd namespace. */
  containerdNamespace: string;
  /** The node's pod range. */
  podCidr: string;
  /** The network namespace the CNI plugins run in (the simulated node). */
  hostNetns: string;
}

if (import.meta.main) {
  const config = JSON.parse(Deno.args[0] ?? "{}") as TestAgentConfig;
  const log = (line: string) => console.error(`${new Date().toISOString()} ${line}`);
  const { client } = await ApiClient.fromKubeconfig({ kubeconfig: config.kubeconfig, userAgent: "skiff-test-agent" });
  const runtime = new ContainerdRuntime({
    stateDir: `${config.dataDir}/runtime`,
    address: config.containerdAddress,
    namespace: config.containerdNamespace,
    onError: (error) => log(`runtime: ${error.message}`),
  });
  const network = new CniPodNetwork({
    nodeName: config.nodeName,
    podCidr: config.podCidr,
    stateDir: `${config.dataDir}/network`,
    hostNetns: config.hostNetns,
  });
  const recorder = new EventRecorder(client, {
    component: "skiff-agent",
    host: config.nodeName,
    onError: (error) => log(`event: ${error instanceof Error ? error.message : error}`),
  });
  const pods = new PodManager({
    client,
    nodeName: config.nodeName,
    runtime,
    network,
    dataDir: config.dataDir,
    hostIP: config.hostIP,
    recorder,
    log,
  });
  await pods.start();
  console.log("started");
  let stopping: Promise<never> | undefined;
  const stop = () =>
    stopping ??= (async () => {
      await pods.stop();
      await recorder.flush();
      await runtime.close();
      client.close();
      Deno.exit(0);
    })();
  Deno.addSignalListener("SIGTERM", stop);
  for await (const _ of Deno.stdin.readable) {
    // Nothing is sent: the pipe only tells when the test process is gone.
  }
  await stop();
}
