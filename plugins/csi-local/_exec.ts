/**
 * The only module of csi-local that starts processes: every command line
 * the plugin runs (mount, umount, truncate, mkfs.ext4, losetup) is written
 * here.
 *
 * @module
 */

/** A command that could not start or exited non-zero. */
export class CommandError extends Error {
  /** The command line, program first. */
  readonly argv: readonly string[];
  /** Exit code, or `undefined` when the program could not start. */
  readonly exitCode: number | undefined;
  /** What the program wrote to stderr, trimmed. */
  readonly stderr: string;

  /** Creates the error for `argv`. */
  constructor(
    argv: readonly string[],
    options: ErrorOptions & { exitCode?: number; stderr?: string } = {},
  ) {
    const { exitCode, stderr = "" } = options;
    const line = argv.join(" ");
    const why = exitCode === undefined ? "could not start" : `exited with code ${exitCode}`;
    super(
      `Command "${line}" ${why}${stderr ? `: ${stderr}` : ""}`,
      { cause: options.cause },
    );
    this.name = "CommandError";
    this.argv = argv;
    this.exitCode = exitCode;
    this.stderr = stderr;
  }
}

/** Runs `program args...`, resolving to its stdout. */
async function run(program: string, args: string[]): Promise<string> {
  const argv = [program, ...args];
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command(program, {
      args,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: { LC_ALL: "C" },
    }).output();
  } catch (error) {
    throw new CommandError(argv, { stderr: String(error), cause: error });
  }
  const decoder = new TextDecoder();
  if (!output.success) {
    throw new CommandError(argv, {
      exitCode: output.code,
      stderr: decoder.decode(output.stderr).trim(),
    });
  }
  return decoder.decode(output.stdout);
}

/** Bind-mounts directory `source` onto `target` (`mount --bind`). */
export async function bindMount(source: string, target: string): Promise<void> {
  await run("mount", ["--bind", source, target]);
}

/**
 * Changes the per-mount flags of the bind mount at `target`
 * (`mount -o remount,bind,<flags>`), e.g. `["ro", "nosuid"]`.
 */
export async function remountBind(
  target: string,
  flags: readonly string[],
): Promise<void> {
  await run("mount", ["-o", ["remount", "bind", ...flags].join(","), target]);
}

/** Unmounts the topmost mount at `target` (`umount`). */
export async function unmount(target: string): Promise<void> {
  await run("umount", [target]);
}

/** Creates (or resizes) `path` as a sparse file of `bytes` (`truncate`). */
export async function createSparseFile(
  path: string,
  bytes: number,
): Promise<void> {
  await run("truncate", ["-s", String(bytes), path]);
}

/**
 * Formats the file `image` as ext4 (`mkfs.ext4 -q -F -m 0`): quiet, forced
 * because it is a plain file, and no blocks reserved for root, so the whole
 * volume is usable by containers of any user.
 */
export async function formatExt4(image: string): Promise<void> {
  await run("mkfs.ext4", ["-q", "-F", "-m", "0", image]);
}

/**
 * Mounts the ext4 image file `image` at `target` through a loop device
 * (`mount -t ext4 -o loop`). The loop device is set to clear itself when
 * the filesystem is unmounted.
 */
export async function loopMount(image: string, target: string): Promise<void> {
  await run("mount", ["-t", "ext4", "-o", "loop", image, target]);
}

/** One attached loop device. */
export interface LoopDevice {
  /** Device path, e.g. `/dev/loop3`. */
  device: string;
  /** The file behind it, without the kernel's " (deleted)" suffix. */
  backingFile: string;
  /** True when the backing file has been deleted. */
  deleted: boolean;
}

/** Every attached loop device and its backing file (`losetup -J -l`). */
export async function listLoopDevices(): Promise<LoopDevice[]> {
  const text = await run("losetup", ["-J", "-l", "-O", "NAME,BACK-FILE"]);
  return parseLosetupJson(text);
}

/** Parses the JSON that `losetup -J -l -O NAME,BACK-FILE` prints. */
export function parseLosetupJson(text: string): LoopDevice[] {
  if (text.trim() === "") return [];
  const parsed = JSON.parse(text) as {
    loopdevices?: { name?: string; "back-file"?: string | null }[];
  };
  const devices: LoopDevice[] = [];
  for (const entry of parsed.loopdevices ?? []) {
    if (!entry.name) continue;
    const raw = entry["back-file"] ?? "";
    const deleted = raw.endsWith(" (deleted)");
    devices.push({
      device: entry.name,
      backingFile: deleted ? raw.slice(0, -" (deleted)".length) : raw,
      deleted,
    });
  }
  return devices;
}

/** Detaches loop device `device` (`losetup -d`). */
export async function detachLoop(device: string): Promise<void> {
  await run("losetup", ["-d", device]);
}
