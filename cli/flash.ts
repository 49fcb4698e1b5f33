/**
 * `skiff flash`: prepares a Raspberry Pi OS image or card, before its first
 * boot, to join the cluster: writes the arm64 bundle and the first-boot
 * configuration onto its boot partition.
 *
 * @module
 */

import { Command, Option } from "commander";
import type { Io } from "./_io.ts";
import { runFlash } from "./flash_run.ts";

/** The `flash` command's flags. */
export function flashCommand(io: Io): Command {
  return new Command("flash")
    .description("write Skiff and its first-boot setup onto a Raspberry Pi OS image or card, so the Pi joins on boot")
    .option("--image <file>", "a Raspberry Pi OS image file (.img, uncompressed)")
    .option("--device <disk>", "a card's whole disk, e.g. /dev/sdb (never mounted, never the system's disk)")
    .option("--server <url>", "the API server the Pi joins, e.g. https://192.168.1.10:6443")
    .option("--token <token>", "a join token from `skiff token create` (K10…::<id>.<secret>)")
    .option("--hostname <name>", "the Pi's hostname, which becomes its node name, e.g. pi-1")
    .option("--ssh-key <file>", "SSH public keys to authorize for the Pi's first user, e.g. ~/.ssh/id_ed25519.pub")
    .option("--wifi <ssid>", "a Wi-Fi network to join (default: Ethernet only)")
    .option("--wifi-password <password>", "the Wi-Fi network's WPA passphrase")
    .option(
      "--wifi-country <code>",
      "the Wi-Fi regulatory country, e.g. GB (Raspberry Pi OS keeps Wi-Fi off without it)",
    )
    .option("--bundle <file>", "the arm64 bundle to write (default: dist/skiff-<version>-linux-arm64.tar.gz)")
    .addOption(
      new Option("--first-boot <kind>", "first-boot convention: cloud-init, firstrun (firstrun.sh) or auto")
        .choices(["auto", "cloud-init", "firstrun"]).default("auto"),
    )
    .addHelpText(
      "after",
      `
The boot partition is found from the partition table and written with
mtools, without mounting; every written file is read back and compared.
cmdline.txt gets cgroup_memory=1 cgroup_enable=memory. On its first boot the
Pi sets its hostname, installs containerd and the other packages it needs,
installs the skiff-agent systemd unit and joins the cluster; its log is
skiff/setup.log on the boot partition.

Example:
  skiff token create
  skiff flash --device /dev/sdb --server https://192.168.1.10:6443 \\
    --token K10…::abcdef.0123456789abcdef --hostname pi-1 --ssh-key ~/.ssh/id_ed25519.pub`,
    )
    .action(async (options) => {
      await runFlash(io, {
        ...(options.image !== undefined ? { image: options.image } : {}),
        ...(options.device !== undefined ? { device: options.device } : {}),
        ...(options.server !== undefined ? { server: options.server } : {}),
        ...(options.token !== undefined ? { token: options.token } : {}),
        ...(options.hostname !== undefined ? { hostname: options.hostname } : {}),
        ...(options.sshKey !== undefined ? { sshKey: options.sshKey } : {}),
        ...(options.wifi !== undefined ? { wifi: options.wifi } : {}),
        ...(options.wifiPassword !== undefined ? { wifiPassword: options.wifiPassword } : {}),
        ...(options.wifiCountry !== undefined ? { wifiCountry: options.wifiCountry } : {}),
        ...(options.bundle !== undefined ? { bundle: options.bundle } : {}),
        firstBoot: options.firstBoot,
      });
    });
}
