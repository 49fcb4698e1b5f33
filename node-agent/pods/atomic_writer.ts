/**
 * Writes a set of files into a volume directory so that a reader never sees
 * a mix of old and new ones, as the kubelet's AtomicWriter does for
 * configMap, secret, downwardAPI and projected volumes:
 *
 * ```
 * <dir>/..2026_01_01_12_00_00.3f9a1c/   the payload, written first
 * <dir>/..data -> ..2026_01_01_12_00_00.3f9a1c   swapped by one rename
 * <dir>/<key>  -> ..data/<key>          one link per top-level name
 * ```
 *
 * A new payload goes into a fresh timestamped directory, a `..data_tmp`
 * link to it is renamed over `..data` (atomic), the top-level links are
 * added or removed, and the old directory is deleted. Writing the payload
 * already there changes nothing.
 *
 * @module
 */

import { dirname, join } from "node:path";

/** One file of a payload. */
export interface PayloadFile {
  /** Its content. */
  data: Uint8Array;
  /** Its mode bits, e.g. `0o644`. */
  mode: number;
}

/** Files by relative path, e.g. `config/app.yaml`. */
export type Payload = Map<string, PayloadFile>;

const DATA = "..data";
const DATA_TMP = "..data_tmp";

/**
 * Checks a payload path as the kubelet does: relative, not empty, no `..`
 * element, not starting with `..`.
 *
 * @throws {TypeError} naming the path.
 */
export function checkPayloadPath(path: string): void {
  if (path === "") throw new TypeError('Invalid path "": a file path must not be empty');
  if (path.length > 4096) throw new TypeError(`Invalid path "${path.slice(0, 40)}…": longer than 4096 characters`);
  if (path.startsWith("/")) throw new TypeError(`Invalid path "${path}": it must be relative`);
  if (path.startsWith("..")) throw new TypeError(`Invalid path "${path}": it must not start with ".."`);
  if (path.split("/").includes("..")) throw new TypeError(`Invalid path "${path}": it must not contain ".."`);
}

function topLevel(path: string): string {
  return path.split("/").filter((p) => p !== "" && p !== ".")[0]!;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

async function readLinkOrUndefined(path: string): Promise<string | undefined> {
  try {
    return await Deno.readLink(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.InvalidData) return undefined;
    throw error;
  }
}

async function samePayload(dir: string, payload: Payload): Promise<boolean> {
  const current = await readLinkOrUndefined(join(dir, DATA));
  if (current === undefined) return false;
  const root = join(dir, current);
  let count = 0;
  const walk = async (sub: string): Promise<boolean> => {
    for await (const entry of Deno.readDir(join(root, sub))) {
      const rel = sub ? `${sub}/${entry.name}` : entry.name;
      if (entry.isDirectory) {
        if (!(await walk(rel))) return false;
        continue;
      }
      const wanted = payload.get(rel);
      if (!wanted) return false;
      const path = join(root, rel);
      const info = await Deno.stat(path);
      if (((info.mode ?? 0) & 0o7777) !== wanted.mode) return false;
      if (!sameBytes(await Deno.readFile(path), wanted.data)) return false;
      count++;
    }
    return true;
  };
  try {
    return (await walk("")) && count === payload.size;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

function timestampedName(): string {
  const now = new Date();
  const pad = (n: number) => String(n).padStart(2, "0");
  const stamp = `${now.getUTCFullYear()}_${pad(now.getUTCMonth() + 1)}_${pad(now.getUTCDate())}_` +
    `${pad(now.getUTCHours())}_${pad(now.getUTCMinutes())}_${pad(now.getUTCSeconds())}`;
  const random = [...crypto.getRandomValues(new Uint8Array(5))].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `..${stamp}.${random}`;
}

/**
 * Makes `dir` hold exactly `payload`, atomically for readers; returns
 * whether anything changed.
 *
 * @throws {TypeError} for a payload path that is not valid.
 */
export async function writeAtomically(dir: string, payload: Payload): Promise<boolean> {
  for (const path of payload.keys()) checkPayloadPath(path);
  await Deno.mkdir(dir, { recursive: true });
  const previous = await readLinkOrUndefined(join(dir, DATA));
  const changed = !(await samePayload(dir, payload));
  if (changed) {
    const name = timestampedName();
    const root = join(dir, name);
    await Deno.mkdir(root, { mode: 0o755 });
    await Deno.chmod(root, 0o755);
    for (const [path, file] of payload) {
      const target = join(root, path);
      await Deno.mkdir(dirname(target), { recursive: true });
      await Deno.writeFile(target, file.data, { mode: file.mode });
      await Deno.chmod(target, file.mode);
    }
    const tmp = join(dir, DATA_TMP);
    await Deno.remove(tmp).catch((error) => {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    });
    await Deno.symlink(name, tmp);
    await Deno.rename(tmp, join(dir, DATA));
  }
  const wanted = new Set([...payload.keys()].map(topLevel));
  for await (const entry of Deno.readDir(dir)) {
    if (entry.name.startsWith("..")) continue;
    if (!wanted.has(entry.name)) await Deno.remove(join(dir, entry.name), { recursive: true });
  }
  for (const name of wanted) {
    const link = join(dir, name);
    if ((await readLinkOrUndefined(link)) === `${DATA}/${name}`) continue;
    await Deno.remove(link, { recursive: true }).catch((error) => {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    });
    await Deno.symlink(`${DATA}/${name}`, link);
  }
  if (changed && previous !== undefined) {
    await Deno.remove(join(dir, previous), { recursive: true }).catch((error) => {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    });
  }
  return changed;
}
