/**
 * What `skiff flash` does: finds the boot (FAT) partition of a Raspberry Pi
 * OS image or card, writes the arm64 bundle and the first-boot
 * configuration onto it with mtools (no mounting), turns on the memory
 * cgroup in `cmdline.txt`, and reads every written file back to verify it.
 *
 * @module
 */

import { parseJoinToken } from "@skiff/node-agent";
import { UsageError } from "./_errors.ts";
import type { Io } from "./_io.ts";
import { Progress } from "./_progress.ts";
import { FatVolume } from "./_flash_fat.ts";
import {
  agentEnvFile,
  CGROUP_FLAGS,
  cloudInitMetaData,
  cloudInitNetworkConfig,
  cloudInitUserData,
  type FirstBootConfig,
  FIRSTRUN_MARK,
  firstrunScript,
  setupScript,
  SKIFF_DIR,
  SYSTEMD_RUN_FLAG,
  systemdRunFlags,
  withKernelFlags,
} from "./_flash_firstboot.ts";
import { type FatPartition, findBootPartition } from "./_flash_partition.ts";
import { checkDevice, checkImage, type MachinePaths } from "./_flash_target.ts";
import { CLI_VERSION } from "./_version.ts";

/** How the first boot is configured. */
export type FirstBootMode = "cloud-init" | "firstrun";

/** Options of {@linkcode runFlash}, as the flags give them. */
export interface FlashOptions {
  /** `--image`: a Raspberry Pi OS image file. */
  image?: string;
  /** `--device`: a card's whole disk, e.g. `/dev/sdb`. */
  device?: string;
  /** `--server`. */
  server?: string;
  /** `--token`: a join token. */
  token?: string;
  /** `--hostname`. */
  hostname?: string;
  /** `--ssh-key`: a file of SSH public keys. */
  sshKey?: string;
  /** `--wifi`: the network's name. */
  wifi?: string;
  /** `--wifi-password`. */
  wifiPassword?: string;
  /** `--wifi-country`. */
  wifiCountry?: string;
  /** `--bundle`: the arm64 bundle (default `dist/skiff-<version>-linux-arm64.tar.gz`). */
  bundle?: string;
  /** `--first-boot`: `auto` (default) picks from what the boot partition holds. */
  firstBoot?: "auto" | FirstBootMode;
  /** Where the mount table and sysfs are read (tests describe other machines). */
  machine?: MachinePaths;
  /** The instance id given to cloud-init (default: from the hostname and the time). */
  instanceId?: string;
}

/** What {@linkcode runFlash} wrote. */
export interface FlashResult {
  /** The boot partition written to. */
  partition: FatPartition;
  /** The first-boot convention used. */
  mode: FirstBootMode;
  /** Every file written, as paths on the boot partition (`/cmdline.txt`). */
  files: string[];
}

/** A hostname that is also a valid node name: one DNS label. */
const HOSTNAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const SSH_KEY =
  /^(ssh-(ed25519|rsa|dss)|ecdsa-sha2-nistp(256|384|521)|sk-(ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com) [A-Za-z0-9+/=]+( .*)?$/;
const COUNTRY = /^[A-Z]{2}$/;

function required(value: string | undefined, flag: string, example: string): string {
  if (value === undefined || value.trim() === "") throw new UsageError(`Missing ${flag}: ${example}`);
  return value.trim();
}

async function readSshKeys(file: string): Promise<string[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (error) {
    throw new UsageError(`Cannot read --ssh-key "${file}": ${error instanceof Error ? error.message : error}`);
  }
  const keys = text.split("\n").map((line) => line.trim()).filter((line) => line !== "" && !line.startsWith("#"));
  if (keys.length === 0) throw new UsageError(`Invalid --ssh-key "${file}": it holds no key`);
  for (const key of keys) {
    if (!SSH_KEY.test(key)) {
      throw new UsageError(
        `Invalid --ssh-key "${file}": "${
          key.slice(0, 30)
        }…" is not an SSH public key; pass the .pub file (e.g. ~/.ssh/id_ed25519.pub), never the private key`,
      );
    }
  }
  return keys;
}

/** Checks the flags and reads the SSH keys: everything but the target and the bundle. */
async function firstBootConfig(options: FlashOptions, bundleFile: string): Promise<FirstBootConfig> {
  const server = required(options.server, "--server", "the API server URL, e.g. --server https://192.168.1.10:6443");
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    throw new UsageError(`Invalid --server "${server}": expected a URL such as https://192.168.1.10:6443`);
  }
  if (url.protocol !== "https:" || url.pathname !== "/" || url.search !== "" || /[\s"'\\]/.test(server)) {
    throw new UsageError(`Invalid --server "${server}": expected https://HOST:PORT, e.g. https://192.168.1.10:6443`);
  }
  const token = required(options.token, "--token", "a join token from `skiff token create` (K10…::<id>.<secret>)");
  try {
    parseJoinToken(token);
  } catch (error) {
    throw new UsageError(`Invalid --token: ${error instanceof Error ? error.message : error}`);
  }
  const hostname = required(options.hostname, "--hostname", "the Pi's name, which becomes its node name, e.g. pi-1");
  if (!HOSTNAME.test(hostname)) {
    throw new UsageError(
      `Invalid --hostname "${hostname}": expected lower-case letters, digits and inner dashes, at most 63 characters, e.g. pi-1`,
    );
  }
  if ((options.wifi === undefined) !== (options.wifiPassword === undefined)) {
    throw new UsageError("--wifi and --wifi-password go together: pass both, or neither for Ethernet");
  }
  if (options.wifiCountry !== undefined && options.wifi === undefined) {
    throw new UsageError("--wifi-country needs --wifi and --wifi-password");
  }
  let wifi: FirstBootConfig["wifi"];
  if (options.wifi !== undefined && options.wifiPassword !== undefined) {
    if (options.wifi === "" || new TextEncoder().encode(options.wifi).length > 32) {
      throw new UsageError(`Invalid --wifi "${options.wifi}": a network name has 1 to 32 bytes`);
    }
    if (options.wifiPassword.length < 8 || options.wifiPassword.length > 63) {
      throw new UsageError("Invalid --wifi-password: a WPA passphrase has 8 to 63 characters");
    }
    const country = options.wifiCountry?.toUpperCase();
    if (country !== undefined && !COUNTRY.test(country)) {
      throw new UsageError(
        `Invalid --wifi-country "${options.wifiCountry}": expected a two-letter country code, e.g. GB`,
      );
    }
    wifi = { ssid: options.wifi, password: options.wifiPassword, ...(country !== undefined ? { country } : {}) };
  }
  const sshKeys = options.sshKey !== undefined ? await readSshKeys(options.sshKey) : [];
  return { server: server.replace(/\/$/, ""), token, hostname, sshKeys, ...(wifi ? { wifi } : {}), bundleFile };
}

/** Checks that `path` is an arm64 Skiff bundle; returns its bytes. */
async function readBundle(path: string): Promise<Uint8Array> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new UsageError(
        `No arm64 bundle at "${path}": build it with \`deno task bundle\` in the Skiff repository, or pass --bundle FILE`,
      );
    }
    throw new UsageError(`Cannot read --bundle "${path}": ${error instanceof Error ? error.message : error}`);
  }
  const listing = await new Deno.Command("tar", { args: ["-tzf", path], stdout: "piped", stderr: "piped" }).output();
  const names = new TextDecoder().decode(listing.stdout).split("\n");
  const top = names[0]?.split("/")[0] ?? "";
  if (!listing.success || !/^skiff-[^/]+-linux-arm64$/.test(top) || !names.includes(`${top}/install.sh`)) {
    throw new UsageError(
      `Invalid --bundle "${path}": it is not a Skiff linux-arm64 bundle (skiff-<version>-linux-arm64.tar.gz from \`deno task bundle\`)`,
    );
  }
  return bytes;
}

/** Picks the first-boot convention from what the boot partition holds. */
async function detectMode(fat: FatVolume): Promise<FirstBootMode> {
  for (const file of ["/user-data", "/meta-data", "/network-config"]) {
    if (await fat.exists(file)) return "cloud-init";
  }
  return "firstrun";
}

/** Where the boot partition is mounted on the image's system: `/boot/firmware` from Bookworm on. */
function bootDirOf(cmdline: string, configTxt: string | undefined): string {
  const run = /(?:^|\s)systemd\.run=(\S+)\/firstrun\.sh/.exec(cmdline);
  if (run) return run[1]!;
  if (cmdline.includes("raspberrypi-sys-mods") || (configTxt ?? "").includes("/boot/firmware")) return "/boot/firmware";
  return "/boot";
}

function sizeText(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`;
  return bytes < 1e6 ? `${(bytes / 1e3).toFixed(1)} kB` : `${(bytes / 1e6).toFixed(1)} MB`;
}

/**
 * Writes Skiff onto the boot partition of `--image` or `--device`, prints
 * progress to `io`, and verifies every written file by reading it back.
 *
 * @throws {UsageError} for missing or invalid flags and refused targets.
 * @throws {Error} when the target has no FAT partition, too little room, or a file reads back different.
 */
export async function runFlash(io: Io, options: FlashOptions): Promise<FlashResult> {
  if ((options.image === undefined) === (options.device === undefined)) {
    throw new UsageError(
      "Pass exactly one of --image FILE (a Raspberry Pi OS .img) or --device /dev/sdX (a card)",
    );
  }
  const bundlePath = options.bundle ?? `dist/skiff-${CLI_VERSION}-linux-arm64.tar.gz`;
  const bundleFile = bundlePath.split("/").at(-1)!;
  const config = await firstBootConfig(options, bundleFile);
  const target = options.image !== undefined
    ? (await checkImage(options.image), options.image)
    : await checkDevice(options.device!, options.machine);

  const say = (line: string) => io.stderr.write(`${line}\n`);
  const progress = new Progress(io);
  const partition = await findBootPartition(target);
  say(
    `Boot partition: ${partition.table.toUpperCase()} partition ${partition.index} of "${target}", ${
      sizeText(partition.size)
    } at offset ${partition.offset}`,
  );
  const bundle = await readBundle(bundlePath);
  const fat = new FatVolume(target, partition.offset);
  const cmdline = await fat.readText("/cmdline.txt");
  if (cmdline === undefined) {
    throw new Error(
      `No cmdline.txt on the boot partition of "${target}": is it a Raspberry Pi OS image? Write one onto the card first`,
    );
  }
  const configTxt = await fat.readText("/config.txt");
  const mode = options.firstBoot === undefined || options.firstBoot === "auto"
    ? await detectMode(fat)
    : options.firstBoot;
  say(`First boot: ${mode === "cloud-init" ? "cloud-init (user-data, network-config)" : "firstrun.sh (systemd.run)"}`);

  const bundleTarget = `/${SKIFF_DIR}/${bundleFile}`;
  const previous = await fat.exists(bundleTarget) ? (await fat.read(bundleTarget)).length : 0;
  const free = await fat.freeBytes() + previous;
  const needed = bundle.length + 256 * 1024;
  if (free < needed) {
    throw new Error(
      `Not enough room on the boot partition of "${target}": ${sizeText(free)} free, ${
        sizeText(needed)
      } needed; delete files from it or use a newer Raspberry Pi OS image (512 MB boot partition)`,
    );
  }

  const encoder = new TextEncoder();
  const files: [string, Uint8Array][] = [
    [bundleTarget, bundle],
    [`/${SKIFF_DIR}/agent.env`, encoder.encode(agentEnvFile(config))],
    [`/${SKIFF_DIR}/setup.sh`, encoder.encode(setupScript(config))],
  ];
  const flags = [...CGROUP_FLAGS];
  const drops: string[] = [];
  if (config.wifi?.country) {
    flags.push(`cfg80211.ieee80211_regdom=${config.wifi.country}`);
    drops.push("^cfg80211\\.ieee80211_regdom=");
  }
  if (mode === "cloud-init") {
    const instanceId = options.instanceId ?? `skiff-${config.hostname}-${io.now().toString(36)}`;
    files.push(
      ["/user-data", encoder.encode(cloudInitUserData(await fat.readText("/user-data"), config))],
      ["/meta-data", encoder.encode(cloudInitMetaData(await fat.readText("/meta-data"), config, instanceId))],
      ["/network-config", encoder.encode(cloudInitNetworkConfig(await fat.readText("/network-config"), config))],
    );
  } else {
    const bootDir = bootDirOf(cmdline, configTxt);
    const existing = await fat.readText("/firstrun.sh");
    const imagerScript = existing !== undefined && !existing.includes(FIRSTRUN_MARK) ? existing : undefined;
    if (imagerScript !== undefined) {
      say("Keeping Raspberry Pi Imager's firstrun.sh: it runs first, as skiff/imager-firstrun.sh");
      files.push([`/${SKIFF_DIR}/imager-firstrun.sh`, encoder.encode(imagerScript)]);
    }
    const chained = imagerScript !== undefined || await fat.exists(`/${SKIFF_DIR}/imager-firstrun.sh`);
    files.push(["/firstrun.sh", encoder.encode(firstrunScript(config, { bootDir, chained }))]);
    flags.push(...systemdRunFlags(`${bootDir}/firstrun.sh`));
    drops.push(SYSTEMD_RUN_FLAG.source);
  }
  const drop = drops.length > 0 ? new RegExp(drops.join("|")) : undefined;
  // cmdline.txt goes last: until it is written, the card boots as it did.
  files.push(["/cmdline.txt", encoder.encode(withKernelFlags(cmdline, flags, drop))]);

  await fat.mkdirs(`/${SKIFF_DIR}`);
  for (const [index, [path, data]] of files.entries()) {
    const step = `[${index + 1}/${files.length}] Writing ${path.slice(1)} (${sizeText(data.length)})`;
    if (!progress.live) say(step);
    await fat.write(path, data, {
      onProgress: (written, total) =>
        progress.update(`${step}: ${total === 0 ? 100 : Math.floor((written / total) * 100)}%`),
    });
  }
  progress.clear();

  say(`Verifying: reading the ${files.length} files back`);
  for (const [path, data] of files) {
    progress.update(`Verifying ${path.slice(1)}`);
    const back = await fat.read(path);
    if (!sameBytes(back, data)) {
      progress.clear();
      throw new Error(
        `Verification failed: ${path} on "${target}" reads back different from what was written (${back.length} of ${data.length} bytes); the card may be failing, try another`,
      );
    }
  }
  progress.clear();
  io.stdout.write(
    `Flashed "${target}": Skiff ${CLI_VERSION} and its first-boot setup (${mode}) for node "${config.hostname}", all ${files.length} files verified.\n` +
      `Put the card in the Pi and power it on: it sets its hostname, installs containerd and the agent, and joins ${config.server};\n` +
      `watch it arrive with \`skiff get nodes -w\`. Its setup log is skiff/setup.log on the boot partition.\n`,
  );
  return { partition, mode, files: files.map(([path]) => path) };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
