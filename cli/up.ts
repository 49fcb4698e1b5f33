/**
 * `skiff up`: brings the cluster up on this machine: a preflight of the
 * machine (installing missing packages with apt), containerd, the control
 * plane, the csi-local volume plugin and a local agent.
 *
 * @module
 */

import { Command, Option } from "commander";
import { API_PORT } from "@skiff/api";
import { parseAddressPool } from "@skiff/control-plane";
import { defaultDataDir } from "./_paths.ts";
import { runUp } from "./up_run.ts";

/** The `up` command's flags. */
export function upCommand(): Command {
  return new Command("up")
    .description(
      "bring a Skiff cluster up on this machine: preflight, then containerd, control plane, volume plugin and a " +
        "local agent (the last three unless --no-agent)",
    )
    .option("--data-dir <dir>", "where state, certificates and credentials live", defaultDataDir())
    .addOption(new Option("--port <port>", "API server port").default(API_PORT).argParser(parsePort))
    .option("--bind <address>", "address the API server listens on", "0.0.0.0")
    .option("--tls-san <name>", "extra name or address for the serving certificate (repeatable)", collect, [])
    .option("--no-agent", "run only the control plane: no containerd, volume plugin or local node agent")
    .option("--no-install", "only report what the preflight finds missing; do not install it with apt-get")
    .addOption(
      new Option(
        "--lb-pool <addresses>",
        "LAN addresses for LoadBalancer Services: ranges and CIDRs, e.g. 192.168.1.240-192.168.1.250 " +
          "(the ConfigMap kube-system/skiff-lb-pool, key addresses, replaces it at run time)",
      ).argParser(parseLbPool),
    )
    .option(
      "--power-management",
      "put idle nodes labelled power.skiff.dev/wake-on-lan=true to sleep; wake them with Wake-on-LAN",
    )
    .addOption(
      new Option("--power-idle <minutes>", "with --power-management: idle minutes before a node sleeps")
        .default(30)
        .argParser(parseMinutes),
    )
    .action(async (options) => {
      await runUp({
        dataDir: options.dataDir,
        port: options.port,
        bind: options.bind,
        tlsSans: options.tlsSan,
        agent: options.agent,
        install: options.install,
        ...(options.lbPool ? { lbPool: options.lbPool } : {}),
        ...(options.powerManagement ? { powerManagement: { idleMs: options.powerIdle * 60_000 } } : {}),
      });
    });
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!/^[0-9]+$/.test(value) || port > 65535) {
    throw new TypeError(`Invalid --port "${value}": must be a number from 0 to 65535`);
  }
  return port;
}

function parseLbPool(value: string): string {
  parseAddressPool(value, "--lb-pool");
  return value;
}

function parseMinutes(value: string): number {
  const minutes = Number(value);
  if (!/^[0-9]+(\.[0-9]+)?$/.test(value) || minutes <= 0) {
    throw new TypeError(`Invalid --power-idle "${value}": must be a number of minutes above 0`);
  }
  return minutes;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}
