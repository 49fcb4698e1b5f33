/**
 * `deno task bundle`: builds `dist/skiff-<version>-linux-amd64.tar.gz` and
 * `dist/skiff-<version>-linux-arm64.tar.gz`. Each holds
 *
 * ```text
 * skiff-<version>-linux-<arch>/
 *   bin/skiff              launcher: runs lib/skiff/skiff.js on lib/skiff/deno
 *   lib/skiff/skiff.js     `deno bundle` of cli/main.ts (every subcommand)
 *   lib/skiff/deno         deno for that architecture, from npm
 *   lib/skiff/ARCH         amd64 or arm64
 *   lib/skiff/VERSION      Skiff's version
 *   skiff-agent.service    systemd unit of the node agent
 *   install.sh             installs all of it and starts the agent
 * ```
 *
 * The deno binaries come from the npm packages `@deno/linux-x64-glibc` and
 * `@deno/linux-arm64-glibc` ({@linkcode DENO_VERSION}), fetched once with
 * `npm pack` into `.cache/deno-npm/` and checked against pinned integrity
 * hashes (`deno compile` would download its runtime from elsewhere).
 *
 * ```sh
 * deno task bundle [--arch amd64|arm64]... [--out DIR] [--cache DIR]
 * ```
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import cliMeta from "../cli/deno.json" with { type: "json" };

/** The Linux architectures a bundle is built for, by Debian's names. */
export type BundleArch = "amd64" | "arm64";

/** Every architecture, in build order. */
export const BUNDLE_ARCHS: readonly BundleArch[] = ["amd64", "arm64"];

/** The deno version every bundle ships: the project's. */
export const DENO_VERSION = "2.9.5";

/** The npm package holding deno for each architecture, with its tarball's integrity at {@linkcode DENO_VERSION}. */
export const DENO_NPM_PACKAGES: Readonly<Record<BundleArch, { name: string; integrity: string }>> = {
  amd64: {
    name: "@deno/linux-x64-glibc",
    integrity: "sha512-TDqcnoLe3jlgqYEQm7H7MK6q0JOth+o8iSZzknRODnVkJfPiNnjVn1M1Zc6vnp+ipkyb6Av1/CUlHgHtlq59Gw==",
  },
  arm64: {
    name: "@deno/linux-arm64-glibc",
    integrity: "sha512-IuYjsz9PGl7CJcNXMuN27KNDB8Q40brK3SG3l+TXMDVW61ZKwcn0fQHBHnXFiiygEwI8by/fKnASEluhZB1atw==",
  },
};

/** The repository's root directory. */
export const REPO_ROOT: string = fileURLToPath(new URL("..", import.meta.url));

/** Where deno's npm tarballs are kept between builds (gitignored). */
export const DENO_CACHE_DIR: string = `${REPO_ROOT}.cache/deno-npm`;

/** Skiff's version, from cli/deno.json. */
export const SKIFF_VERSION: string = cliMeta.version;

/** The name of a bundle (its top directory, and its tarball without `.tar.gz`). */
export function bundleName(version: string, arch: BundleArch): string {
  return `skiff-${version}-linux-${arch}`;
}

/** Options of {@linkcode buildBundles}. */
export interface BuildBundlesOptions {
  /** The architectures to build (default: {@linkcode BUNDLE_ARCHS}). */
  archs?: readonly BundleArch[];
  /** Where the tarballs go (default: `<repo>/dist`). */
  outDir?: string;
  /** Where the deno npm tarballs are kept between builds (default: `<repo>/.cache/deno-npm`). */
  cacheDir?: string;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
}

/** One built bundle. */
export interface BuiltBundle {
  /** Its architecture. */
  arch: BundleArch;
  /** The tarball's absolute path. */
  path: string;
  /** Its size in bytes. */
  size: number;
}

/** Runs a program; throws with its stderr when it fails. */
async function run(program: string, args: readonly string[], options: { cwd?: string } = {}): Promise<string> {
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command(program, {
      args: [...args],
      ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (error) {
    throw new Error(`Cannot run "${program}": ${error instanceof Error ? error.message : error}`, { cause: error });
  }
  if (!output.success) {
    const stderr = new TextDecoder().decode(output.stderr).trim();
    throw new Error(`"${program} ${args.join(" ")}" failed with exit code ${output.code}: ${stderr}`);
  }
  return new TextDecoder().decode(output.stdout);
}

async function integrityOf(path: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-512", await Deno.readFile(path)));
  return `sha512-${btoa(String.fromCharCode(...digest))}`;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/**
 * Returns the path of the npm tarball holding deno for `arch`, fetching it
 * with `npm pack` into `cacheDir` when it is not there (or does not match
 * its pinned integrity).
 *
 * @throws {Error} when npm cannot fetch it (no network) or it does not match its integrity.
 */
export async function denoTarball(arch: BundleArch, cacheDir: string): Promise<string> {
  const pkg = DENO_NPM_PACKAGES[arch];
  const file = `${cacheDir}/${pkg.name.replace(/^@/, "").replace("/", "-")}-${DENO_VERSION}.tgz`;
  if (await exists(file) && await integrityOf(file) === pkg.integrity) return file;
  await Deno.mkdir(cacheDir, { recursive: true });
  try {
    await run("npm", ["pack", `${pkg.name}@${DENO_VERSION}`, "--pack-destination", cacheDir, "--silent"]);
  } catch (error) {
    throw new Error(
      `Cannot fetch deno for linux-${arch} from npm (${pkg.name}@${DENO_VERSION}): ${
        error instanceof Error ? error.message : error
      }; check that the npm registry is reachable`,
      { cause: error },
    );
  }
  const got = await integrityOf(file);
  if (got !== pkg.integrity) {
    await Deno.remove(file);
    throw new Error(
      `The npm tarball of ${pkg.name}@${DENO_VERSION} has integrity "${got}", expected "${pkg.integrity}"`,
    );
  }
  return file;
}

/** Writes a gzip-compressed tar of `dir` (relative to `parent`), reproducible: sorted names, root owner, fixed times. */
async function writeTarball(parent: string, dir: string, out: string): Promise<void> {
  const tar = new Deno.Command("tar", {
    args: [
      "--sort=name",
      "--owner=0",
      "--group=0",
      "--numeric-owner",
      "--mtime=@0",
      "-C",
      parent,
      "-cf",
      "-",
      dir,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const partial = `${out}.partial`;
  const file = await Deno.open(partial, { write: true, create: true, truncate: true });
  const [, status, stderr] = await Promise.all([
    tar.stdout.pipeThrough(new CompressionStream("gzip")).pipeTo(file.writable),
    tar.status,
    new Response(tar.stderr).text(),
  ]);
  if (!status.success) {
    await Deno.remove(partial);
    throw new Error(`tar failed with exit code ${status.code}: ${stderr.trim()}`);
  }
  await Deno.rename(partial, out);
}

/**
 * Bundles `cli/main.ts` once, then builds one tarball per architecture
 * into `outDir`.
 *
 * @example
 * ```ts
 * const [arm64] = await buildBundles({ archs: ["arm64"] });
 * console.log(arm64.path); // …/dist/skiff-0.1.0-linux-arm64.tar.gz
 * ```
 * @throws {Error} when `deno bundle`, npm or tar fails.
 */
export async function buildBundles(options: BuildBundlesOptions = {}): Promise<BuiltBundle[]> {
  const archs = options.archs ?? BUNDLE_ARCHS;
  const outDir = options.outDir ?? `${REPO_ROOT}dist`;
  const cacheDir = options.cacheDir ?? DENO_CACHE_DIR;
  const log = options.log ?? (() => {});
  await Deno.mkdir(outDir, { recursive: true });
  const stage = await Deno.makeTempDir({ prefix: "skiff-bundle-" });
  try {
    log(`Bundling cli/main.ts with deno ${Deno.version.deno}`);
    const program = `${stage}/skiff.js`;
    await run(Deno.execPath(), ["bundle", "--platform", "deno", "--quiet", "-o", program, "cli/main.ts"], {
      cwd: REPO_ROOT,
    });
    const built: BuiltBundle[] = [];
    for (const arch of archs) {
      const tarball = await denoTarball(arch, cacheDir);
      const name = bundleName(SKIFF_VERSION, arch);
      const root = `${stage}/${name}`;
      await Deno.mkdir(`${root}/bin`, { recursive: true });
      await Deno.mkdir(`${root}/lib/skiff`, { recursive: true });
      log(`Assembling ${name}: deno ${DENO_VERSION} from ${DENO_NPM_PACKAGES[arch].name}`);
      await run("tar", ["-xzf", tarball, "-C", `${root}/lib/skiff`, "--strip-components=1", "package/deno"]);
      await Deno.chmod(`${root}/lib/skiff/deno`, 0o755);
      await Deno.copyFile(program, `${root}/lib/skiff/skiff.js`);
      await Deno.writeTextFile(`${root}/lib/skiff/ARCH`, `${arch}\n`);
      await Deno.writeTextFile(`${root}/lib/skiff/VERSION`, `${SKIFF_VERSION}\n`);
      await Deno.copyFile(`${REPO_ROOT}packaging/skiff-launcher.sh`, `${root}/bin/skiff`);
      await Deno.chmod(`${root}/bin/skiff`, 0o755);
      await Deno.copyFile(`${REPO_ROOT}packaging/skiff-agent.service`, `${root}/skiff-agent.service`);
      await Deno.copyFile(`${REPO_ROOT}packaging/install.sh`, `${root}/install.sh`);
      await Deno.chmod(`${root}/install.sh`, 0o755);
      const path = `${outDir}/${name}.tar.gz`;
      await writeTarball(stage, name, path);
      const { size } = await Deno.stat(path);
      log(`Wrote ${path} (${(size / 1e6).toFixed(1)} MB)`);
      built.push({ arch, path, size });
      await Deno.remove(root, { recursive: true });
    }
    return built;
  } finally {
    await Deno.remove(stage, { recursive: true });
  }
}

/** Parses the command line of `deno task bundle`. */
export function parseBundleArgs(args: readonly string[]): BuildBundlesOptions {
  const { values } = parseArgs({
    args: [...args],
    options: {
      arch: { type: "string", multiple: true },
      out: { type: "string" },
      cache: { type: "string" },
    },
    strict: true,
    allowPositionals: false,
  });
  const archs = values.arch?.map((arch) => {
    if (arch !== "amd64" && arch !== "arm64") {
      throw new TypeError(`Invalid --arch "${arch}": expected amd64 or arm64`);
    }
    return arch as BundleArch;
  });
  return {
    ...(archs !== undefined ? { archs } : {}),
    ...(values.out !== undefined ? { outDir: values.out } : {}),
    ...(values.cache !== undefined ? { cacheDir: values.cache } : {}),
  };
}

if (import.meta.main) {
  try {
    await buildBundles({ ...parseBundleArgs(Deno.args), log: (line) => console.log(line) });
  } catch (error) {
    console.error(`error: ${error instanceof Error ? error.message : error}`);
    Deno.exit(1);
  }
}
