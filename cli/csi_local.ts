/**
 * `skiff csi-local`: runs csi-local, Skiff's CSI plugin for node-local
 * volumes, where this machine's agent finds it. Its flags are csi-local's
 * own (`plugins/csi-local`), with defaults under Skiff's data directory.
 *
 * @module
 */

import { Command } from "commander";
import type { Io } from "./_io.ts";
import { runCsiLocalCommand } from "./csi_local_run.ts";

/**
 * The `csi-local` command: every argument goes to csi-local's own flag
 * parser; help, errors and log lines go to `io.stderr`, and `io.signal`
 * stops it as SIGINT does.
 */
export function csiLocalCommand(io: Io): Command {
  return new Command("csi-local")
    .description(
      "run csi-local, the CSI plugin for node-local volumes, on the socket this machine's agent reads " +
        "(csi-local's flags; --help lists them)",
    )
    .usage("[--data-dir <dir>] [--endpoint <url>] [--node-id <id>] [--enforce-size] [--max-volumes <n>]")
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .argument("[flags...]", "csi-local's flags")
    .action(async (flags: string[]) => {
      await runCsiLocalCommand(flags, {
        env: (name) => io.env(name),
        write: (text) => io.stderr.write(text.endsWith("\n") ? text : `${text}\n`),
        ...(io.signal ? { signal: io.signal } : {}),
      });
    });
}
