/**
 * `skiff`: the admin CLI, and the one program that also brings a cluster up.
 *
 * @module
 */

import { Command } from "commander";
import { upCommand } from "./up.ts";

/** Builds the program with every command. */
export function program(): Command {
  return new Command("skiff")
    .description("Skiff: a Kubernetes-shaped container orchestrator for homelabs")
    .version("0.1.0")
    .addCommand(upCommand());
}

if (import.meta.main) {
  try {
    await program().parseAsync(Deno.args, { from: "user" });
  } catch (err) {
    console.error(`skiff: ${err instanceof Error ? err.message : String(err)}`);
    Deno.exit(1);
  }
}
