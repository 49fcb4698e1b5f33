/**
 * Builds a container's OCI runtime spec, as the CRI plugin does: containerd's
 * default spec (`ctr oci spec`), the image config (entrypoint, cmd, env,
 * working dir, user) and the {@linkcode ContainerSpec} on top. ctr 1.6's
 * `run` has no flag for the user and group, so the runtime hands ctr the
 * whole spec (`ctr run --config`) instead of flags.
 *
 * Everything here is pure, apart from {@linkcode deviceInfo} and
 * {@linkcode hostDevices}, which read device numbers from /dev.
 *
 * @module
 */

import { join } from "node:path";
import type { ImageConfig } from "./_image_config.ts";
import type { ContainerSpec } from "./runtime.ts";

/** An OCI runtime spec (the parts this module touches are typed). */
export interface OciSpec {
  /** Spec version. */
  ociVersion: string;
  /** The container's process. */
  process?: {
    terminal?: boolean;
    user?: { uid: number; gid: number; additionalGids?: number[] };
    args?: string[];
    env?: string[];
    cwd?: string;
    capabilities?: Record<string, string[]>;
    noNewPrivileges?: boolean;
    [key: string]: unknown;
  };
  /** The root filesystem. */
  root?: { path: string; readonly?: boolean };
  /** The hostname in its UTS namespace. */
  hostname?: string;
  /** Mounts, in order. */
  mounts?: { destination: string; type?: string; source?: string; options?: string[] }[];
  /** Annotations. */
  annotations?: Record<string, string>;
  /** Linux specifics: namespaces, cgroup, resources, devices. */
  linux?: {
    resources?: {
      devices?: { allow: boolean; type?: string; major?: number; minor?: number; access?: string }[];
      memory?: { limit?: number };
      cpu?: { quota?: number; period?: number; shares?: number };
      [key: string]: unknown;
    };
    cgroupsPath?: string;
    namespaces?: { type: string; path?: string }[];
    devices?: OciDevice[];
    maskedPaths?: string[];
    readonlyPaths?: string[];
    [key: string]: unknown;
  };
  /** Anything else the base spec holds. */
  [key: string]: unknown;
}

/** A device node as an OCI spec lists it. */
export interface OciDevice {
  /** Path inside the container. */
  path: string;
  /** `c` or `b`. */
  type: "c" | "b";
  /** Major number. */
  major: number;
  /** Minor number. */
  minor: number;
  /** Permission bits. */
  fileMode: number;
  /** Owner. */
  uid: number;
  /** Group. */
  gid: number;
}

/** Inputs of {@linkcode buildOciSpec} besides the container spec. */
export interface SpecContext {
  /** containerd's default spec (`ctr oci spec`). */
  base: OciSpec;
  /** The image's config. */
  image: ImageConfig;
  /** containerd namespace (the cgroup parent). */
  namespace: string;
  /** The mounted root filesystem. */
  rootfs: string;
  /** The image's /etc/passwd, for user names. */
  passwd?: string;
  /** The image's /etc/group, for group names and supplementary groups. */
  group?: string;
  /** Device nodes for `spec.devices`, in order. */
  devices?: OciDevice[];
  /** The host's devices, given to privileged containers. */
  hostDevices?: OciDevice[];
  /** The container's hostname (the pod name); default: none. */
  hostname?: string;
}

/** PATH when the image sets none, as containerd uses. */
export const DEFAULT_PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** CFS period, in microseconds. */
const CPU_PERIOD = 100_000;
/** The smallest quota Kubernetes sets, in microseconds. */
const MIN_CPU_QUOTA = 1_000;

/** Every Linux capability, for privileged containers. */
const ALL_CAPABILITIES = [
  "CAP_CHOWN",
  "CAP_DAC_OVERRIDE",
  "CAP_DAC_READ_SEARCH",
  "CAP_FOWNER",
  "CAP_FSETID",
  "CAP_KILL",
  "CAP_SETGID",
  "CAP_SETUID",
  "CAP_SETPCAP",
  "CAP_LINUX_IMMUTABLE",
  "CAP_NET_BIND_SERVICE",
  "CAP_NET_BROADCAST",
  "CAP_NET_ADMIN",
  "CAP_NET_RAW",
  "CAP_IPC_LOCK",
  "CAP_IPC_OWNER",
  "CAP_SYS_MODULE",
  "CAP_SYS_RAWIO",
  "CAP_SYS_CHROOT",
  "CAP_SYS_PTRACE",
  "CAP_SYS_PACCT",
  "CAP_SYS_ADMIN",
  "CAP_SYS_BOOT",
  "CAP_SYS_NICE",
  "CAP_SYS_RESOURCE",
  "CAP_SYS_TIME",
  "CAP_SYS_TTY_CONFIG",
  "CAP_MKNOD",
  "CAP_LEASE",
  "CAP_AUDIT_WRITE",
  "CAP_AUDIT_CONTROL",
  "CAP_SETFCAP",
  "CAP_MAC_OVERRIDE",
  "CAP_MAC_ADMIN",
  "CAP_SYSLOG",
  "CAP_WAKE_ALARM",
  "CAP_BLOCK_SUSPEND",
  "CAP_AUDIT_READ",
  "CAP_PERFMON",
  "CAP_BPF",
  "CAP_CHECKPOINT_RESTORE",
];

/** The device rules every container gets (containerd's default unix devices). */
const DEFAULT_DEVICE_RULES = [
  { allow: true, type: "c", major: 1, minor: 3, access: "rwm" }, // /dev/null
  { allow: true, type: "c", major: 1, minor: 8, access: "rwm" }, // /dev/random
  { allow: true, type: "c", major: 1, minor: 7, access: "rwm" }, // /dev/full
  { allow: true, type: "c", major: 5, minor: 0, access: "rwm" }, // /dev/tty
  { allow: true, type: "c", major: 1, minor: 5, access: "rwm" }, // /dev/zero
  { allow: true, type: "c", major: 1, minor: 9, access: "rwm" }, // /dev/urandom
  { allow: true, type: "c", major: 5, minor: 1, access: "rwm" }, // /dev/console
  { allow: true, type: "c", major: 136, access: "rwm" }, // /dev/pts/*
  { allow: true, type: "c", major: 5, minor: 2, access: "rwm" }, // /dev/ptmx
];

/** The process arguments as Kubernetes computes them from the container and the image. */
export function processArgs(spec: Pick<ContainerSpec, "command" | "args">, image: ImageConfig): string[] {
  if (spec.command && spec.command.length > 0) return [...spec.command, ...(spec.args ?? [])];
  return [...image.entrypoint, ...(spec.args && spec.args.length > 0 ? spec.args : image.cmd)];
}

/** The image's environment with the container's on top (same names replaced, new ones appended). */
export function mergeEnv(imageEnv: readonly string[], env: ContainerSpec["env"] = []): string[] {
  const out = [...imageEnv];
  const index = new Map(out.map((entry, i) => [entry.split("=", 1)[0]!, i]));
  for (const { name, value } of env) {
    const at = index.get(name);
    if (at === undefined) {
      index.set(name, out.length);
      out.push(`${name}=${value}`);
    } else {
      out[at] = `${name}=${value}`;
    }
  }
  if (!index.has("PATH")) out.unshift(DEFAULT_PATH_ENV);
  return out;
}

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
}

function parsePasswd(text: string | undefined): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const line of (text ?? "").split("\n")) {
    const [name, , uid, gid] = line.split(":");
    if (!name || uid === undefined || gid === undefined) continue;
    if (!/^\d+$/.test(uid) || !/^\d+$/.test(gid)) continue;
    out.push({ name, uid: Number(uid), gid: Number(gid) });
  }
  return out;
}

function parseGroups(text: string | undefined): { name: string; gid: number; members: string[] }[] {
  const out: { name: string; gid: number; members: string[] }[] = [];
  for (const line of (text ?? "").split("\n")) {
    const [name, , gid, members] = line.split(":");
    if (!name || gid === undefined || !/^\d+$/.test(gid)) continue;
    out.push({ name, gid: Number(gid), members: (members ?? "").split(",").filter(Boolean) });
  }
  return out;
}

/**
 * The user a container runs as: `spec.user`/`spec.group` when set, else the
 * image's `User` (a name or id, optionally `:group`), resolved through the
 * image's /etc/passwd and /etc/group; supplementary groups from /etc/group.
 *
 * @throws {Error} when the image names a user or group its files do not have.
 */
export function resolveUser(
  spec: Pick<ContainerSpec, "user" | "group">,
  imageUser: string,
  files: { passwd?: string; group?: string },
): { uid: number; gid: number; additionalGids: number[] } {
  const users = parsePasswd(files.passwd);
  const groups = parseGroups(files.group);
  let uid: number;
  let gid: number | undefined;
  let name: string | undefined;
  const [userPart = "", groupPart] = imageUser.split(":", 2);
  if (spec.user !== undefined) {
    uid = spec.user;
    const entry = users.find((u) => u.uid === uid);
    name = entry?.name;
    gid = entry?.gid;
  } else if (userPart === "") {
    uid = 0;
    const entry = users.find((u) => u.uid === 0);
    name = entry?.name;
    gid = entry?.gid;
  } else if (/^\d+$/.test(userPart)) {
    uid = Number(userPart);
    const entry = users.find((u) => u.uid === uid);
    name = entry?.name;
    gid = entry?.gid;
  } else {
    const entry = users.find((u) => u.name === userPart);
    if (!entry) throw new Error(`Cannot find user "${userPart}" of the image in its /etc/passwd`);
    uid = entry.uid;
    gid = entry.gid;
    name = entry.name;
  }
  if (spec.group !== undefined) {
    gid = spec.group;
  } else if (groupPart !== undefined && groupPart !== "" && spec.user === undefined) {
    if (/^\d+$/.test(groupPart)) {
      gid = Number(groupPart);
    } else {
      const entry = groups.find((g) => g.name === groupPart);
      if (!entry) throw new Error(`Cannot find group "${groupPart}" of the image in its /etc/group`);
      gid = entry.gid;
    }
  }
  const primary = gid ?? 0;
  const additional = new Set<number>([primary]);
  if (name !== undefined) {
    for (const g of groups) if (g.members.includes(name)) additional.add(g.gid);
  }
  return { uid, gid: primary, additionalGids: [...additional] };
}

/**
 * The OCI spec of a container.
 *
 * @throws {TypeError} when the container has no command (neither it nor its image names one).
 */
export function buildOciSpec(spec: ContainerSpec, context: SpecContext): OciSpec {
  const out = structuredClone(context.base);
  const args = processArgs(spec, context.image);
  if (args.length === 0) {
    throw new TypeError(`Cannot create container "${spec.id}": neither it nor its image names a command`);
  }
  const process = out.process ?? {};
  out.process = process;
  process.args = args;
  process.env = mergeEnv(context.image.env, spec.env);
  process.cwd = spec.workingDir || context.image.workingDir || "/";
  process.terminal = spec.tty === true;
  process.user = resolveUser(spec, context.image.user, context);
  // Kubernetes allows privilege escalation unless told otherwise.
  process.noNewPrivileges = false;

  out.root = { path: context.rootfs, ...(spec.readOnlyRootFilesystem ? { readonly: true } : {}) };

  const linux = out.linux ?? {};
  out.linux = linux;
  linux.cgroupsPath = `/${context.namespace}/${spec.id}`;
  const resources = linux.resources ?? {};
  linux.resources = resources;
  resources.devices = [{ allow: false, access: "rwm" }, ...DEFAULT_DEVICE_RULES];
  if (spec.memoryLimitBytes !== undefined) resources.memory = { ...resources.memory, limit: spec.memoryLimitBytes };
  if (spec.cpuLimitMillicores !== undefined) {
    const quota = Math.max(MIN_CPU_QUOTA, Math.round(spec.cpuLimitMillicores * CPU_PERIOD / 1000));
    resources.cpu = { ...resources.cpu, quota, period: CPU_PERIOD };
  }

  let namespaces = (linux.namespaces ?? []).filter((ns) => ns.type !== "network");
  const mounts = [...(out.mounts ?? [])];
  if (spec.hostNetwork) {
    namespaces = namespaces.filter((ns) => ns.type !== "uts");
    for (const file of ["/etc/hosts", "/etc/resolv.conf"]) {
      mounts.push({ destination: file, type: "bind", source: file, options: ["rbind", "ro"] });
    }
  } else {
    namespaces.push(spec.networkNamespace ? { type: "network", path: spec.networkNamespace } : { type: "network" });
    if (context.hostname) out.hostname = context.hostname;
  }
  linux.namespaces = namespaces;

  for (const mount of spec.mounts ?? []) {
    mounts.push({
      destination: mount.destination,
      type: "bind",
      source: mount.source,
      options: ["rbind", mount.readOnly ? "ro" : "rw"],
    });
  }
  out.mounts = mounts;

  const devices: OciDevice[] = [];
  if (spec.privileged) {
    const caps = [...ALL_CAPABILITIES];
    process.capabilities = { bounding: caps, effective: caps, permitted: caps, inheritable: caps };
    linux.maskedPaths = [];
    linux.readonlyPaths = [];
    resources.devices = [{ allow: true, access: "rwm" }];
    for (const m of mounts) {
      if (m.type === "sysfs" || m.type === "cgroup") m.options = (m.options ?? []).filter((o) => o !== "ro");
    }
    devices.push(...context.hostDevices ?? []);
  }
  for (const device of context.devices ?? []) {
    if (!devices.some((d) => d.path === device.path)) devices.push(device);
    resources.devices.push({
      allow: true,
      type: device.type,
      major: device.major,
      minor: device.minor,
      access: "rwm",
    });
  }
  if (devices.length > 0) linux.devices = devices;
  return out;
}

/** Major and minor numbers of a Linux device number. */
export function splitDeviceNumber(rdev: number): { major: number; minor: number } {
  const dev = BigInt(rdev);
  const major = Number(((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn));
  const minor = Number((dev & 0xffn) | ((dev >> 12n) & ~0xffn));
  return { major, minor };
}

/**
 * The device node at `path` (symlinks followed), as `path` inside the container.
 *
 * @throws {TypeError} when `path` is not a character or block device.
 */
export async function deviceInfo(path: string): Promise<OciDevice> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (cause) {
    throw new TypeError(`Invalid device "${path}": ${(cause as Error).message}`, { cause });
  }
  if (!info.isCharDevice && !info.isBlockDevice) {
    throw new TypeError(`Invalid device "${path}": it is not a character or block device`);
  }
  const { major, minor } = splitDeviceNumber(info.rdev ?? 0);
  return {
    path,
    type: info.isBlockDevice ? "b" : "c",
    major,
    minor,
    fileMode: (info.mode ?? 0o660) & 0o7777,
    uid: info.uid ?? 0,
    gid: info.gid ?? 0,
  };
}

const SKIPPED_DEV_DIRS = new Set(["pts", "shm", "mqueue", "fd", ".lxc", ".lxd-mounts", ".udev"]);

/** Every device node under `root` (default /dev), for privileged containers. */
export async function hostDevices(root = "/dev"): Promise<OciDevice[]> {
  const out: OciDevice[] = [];
  const walk = async (dir: string) => {
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(dir));
    } catch {
      return;
    }
    for (const entry of entries) {
      const path = join(dir, entry.name);
      if (entry.isDirectory) {
        if (!(dir === root && SKIPPED_DEV_DIRS.has(entry.name))) await walk(path);
        continue;
      }
      if (entry.isSymlink) continue;
      try {
        const info = await Deno.lstat(path);
        if (!info.isCharDevice && !info.isBlockDevice) continue;
        const { major, minor } = splitDeviceNumber(info.rdev ?? 0);
        out.push({
          path,
          type: info.isBlockDevice ? "b" : "c",
          major,
          minor,
          fileMode: (info.mode ?? 0o660) & 0o7777,
          uid: info.uid ?? 0,
          gid: info.gid ?? 0,
        });
      } catch {
        // The device disappeared while we looked.
      }
    }
  };
  await walk(root);
  return out;
}
