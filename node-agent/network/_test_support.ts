/**
 * Helpers for this folder's tests: an {@linkcode Exec} that records command
 * lines, and cleanup of what lab tests leave in /run/netns.
 *
 * @module
 */

import type { Exec, ExecOptions, ExecResult } from "../_exec.ts";
import { run } from "../_exec.ts";

/** One recorded command. */
export interface RecordedCommand {
  /** The command line, without any `ip netns exec` prefix. */
  cmd: string[];
  /** The options it was run with. */
  options: ExecOptions;
}

/**
 * An {@linkcode Exec} that records every command and answers with
 * `respond(cmd)` (default: success with no output).
 */
export function recordingExec(
  respond: (cmd: readonly string[], options: ExecOptions) => Partial<ExecResult> = () => ({}),
): { exec: Exec; commands: RecordedCommand[] } {
  const commands: RecordedCommand[] = [];
  const exec: Exec = async (cmd, options = {}) => {
    commands.push({ cmd: [...cmd], options });
    return await Promise.resolve({ code: 0, stdout: "", stderr: "", ...respond(cmd, options) });
  };
  return { exec, commands };
}

/** Names in /run/netns. */
export async function netnsNames(): Promise<string[]> {
  const out = (await run(["ip", "-j", "netns", "list"])).stdout.trim();
  return out === "" ? [] : (JSON.parse(out) as { name: string }[]).map((ns) => ns.name);
}

/** Deletes every network namespace whose name starts with `prefix`; returns their names. */
export async function deleteNetnsWithPrefix(prefix: string): Promise<string[]> {
  const names = (await netnsNames()).filter((name) => name.startsWith(prefix));
  for (const name of names) await run(["ip", "netns", "del", name], { check: false });
  return names;
}

/** `busybox ping` once, inside `netns`; whether a reply came back. */
export async function pings(netns: string, address: string, waitSeconds = 2): Promise<boolean> {
  const result = await run(["busybox", "ping", "-c", "1", "-W", String(waitSeconds), address], {
    netns,
    check: false,
  });
  return result.code === 0;
}
