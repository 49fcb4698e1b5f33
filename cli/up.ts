/**
 * `skiff up`: brings the cluster up on this machine (the control plane; the
 * local agent follows in its own issue).
 *
 * @module
 */

import { Command, Option } from "commander";
import { API_PORT } from "@skiff/api";
import { defaultDataDir } from "./_paths.ts";
import { runUp } from "./up_run.ts";

/** The `up` command's flags. */
export function upCommand(): Command {
  return new Command("up")
    .description("bring a Skiff cluster up on this machine (control plane and, unless --no-agent, a local agent)")
    .option("--data-dir <dir>", "where state, certificates and credentials live", defaultDataDir())
    .addOption(new Option("--port <port>", "API server port").default(API_PORT).argParser(parsePort))
    .option("--bind <address>", "address the API server listens on", "0.0.0.0")
    .option("--tls-san <name>", "extra name or address for the serving certificate (repeatable)", collect, [])
    .option("--no-agent", "do not start a local node agent")
    .action(async (options) => {
      await runUp({
        dataDir: options.dataDir,
        port: options.port,
        bind: options.bind,
        tlsSans: options.tlsSan,
        agent: options.agent,
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

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}
