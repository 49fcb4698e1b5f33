/**
 * Leftovers of the bridge plugin's `ipMasq`. The plugin puts a nat chain
 * `CNI-<hash of network name and container id>` and a POSTROUTING rule
 * jumping to it per sandbox; on DEL it finds the rules to remove from the
 * addresses still on the pod's interface, so when the namespace or the
 * address is already gone it leaves them behind, and a later DEL of the
 * same sandbox then fails ("CHAIN_DEL failed (Device or resource busy)").
 * This module finds such rules by their comment (`name: "<network>" id:
 * "<container id>"`) and removes them with `iptables`.
 *
 * @module
 */

import { createHash } from "node:crypto";
import type { Exec } from "../_exec.ts";

/** Where to look, and how. */
export interface BridgeMasqueradeScope {
  /** Runs `iptables`. */
  exec: Exec;
  /** The namespace the bridge plugin ran in; default: the agent's own. */
  netns?: string | undefined;
  /** The CNI network name. */
  network: string;
}

/** The bridge plugin's masquerade chain for a sandbox (its `utils.FormatChainName`). */
export function bridgeMasqueradeChain(network: string, containerId: string): string {
  return `CNI-${createHash("sha512").update(network + containerId).digest("hex")}`.slice(0, 28);
}

/**
 * Removes the masquerade rules and chains of every container id in the nat
 * table for which `remove(containerId)` is true; returns the chains removed.
 *
 * @throws {CommandError} when `iptables` fails.
 */
export async function removeBridgeMasquerade(
  scope: BridgeMasqueradeScope,
  remove: (containerId: string) => boolean,
): Promise<string[]> {
  const options = scope.netns === undefined ? {} : { netns: scope.netns };
  const iptables = (...args: string[]) => scope.exec(["iptables", "-w", "-t", "nat", ...args], options);
  const rules = (await iptables("-S")).stdout.split("\n").map(tokenize).filter((tokens) => tokens.length > 0);
  const chains = new Set(rules.filter((t) => t[0] === "-N").map((t) => t[1]));
  const containerIds = new Set<string>();
  for (const tokens of rules) {
    const comment = tokens[tokens.indexOf("--comment") + 1];
    const match = comment?.match(/^name: "(.*)" id: "(.*)"$/);
    if (tokens[0] === "-A" && match?.[1] === scope.network) containerIds.add(match[2]!);
  }
  const removed: string[] = [];
  for (const containerId of containerIds) {
    if (!remove(containerId)) continue;
    const chain = bridgeMasqueradeChain(scope.network, containerId);
    for (const tokens of rules) {
      const jumps = tokens.some((token, i) => token === "-j" && tokens[i + 1] === chain);
      if (tokens[0] === "-A" && tokens[1] === "POSTROUTING" && jumps) await iptables("-D", ...tokens.slice(1));
    }
    if (chains.has(chain)) {
      await iptables("-F", chain);
      await iptables("-X", chain);
      removed.push(chain);
    }
  }
  return removed;
}

/** Splits one line of `iptables -S` into arguments (double quotes, backslash escapes). */
export function tokenize(line: string): string[] {
  const tokens: string[] = [];
  let current = "";
  let started = false;
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quoted && c === "\\" && i + 1 < line.length) {
      current += line[++i];
    } else if (c === '"') {
      quoted = !quoted;
      started = true;
    } else if (!quoted && /\s/.test(c)) {
      if (started) tokens.push(current);
      current = "";
      started = false;
    } else {
      current += c;
      started = true;
    }
  }
  if (started) tokens.push(current);
  return tokens;
}
