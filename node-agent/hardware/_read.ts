/**
 * Small readers for procfs, sysfs and /etc files, shared by the
 * fingerprinters.
 *
 * @module
 */

/**
 * The text of `path`, or `null` when it cannot be read (absent, permission
 * denied, or a sysfs attribute the driver refuses to report).
 */
export async function readOptional(path: string): Promise<string | null> {
  try {
    return await Deno.readTextFile(path);
  } catch {
    return null;
  }
}

/**
 * The text of `path`.
 *
 * @throws {Error} naming `what` and the path when it cannot be read
 */
export async function readRequired(path: string, what: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    throw new Error(`Cannot read ${what} from "${path}": ${errorMessage(error)}`, { cause: error });
  }
}

/** Names in directory `path`, sorted; empty when it does not exist or cannot be read. */
export async function listDir(path: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const entry of Deno.readDir(path)) names.push(entry.name);
  } catch {
    return [];
  }
  return names.sort(naturalCompare);
}

/** Whether `path` exists (following symlinks). */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

const collator = new Intl.Collator("en", { numeric: true });

/** Compares names with embedded numbers by value: `ttyUSB2` before `ttyUSB10`. */
export function naturalCompare(a: string, b: string): number {
  return collator.compare(a, b);
}

/** The message of anything thrown. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Parses a decimal integer field.
 *
 * @throws {TypeError} naming `what` when `text` is not an integer
 */
export function parseInteger(text: string | undefined, what: string): number {
  const value = Number((text ?? "").trim());
  if ((text ?? "").trim() === "" || !Number.isSafeInteger(value)) {
    throw new TypeError(`Cannot parse ${what}: "${(text ?? "").trim()}" is not an integer`);
  }
  return value;
}
