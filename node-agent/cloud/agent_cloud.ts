/**
 * The agent's "cloud" step: the node's part of the homelab cloud
 * controller. It announces the LoadBalancer addresses this node wins
 * ({@linkcode LoadBalancerAnnouncer}) and reports how to wake the machine
 * and puts it to sleep when asked ({@linkcode PowerAgent}), on informers of
 * its own.
 *
 * @module
 */

import type { Clock } from "@skiff/api";
import { type ApiClient, type EventRecorder, SharedInformers } from "@skiff/client";
import { type Exec, run } from "../_exec.ts";
import { LoadBalancerAnnouncer } from "./lb_announcer.ts";
import { PowerAgent } from "./power_agent.ts";

/** Options of {@linkcode startAgentCloud}. */
export interface AgentCloudOptions {
  /** The API client (the node's credentials). */
  client: ApiClient;
  /** This node's name. */
  nodeName: string;
  /** The node's InternalIP. */
  internalIp: string;
  /** The MAC address of the InternalIP's interface (empty when unknown). */
  mac: string;
  /** Records Events about the Node. */
  recorder: EventRecorder;
  /** Campaign for and announce LoadBalancer addresses (default true; off when the agent shares its network). */
  announce?: boolean;
  /** Runs `ip`, `arping` and the sleep command (default: the agent's exec module). */
  exec?: Exec;
  /** Seconds a LoadBalancer address lease lasts without renewal (default 6). */
  leaseDurationSeconds?: number;
  /** Time source. */
  clock?: Clock;
  /** Log line sink. */
  log: (line: string) => void;
}

/** The running cloud step. */
export interface AgentCloud {
  /** The LoadBalancer announcer (idle when announcing is off or no interface has the InternalIP). */
  readonly announcer: LoadBalancerAnnouncer;
  /** Gives up the addresses (the Leases are released) and stops watching. */
  stop(): Promise<void>;
}

/** Starts the cloud step; resolves once its informers have synced. */
export async function startAgentCloud(options: AgentCloudOptions): Promise<AgentCloud> {
  const { client, nodeName, log } = options;
  const exec = options.exec ?? run;
  const informers = new SharedInformers(client, {
    ...(options.clock ? { clock: options.clock } : {}),
    onError: (err) => log(`Watching Services or this Node failed: ${(err as Error).message}; retrying`),
  });
  const announcer = new LoadBalancerAnnouncer({
    client,
    informers,
    nodeName,
    internalIp: options.internalIp,
    exec,
    log,
    ...(options.leaseDurationSeconds ? { leaseDurationSeconds: options.leaseDurationSeconds } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
  });
  const power = new PowerAgent({
    client,
    informers,
    nodeName,
    mac: options.mac,
    exec,
    recorder: options.recorder,
    beforeSleep: () => announcer.pause(),
    afterWake: () => announcer.resume(),
    log,
  });
  try {
    if (options.announce ?? true) await announcer.start();
    await power.start();
    await informers.start();
  } catch (err) {
    informers.stop();
    await announcer.stop();
    throw err;
  }
  return {
    announcer,
    async stop() {
      informers.stop();
      await announcer.stop();
    },
  };
}
