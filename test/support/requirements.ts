/**
 * Declares what a test needs from the machine (programs, root). Locally a
 * missing requirement skips the test with a note on stderr; in CI (env
 * `CI=true`) it fails loudly, so a CI run never passes by skipping.
 *
 * @module
 */

/** Debian package that provides each program the tests use. */
const PACKAGES: Readonly<Record<string, string>> = {
  "apt-get": "apt",
  busybox: "busybox-static",
  containerd: "containerd",
  "containerd-shim-runc-v2": "containerd",
  ctr: "containerd",
  "dpkg-deb": "dpkg",
  e2fsck: "e2fsprogs",
  etcd: "etcd-server",
  etcdctl: "etcd-client",
  fdisk: "fdisk",
  findmnt: "util-linux",
  gzip: "gzip",
  ip: "iproute2",
  iptables: "iptables",
  kubectl: "kubernetes-client",
  losetup: "util-linux",
  mcopy: "mtools",
  mdir: "mtools",
  mformat: "mtools",
  "mkfs.ext4": "e2fsprogs",
  "mkfs.fat": "dosfstools",
  "mkfs.vfat": "dosfstools",
  mount: "mount",
  nft: "nftables",
  nsenter: "util-linux",
  "qemu-aarch64-static": "qemu-user-static",
  "qemu-arm-static": "qemu-user-static",
  runc: "runc",
  sfdisk: "fdisk",
  shellcheck: "shellcheck",
  tar: "tar",
  truncate: "coreutils",
  umount: "mount",
  unshare: "util-linux",
};

/** Options for {@linkcode requireTools}. */
export interface RequireToolsOptions {
  /** The tests also need to run as root (default `false`). */
  root?: boolean;
  /**
   * Whether this is a CI run, where a missing requirement throws instead of
   * skipping. Default: env `CI` is `true` or `1`.
   */
  ci?: boolean;
  /** Install hints for programs this module does not know, by name. */
  hints?: Record<string, string>;
}

/**
 * The outcome of {@linkcode requireTools}: spread it into `Deno.test`
 * options, or pass its `ignore` on.
 */
export interface Requirements {
  /** `true` when something is missing and the tests should be skipped. */
  readonly ignore: boolean;
  /** What is missing, each with how to get it; empty when all is there. */
  readonly missing: readonly string[];
}

/**
 * Checks that every program in `names` is on PATH (a name containing `/` is
 * checked as a path) and, with `root: true`, that the process runs as root.
 *
 * Locally, a missing requirement gives `{ ignore: true }` and a note on
 * stderr. With `CI=true` it throws instead, naming each missing requirement
 * and how to install it: CI never skips silently.
 *
 * @example
 * ```ts
 * const needs = requireTools(["containerd", "ctr", "runc"], { root: true });
 * Deno.test({ name: "runtime starts a container", ...needs, fn: async () => {} });
 * ```
 * @throws {Error} in CI when something is missing.
 */
export function requireTools(
  names: readonly string[],
  options: RequireToolsOptions = {},
): Requirements {
  const missing: string[] = [];
  for (const name of names) {
    if (findProgram(name) !== undefined) continue;
    missing.push(`"${name}" (${installHint(name, options.hints)})`);
  }
  if (options.root && Deno.uid() !== 0) {
    missing.push("root privileges (run the tests as root)");
  }
  if (missing.length === 0) return { ignore: false, missing };

  const ci = options.ci ?? /^(true|1)$/i.test(Deno.env.get("CI") ?? "");
  if (ci) {
    throw new Error(`Missing test requirements in CI: ${missing.join(", ")}`);
  }
  console.error(`Skipping tests that need ${missing.join(", ")}`);
  return { ignore: true, missing };
}

/**
 * Returns the absolute path of `name` found on PATH (or `name` itself when it
 * contains `/`) if it is an executable file, else `undefined`.
 */
export function findProgram(name: string): string | undefined {
  if (name.includes("/")) return isExecutable(name) ? name : undefined;
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    if (dir === "") continue;
    const candidate = `${dir}/${name}`;
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

function isExecutable(path: string): boolean {
  try {
    const info = Deno.statSync(path);
    return info.isFile && ((info.mode ?? 0) & 0o111) !== 0;
  } catch {
    return false;
  }
}

function installHint(
  name: string,
  hints: Record<string, string> | undefined,
): string {
  const hint = hints?.[name];
  if (hint !== undefined) return hint;
  if (name.startsWith("/usr/lib/cni/")) {
    return "install: apt-get install -y containernetworking-plugins";
  }
  const pkg = PACKAGES[name];
  return pkg === undefined ? "not found on PATH" : `install: apt-get install -y ${pkg}`;
}
