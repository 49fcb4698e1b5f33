/**
 * What `skiff agent` does: reads the CA file, starts the node agent, and
 * stops it gracefully on SIGINT or SIGTERM, leaving containers running.
 *
 * @module
 */

import { checkExternalIp, runAgent } from "@skiff/node-agent";
import { UsageError } from "./_errors.ts";

/** Options of {@linkcode runAgentCommand}. */
export interface AgentCommandOptions {
  /** `--data-dir`. */
  dataDir: string;
  /** `--server`. */
  server?: string;
  /** `--token`. */
  token?: string;
  /** `--ca-cert`: a PEM file. */
  caCert?: string;
  /** `--node-name`. */
  nodeName?: string;
  /** `--containerd-address`. */
  containerdAddress?: string;
  /** `--node-ip`. */
  nodeIp?: string;
  /** `--node-external-ip`. */
  nodeExternalIp?: string;
  /** `--containerd-namespace`. */
  containerdNamespace?: string;
}

async function readCa(file: string): Promise<string> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (error) {
    throw new UsageError(
      `Cannot read --ca-cert "${file}": ${
        error instanceof Error ? error.message : error
      }; copy <data-dir>/pki/ca.crt from the control plane`,
    );
  }
  if (!text.includes("-----BEGIN CERTIFICATE-----")) {
    throw new UsageError(`Invalid --ca-cert "${file}": it holds no PEM certificate`);
  }
  return text;
}

/** Runs the agent until SIGINT or SIGTERM. */
export async function runAgentCommand(options: AgentCommandOptions): Promise<void> {
  if (options.nodeExternalIp !== undefined) {
    try {
      checkExternalIp(options.nodeExternalIp);
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
  }
  const caPem = options.caCert !== undefined ? await readCa(options.caCert) : undefined;
  const starting = new AbortController();
  const signalled = Promise.withResolvers<void>();
  const onSignal = () => {
    starting.abort(new Error("Interrupted while starting"));
    signalled.resolve();
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  try {
    let agent;
    try {
      agent = await runAgent({
        dataDir: options.dataDir,
        ...(options.server !== undefined ? { server: options.server } : {}),
        ...(options.token !== undefined ? { token: options.token } : {}),
        ...(caPem !== undefined ? { caPem } : {}),
        ...(options.nodeName !== undefined ? { nodeName: options.nodeName } : {}),
        ...(options.containerdAddress !== undefined ? { containerdAddress: options.containerdAddress } : {}),
        ...(options.nodeIp !== undefined ? { nodeIp: options.nodeIp } : {}),
        ...(options.nodeExternalIp !== undefined ? { externalIp: options.nodeExternalIp } : {}),
        ...(options.containerdNamespace !== undefined ? { containerdNamespace: options.containerdNamespace } : {}),
        log: (line) => console.log(line),
        signal: starting.signal,
      });
    } catch (error) {
      if (starting.signal.aborted) {
        console.log("Interrupted while starting: stopped what had started");
        return;
      }
      throw error;
    }
    await signalled.promise;
    console.log(`Stopping the agent of node "${agent.nodeName}": containers keep running`);
    await agent.stop();
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  }
}
