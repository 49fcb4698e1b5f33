/**
 * Reads and writes files on a FAT file system inside an image or a disk,
 * without mounting it, through mtools (`mcopy`, `mmd`, `mdir`, `mdel`):
 * the file system is addressed as `TARGET@@OFFSET`.
 *
 * @module
 */

/** Debian's package for the mtools programs. */
const MTOOLS_HINT = "install mtools (apt-get install -y mtools)";

/** Options of {@linkcode FatVolume.write}. */
export interface FatWriteOptions {
  /** Called as bytes are written: how many so far, of how many. */
  onProgress?: (written: number, total: number) => void;
}

/** A FAT file system at a byte offset of an image file or a disk. */
export class FatVolume {
  readonly #drive: string;

  /** The FAT file system starting `offset` bytes into `target` (an image file or a block device). */
  constructor(target: string, offset: number) {
    this.#drive = `${target}@@${offset}`;
  }

  async #run(
    program: string,
    args: readonly string[],
    stdin?: (writer: WritableStream<Uint8Array>) => Promise<void>,
  ): Promise<Uint8Array> {
    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command(program, {
        args: ["-i", this.#drive, ...args],
        env: { MTOOLS_SKIP_CHECK: "1" },
        stdin: stdin ? "piped" : "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) {
        throw new Error(`Cannot run "${program}": it is not installed; ${MTOOLS_HINT}`, { cause: error });
      }
      throw error;
    }
    const feeding = stdin ? stdin(child.stdin) : Promise.resolve();
    const [output] = await Promise.all([child.output(), feeding]);
    if (!output.success) {
      const stderr = new TextDecoder().decode(output.stderr).trim().split("\n").at(-1) ?? "";
      throw new Error(
        `${program} ${args.join(" ")} on "${this.#drive}" failed: ${stderr || `exit code ${output.code}`}`,
      );
    }
    return output.stdout;
  }

  /** Whether `path` (e.g. `/cmdline.txt`) exists, as a file or a directory. */
  async exists(path: string): Promise<boolean> {
    const slash = path.lastIndexOf("/");
    const dir = path.slice(0, slash) || "/";
    const name = path.slice(slash + 1).toLowerCase();
    if (dir !== "/" && !(await this.exists(dir))) return false;
    const listing = new TextDecoder().decode(await this.#run("mdir", ["-b", `::${dir}`]));
    return listing.split("\n").some((line) => line.replace(/\/$/, "").split("/").at(-1)?.toLowerCase() === name);
  }

  /** The bytes of the file at `path`. */
  async read(path: string): Promise<Uint8Array> {
    return await this.#run("mcopy", ["-n", `::${path}`, "-"]);
  }

  /** The text of the file at `path`, or `undefined` when there is none. */
  async readText(path: string): Promise<string | undefined> {
    if (!(await this.exists(path))) return undefined;
    return new TextDecoder().decode(await this.read(path));
  }

  /** Creates the directory `path` and its parents when missing. */
  async mkdirs(path: string): Promise<void> {
    let current = "";
    for (const part of path.split("/").filter((p) => p !== "")) {
      current += `/${part}`;
      if (!(await this.exists(current))) await this.#run("mmd", [`::${current}`]);
    }
  }

  /** Deletes the file at `path` when it exists. */
  async remove(path: string): Promise<void> {
    if (await this.exists(path)) await this.#run("mdel", [`::${path}`]);
  }

  /**
   * Writes `data` to `path`, replacing what is there, streaming it to
   * mcopy's standard input in chunks so that progress can be shown.
   */
  async write(path: string, data: Uint8Array, options: FatWriteOptions = {}): Promise<void> {
    const chunk = 1 << 20;
    await this.#run("mcopy", ["-o", "-", `::${path}`], async (stream) => {
      const writer = stream.getWriter();
      try {
        for (let at = 0; at < data.length; at += chunk) {
          await writer.write(data.subarray(at, Math.min(at + chunk, data.length)));
          options.onProgress?.(Math.min(at + chunk, data.length), data.length);
        }
        if (data.length === 0) options.onProgress?.(0, 0);
      } finally {
        await writer.close().catch(() => {});
      }
    });
  }

  /** Free space of the file system, in bytes. */
  async freeBytes(): Promise<number> {
    const listing = new TextDecoder().decode(await this.#run("mdir", ["::/"]));
    const match = /([\d ]+) bytes free/.exec(listing);
    if (!match) throw new Error(`Cannot tell the free space of "${this.#drive}": mdir printed no "bytes free" line`);
    return Number(match[1]!.replaceAll(" ", ""));
  }
}
