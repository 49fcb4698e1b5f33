/**
 * What `skiff flash` puts on a Raspberry Pi's boot partition so that the Pi
 * joins the cluster on its first boot, for both conventions Raspberry Pi
 * OS knows:
 *
 * - cloud-init (images that ship `user-data`, `meta-data` or
 *   `network-config` on the boot partition): `user-data` sets the hostname
 *   and SSH keys, installs the packages and runs the setup script;
 *   `network-config` brings up Ethernet and Wi-Fi.
 * - `firstrun.sh` (older images, Raspberry Pi Imager's convention): the
 *   kernel command line runs it once through `systemd.run=`; it sets the
 *   hostname, SSH keys and Wi-Fi, installs a one-shot `skiff-setup` unit
 *   for the next (networked) boot, removes itself from `cmdline.txt` and
 *   reboots.
 *
 * Either way `skiff/setup.sh` does the rest once the network is up: it
 * installs the packages, unpacks the bundle and runs its `install.sh`,
 * which installs the program and the `skiff-agent` unit and starts the
 * agent with the flags in `skiff/agent.env` (moved off the boot partition).
 * Everything here is pure text; the caller writes it.
 *
 * @module
 */

import { parse, stringify } from "yaml";

/** The Debian packages a node agent needs. */
export const AGENT_PACKAGES: readonly string[] = [
  "containerd",
  "runc",
  "containernetworking-plugins",
  "nftables",
  "iproute2",
];

/** Kernel command line flags that turn on the memory cgroup controller on a Pi. */
export const CGROUP_FLAGS: readonly string[] = ["cgroup_memory=1", "cgroup_enable=memory"];

/** The directory on the boot partition that holds Skiff's files. */
export const SKIFF_DIR = "skiff";

/** Wi-Fi to join on first boot. */
export interface WifiConfig {
  /** The network's name. */
  ssid: string;
  /** Its WPA passphrase. */
  password: string;
  /** The ISO 3166 country code that sets the radio's regulatory domain (e.g. `GB`). */
  country?: string;
}

/** Everything the first boot needs to know. */
export interface FirstBootConfig {
  /** API server URL, `https://HOST:6443`. */
  server: string;
  /** Join token, `K10…::<id>.<secret>`. */
  token: string;
  /** The Pi's hostname, which becomes its node name. */
  hostname: string;
  /** SSH public keys to authorize for the first user (may be empty). */
  sshKeys: readonly string[];
  /** Wi-Fi, when the Pi is not on Ethernet. */
  wifi?: WifiConfig;
  /** File name of the arm64 bundle inside {@linkcode SKIFF_DIR}. */
  bundleFile: string;
}

/** What every `firstrun.sh` that `skiff flash` writes says in its header, to tell it from Raspberry Pi Imager's. */
export const FIRSTRUN_MARK = "written by `skiff flash`";

/** Quotes `text` for a POSIX shell: one single-quoted word. */
export function shellQuote(text: string): string {
  return `'${text.replaceAll("'", `'"'"'`)}'`;
}

/**
 * `cmdline` with `add` appended to its first (only meaningful) line, each
 * flag once, after dropping every flag `drop` matches. Idempotent.
 */
export function withKernelFlags(cmdline: string, add: readonly string[], drop?: RegExp): string {
  const [first = "", ...rest] = cmdline.split("\n");
  const flags = first.trim().split(/\s+/).filter((flag) => flag !== "" && !(drop?.test(flag) ?? false));
  for (const flag of add) if (!flags.includes(flag)) flags.push(flag);
  return [flags.join(" "), ...rest].join("\n").replace(/\n*$/, "\n");
}

/** The flags that make systemd run `script` once at boot and reboot after it, as Raspberry Pi Imager writes them. */
export function systemdRunFlags(script: string): string[] {
  return [`systemd.run=${script}`, "systemd.run_success_action=reboot", "systemd.unit=kernel-command-line.target"];
}

/** Matches the kernel flags of {@linkcode systemdRunFlags}, whatever the script. */
export const SYSTEMD_RUN_FLAG: RegExp = /^systemd\.(run|run_success_action|run_failure_action|unit)=/;

/** `skiff/agent.env`: the agent's first-start flags, in systemd `EnvironmentFile` form. */
export function agentEnvFile(config: FirstBootConfig): string {
  return `SKIFF_AGENT_FLAGS=--server ${config.server} --token ${config.token}\n`;
}

/**
 * `skiff/setup.sh`: runs once the network is up (from cloud-init's runcmd,
 * or the `skiff-setup` unit that firstrun.sh installs). It logs to
 * `skiff/setup.log` on the boot partition, readable from any computer.
 */
export function setupScript(config: FirstBootConfig): string {
  const bundleDir = config.bundleFile.replace(/\.tar\.gz$/, "");
  return `#!/bin/sh
# Skiff first-boot setup, written by \`skiff flash\`: installs the packages a
# node needs, installs Skiff from the bundle beside this script and starts
# the agent, which joins the cluster. Its output is in setup.log beside it.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
exec >>"$here/setup.log" 2>&1
echo "skiff setup started at $(date)"

bundle="$here/${config.bundleFile}"
if [ ! -f "$bundle" ]; then
  echo "skiff setup: $bundle is missing: flash the card again with skiff flash"
  exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tar -xzf "$bundle" -C "$work"
set -- --apt
if [ -f "$here/agent.env" ]; then
  set -- "$@" --env-file "$here/agent.env"
fi
sh "$work/${bundleDir}/install.sh" "$@"
rm -f "$bundle"
echo "skiff setup finished at $(date): the agent is running (journalctl -u skiff-agent)"
`;
}

/**
 * `firstrun.sh`: runs once, early in the first boot, without network (the
 * Raspberry Pi Imager convention). `bootDir` is where the boot partition is
 * mounted on that image (`/boot/firmware` from Bookworm on, else `/boot`);
 * with `chained`, Imager's own script, moved to `skiff/imager-firstrun.sh`,
 * runs first.
 */
export function firstrunScript(config: FirstBootConfig, options: { bootDir: string; chained: boolean }): string {
  const q = shellQuote;
  const boot = options.bootDir;
  const lines: string[] = [
    "#!/bin/sh",
    "# shellcheck disable=SC2016 # values from skiff flash are single-quoted literals on purpose",
    `# Skiff first run, ${FIRSTRUN_MARK}: sets the hostname, SSH keys and`,
    "# Wi-Fi, and installs the skiff-setup unit that joins the cluster once the",
    "# network is up. It runs once: it removes itself from cmdline.txt.",
    "set -u",
    "",
    `boot=${q(boot)}`,
    `skiff="$boot/${SKIFF_DIR}"`,
    'exec >>"$skiff/setup.log" 2>&1',
    'echo "skiff firstrun started at $(date)"',
    "imager=/usr/lib/raspberrypi-sys-mods/imager_custom",
    "",
  ];
  if (options.chained) {
    lines.push(
      "# Raspberry Pi Imager's own first-run script, kept from before skiff flash.",
      'if [ -f "$skiff/imager-firstrun.sh" ]; then',
      '  bash "$skiff/imager-firstrun.sh" || echo "imager-firstrun.sh failed with exit code $?"',
      "fi",
      "",
    );
  }
  lines.push(
    `hostname=${q(config.hostname)}`,
    'if [ -x "$imager" ]; then',
    '  "$imager" set_hostname "$hostname"',
    "else",
    '  current=$(tr -d " \\t\\n\\r" </etc/hostname)',
    '  echo "$hostname" >/etc/hostname',
    '  sed -i "s/127.0.1.1.*$current/127.0.1.1\\t$hostname/g" /etc/hosts',
    "fi",
    "",
  );
  if (config.sshKeys.length > 0) {
    const keys = config.sshKeys.join("\n");
    lines.push(
      `keys=${q(keys)}`,
      'if [ -x "$imager" ]; then',
      '  "$imager" enable_ssh -k "$keys"',
      "else",
      "  user=$(getent passwd 1000 | cut -d: -f1)",
      "  home=$(getent passwd 1000 | cut -d: -f6)",
      '  if [ -n "$user" ]; then',
      '    install -d -m 0700 -o "$user" -g "$user" "$home/.ssh"',
      '    printf "%s\\n" "$keys" >>"$home/.ssh/authorized_keys"',
      '    chown "$user:$user" "$home/.ssh/authorized_keys"',
      '    chmod 0600 "$home/.ssh/authorized_keys"',
      "  fi",
      "  systemctl enable ssh",
      "fi",
      "",
    );
  }
  if (config.wifi) {
    const country = config.wifi.country ?? "";
    lines.push(
      `ssid=${q(config.wifi.ssid)}`,
      `psk=${q(config.wifi.password)}`,
      `country=${q(country)}`,
      'if [ -x "$imager" ]; then',
      '  "$imager" set_wlan "$ssid" "$psk" "$country"',
      "else",
      "  conf=/etc/wpa_supplicant/wpa_supplicant.conf",
      '  install -d -m 0755 "$(dirname "$conf")"',
      "  {",
      '    echo "ctrl_interface=DIR=/var/run/wpa_supplicant GROUP=netdev"',
      '    echo "update_config=1"',
      '    [ -z "$country" ] || echo "country=$country"',
      '    echo "network={"',
      `    printf '\\tssid="%s"\\n\\tpsk="%s"\\n' "$ssid" "$psk"`,
      '    echo "}"',
      '  } >"$conf"',
      '  chmod 0600 "$conf"',
      "  rfkill unblock wifi 2>/dev/null || true",
      "fi",
      "",
    );
  }
  lines.push(
    "# The rest needs the network: a one-shot unit runs setup.sh on the next boot.",
    "cat >/etc/systemd/system/skiff-setup.service <<EOF",
    "[Unit]",
    "Description=Skiff first-boot setup: install packages and the agent, join the cluster",
    "Wants=network-online.target",
    "After=network-online.target",
    "ConditionPathExists=$skiff/setup.sh",
    "",
    "[Service]",
    "Type=oneshot",
    "ExecStart=/bin/sh $skiff/setup.sh",
    "ExecStartPost=/bin/systemctl disable skiff-setup.service",
    "TimeoutStartSec=30min",
    "",
    "[Install]",
    "WantedBy=multi-user.target",
    "EOF",
    "systemctl enable skiff-setup.service",
    "",
    "# Run once: take this script off the kernel command line.",
    `sed -i -e 's| systemd\\.run[_a-z]*=[^ ]*||g' -e 's| systemd\\.unit=kernel-command-line\\.target||g' "$boot/cmdline.txt"`,
    'rm -f "$boot/firstrun.sh"',
    'echo "skiff firstrun finished at $(date): rebooting into skiff-setup"',
    "exit 0",
    "",
  );
  return lines.join("\n");
}

/** Parses a cloud-init YAML file that may be missing, empty or only comments. */
function parseCloudConfig(existing: string | undefined, file: string): Record<string, unknown> {
  if (existing === undefined || existing.trim() === "") return {};
  let value: unknown;
  try {
    value = parse(existing);
  } catch (error) {
    throw new Error(
      `Cannot read the image's ${file}: ${
        error instanceof Error ? error.message : error
      }; fix or delete it on the boot partition, then flash again`,
      { cause: error },
    );
  }
  if (value === null || value === undefined) return {};
  if (typeof value !== "object" || Array.isArray(value)) {
    throw new Error(`Cannot read the image's ${file}: it is not a YAML mapping; fix or delete it, then flash again`);
  }
  return value as Record<string, unknown>;
}

function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/** The runcmd entry that runs setup.sh from wherever the boot partition is mounted. */
const SETUP_RUNCMD = [
  "sh",
  "-c",
  `for boot in /boot/firmware /boot; do if [ -f "$boot/${SKIFF_DIR}/setup.sh" ]; then exec sh "$boot/${SKIFF_DIR}/setup.sh"; fi; done; echo "skiff: setup.sh not found on the boot partition" >&2; exit 1`,
];

/**
 * cloud-init `user-data`: the image's own (Raspberry Pi Imager may have
 * written users and a password there) with Skiff's hostname, SSH keys,
 * packages and setup command merged in. Flashing twice changes nothing
 * more.
 */
export function cloudInitUserData(existing: string | undefined, config: FirstBootConfig): string {
  const data = parseCloudConfig(existing, "user-data");
  data["hostname"] = config.hostname;
  data["manage_etc_hosts"] = true;
  const keys = list(data["ssh_authorized_keys"]);
  for (const key of config.sshKeys) if (!keys.includes(key)) keys.push(key);
  if (keys.length > 0) data["ssh_authorized_keys"] = keys;
  const packages = list(data["packages"]);
  for (const name of AGENT_PACKAGES) if (!packages.includes(name)) packages.push(name);
  data["packages"] = packages;
  data["package_update"] = true;
  const runcmd = list(data["runcmd"]).filter((entry) => JSON.stringify(entry) !== JSON.stringify(SETUP_RUNCMD));
  if (config.sshKeys.length > 0 && !runcmd.some((entry) => JSON.stringify(entry).includes("enable --now ssh"))) {
    runcmd.push(["systemctl", "enable", "--now", "ssh"]);
  }
  runcmd.push(SETUP_RUNCMD);
  data["runcmd"] = runcmd;
  return `#cloud-config\n# Written by skiff flash: joins this Pi to the cluster at ${config.server} as "${config.hostname}".\n${
    stringify(data, { lineWidth: 0 })
  }`;
}

/**
 * cloud-init `meta-data`: the image's own with a new `instance-id` (so
 * cloud-init runs again on a card that has booted before) and the hostname.
 */
export function cloudInitMetaData(existing: string | undefined, config: FirstBootConfig, instanceId: string): string {
  const data = parseCloudConfig(existing, "meta-data");
  data["instance-id"] = instanceId;
  data["local-hostname"] = config.hostname;
  return stringify(data, { lineWidth: 0 });
}

/**
 * cloud-init `network-config` (version 2): the image's own with Ethernet by
 * DHCP and, when given, the Wi-Fi network.
 */
export function cloudInitNetworkConfig(existing: string | undefined, config: FirstBootConfig): string {
  const data = parseCloudConfig(existing, "network-config");
  const network = (typeof data["network"] === "object" && data["network"] !== null ? data["network"] : data) as Record<
    string,
    unknown
  >;
  network["version"] = 2;
  const ethernets = (network["ethernets"] ?? {}) as Record<string, unknown>;
  ethernets["eth0"] ??= { dhcp4: true, optional: true };
  network["ethernets"] = ethernets;
  if (config.wifi) {
    const wifis = (network["wifis"] ?? {}) as Record<string, Record<string, unknown>>;
    const wlan0 = wifis["wlan0"] ?? { dhcp4: true, optional: true };
    wlan0["access-points"] = { [config.wifi.ssid]: { password: config.wifi.password } };
    if (config.wifi.country) wlan0["regulatory-domain"] = config.wifi.country;
    wifis["wlan0"] = wlan0;
    network["wifis"] = wifis;
  }
  const document = data["network"] === network ? data : { network };
  return `# Written by skiff flash.\n${stringify(document, { lineWidth: 0 })}`;
}
