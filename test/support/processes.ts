/**
 * What tests check about processes left behind.
 *
 * @module
 */

/** The processes (other than this one) whose command line mentions `text`, as `<pid>: <command line>`. */
export function processesMentioning(text: string): string[] {
  const found: string[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name) || entry.name === String(Deno.pid)) continue;
    try {
      const cmdline = Deno.readTextFileSync(`/proc/${entry.name}/cmdline`).replaceAll("\0", " ");
      if (cmdline.includes(text)) found.push(`${entry.name}: ${cmdline.trim()}`);
    } catch {
      // The process ended meanwhile.
    }
  }
  return found;
}
