/**
 * What the hardware fingerprinters measure, one reading per area, and the
 * {@linkcode Fingerprinter} seam that {@linkcode HardwareMonitor} composes.
 *
 * Every reading carries `sampledAt` (ms since the epoch, from the injected
 * clock). Sizes are bytes, temperatures degrees Celsius.
 *
 * @module
 */

/** The hardware areas, each measured by its own fingerprinter with its own period. */
export type HardwareArea = "cpu" | "memory" | "thermal" | "disks" | "network" | "board" | "devices" | "pids";

/** Every area, in the order {@linkcode HardwareMonitor} reads them. */
export const HARDWARE_AREAS: readonly HardwareArea[] = [
  "cpu",
  "memory",
  "thermal",
  "disks",
  "network",
  "board",
  "devices",
  "pids",
];

/**
 * Where the host's pseudo file systems are. Tests point these at fixture
 * trees; the agent uses {@linkcode HOST_ROOTS}.
 */
export interface HostRoots {
  /** procfs, normally `/proc`. */
  proc: string;
  /** sysfs, normally `/sys`. */
  sys: string;
  /** Device nodes, normally `/dev`. */
  dev: string;
  /** Host configuration, normally `/etc`. */
  etc: string;
}

/** The real host's roots. */
export const HOST_ROOTS: Readonly<HostRoots> = Object.freeze({ proc: "/proc", sys: "/sys", dev: "/dev", etc: "/etc" });

/** `roots` with the real host's path for every root not given. */
export function resolveRoots(roots: Partial<HostRoots> = {}): HostRoots {
  return { ...HOST_ROOTS, ...roots };
}

/** CPU usage over the window between two `/proc/stat` samples. */
export interface CpuUsage {
  /** Busy share of all cores, 0-100. */
  percent: number;
  /** Cores' worth of busy time per second, in nanocores (1 core = 1e9). */
  nanocores: number;
  /** Length of the window, in milliseconds. */
  windowMs: number;
}

/** The processor. */
export interface CpuReading {
  /** `Intel`, `AMD`, `ARM`, `Broadcom`…; empty when unknown. */
  vendor: string;
  /** `Intel(R) N100`, `Cortex-A72`…; empty when unknown. */
  model: string;
  /** Online logical CPUs. */
  cores: number;
  /** Kubernetes architecture name: `amd64`, `arm64`, `arm`. */
  arch: string;
  /** Usage since the previous sample; `null` on the first sample. */
  usage: CpuUsage | null;
  /** When sampled. */
  sampledAt: number;
}

/** Pressure stall information for memory (`/proc/pressure/memory`). */
export interface MemoryPsi {
  /** Share of the last 10 s in which some task stalled on memory, 0-100. */
  someAvg10: number;
  /** Share of the last 10 s in which all tasks stalled on memory, 0-100. */
  fullAvg10: number;
}

/** Main memory, from `/proc/meminfo`. */
export interface MemoryReading {
  /** `MemTotal`. */
  totalBytes: number;
  /** `MemAvailable`: what can be allocated without swapping. */
  availableBytes: number;
  /** `MemTotal - MemAvailable`. */
  workingSetBytes: number;
  /** `SwapTotal`. */
  swapTotalBytes: number;
  /** `SwapFree`. */
  swapFreeBytes: number;
  /** Pressure stall information; `null` when the kernel has none. */
  psi: MemoryPsi | null;
  /** When sampled. */
  sampledAt: number;
}

/** One `/sys/class/thermal/thermal_zone*`. */
export interface ThermalZone {
  /** Directory name, e.g. `thermal_zone0`. */
  zone: string;
  /** Its `type`, e.g. `cpu-thermal`, `x86_pkg_temp`. */
  type: string;
  /** Its temperature. */
  celsius: number;
}

/**
 * The bits of `vcgencmd get_throttled`: what is true now, and what has
 * happened since boot.
 */
export interface Throttling {
  /** The raw bit field. */
  raw: number;
  /** Bit 0: under-voltage now. */
  underVoltage: boolean;
  /** Bit 1: ARM frequency capped now. */
  armFrequencyCapped: boolean;
  /** Bit 2: throttled now. */
  throttled: boolean;
  /** Bit 3: soft temperature limit active now. */
  softTemperatureLimit: boolean;
  /** Bit 16: under-voltage has occurred since boot. */
  underVoltageOccurred: boolean;
  /** Bit 17: ARM frequency capping has occurred since boot. */
  armFrequencyCappedOccurred: boolean;
  /** Bit 18: throttling has occurred since boot. */
  throttledOccurred: boolean;
  /** Bit 19: the soft temperature limit has occurred since boot. */
  softTemperatureLimitOccurred: boolean;
}

/** Temperature and throttling. */
export interface ThermalReading {
  /** The hottest zone; `null` without any readable zone. */
  celsius: number | null;
  /** Every readable zone. */
  zones: ThermalZone[];
  /** From `vcgencmd get_throttled`; `null` when it is absent or failed. */
  throttling: Throttling | null;
  /** Why `vcgencmd` failed, when it exists but did not answer. */
  throttlingError: string | null;
  /** When sampled. */
  sampledAt: number;
}

/** A whole block device under `/sys/block`. */
export interface BlockDevice {
  /** Kernel name, e.g. `mmcblk0`, `nvme0n1`, `sda`. */
  name: string;
  /** `queue/rotational` is 1. */
  rotational: boolean;
}

/** The file system holding the agent's data directory. */
export interface DiskReading {
  /** The data directory measured. */
  path: string;
  /** Mount point of its file system; `null` when not found in mountinfo. */
  mountPoint: string | null;
  /** Mount source, e.g. `/dev/mmcblk0p2`, `/dev/root`. */
  source: string | null;
  /** File system type, e.g. `ext4`. */
  fsType: string | null;
  /** The whole disk under it, e.g. `mmcblk0`; `null` when unresolved (tmpfs, btrfs, zfs…). */
  disk: string | null;
  /** Whether that disk is non-rotational (SSD, SD card, NVMe); `null` when unresolved. */
  nonRotational: boolean | null;
  /** Size of the file system. */
  capacityBytes: number;
  /** Space unprivileged users may still use. */
  availableBytes: number;
  /** Space in use. */
  usedBytes: number;
  /** Inodes of the file system (0 when it does not count them). */
  inodes: number;
  /** Free inodes. */
  inodesFree: number;
  /** Whole disks of the machine, except loop, ram and zram devices. */
  blockDevices: BlockDevice[];
  /** When sampled. */
  sampledAt: number;
}

/** An interface as systeminformation reports it. */
export interface NetworkInterfaceInfo {
  /** Kernel name, e.g. `eth0`. */
  name: string;
  /** MAC address, lower case; empty when it has none. */
  mac: string;
  /** First IPv4 address; empty when none. */
  ipv4: string;
  /** First IPv6 address; empty when none. */
  ipv6: string;
  /** `wired`, `wireless` or `virtual`. */
  type: string;
  /** The interface of the default route. */
  isDefault: boolean;
  /** Loopback. */
  internal: boolean;
  /** `up`, `down`, `unknown`. */
  operstate: string;
  /** Link speed in Mbit/s; `null` when unknown. */
  speedMbps: number | null;
}

/** Byte counters of one interface, from `/proc/net/dev`. */
export interface InterfaceCounters {
  /** Kernel name. */
  name: string;
  /** Bytes received since boot. */
  rxBytes: number;
  /** Bytes sent since boot. */
  txBytes: number;
  /** Backed by a device (`/sys/class/net/<name>/device` exists), not a bridge or veth. */
  physical: boolean;
}

/** Network interfaces and traffic. */
export interface NetworkReading {
  /** Interfaces (slow to list: refreshed rarely). */
  interfaces: NetworkInterfaceInfo[];
  /** When `interfaces` was listed; 0 when never. */
  interfacesAt: number;
  /** Why the last listing failed, when it did. */
  interfacesError: string | null;
  /** Counters of every interface. */
  counters: InterfaceCounters[];
  /** Received bytes per second over physical interfaces; `null` on the first sample. */
  rxBytesPerSecond: number | null;
  /** Sent bytes per second over physical interfaces; `null` on the first sample. */
  txBytesPerSecond: number | null;
  /** When sampled. */
  sampledAt: number;
}

/** Fields of `/etc/os-release`. */
export interface OsRelease {
  /** `ID`, e.g. `debian`. */
  id: string;
  /** `VERSION_ID`, e.g. `12`; empty on rolling releases. */
  versionId: string;
  /** `PRETTY_NAME`, e.g. `Debian GNU/Linux 12 (bookworm)`. */
  prettyName: string;
}

/** The machine and its system software. */
export interface BoardReading {
  /** Board model, e.g. `Raspberry Pi 4 Model B Rev 1.4`; `null` when unknown. */
  model: string | null;
  /** Operating system, `linux`. */
  operatingSystem: string;
  /** The distribution. */
  osRelease: OsRelease;
  /** `uname -r`. */
  kernelVersion: string;
  /** `/etc/machine-id`; empty when absent. */
  machineId: string;
  /** `/proc/sys/kernel/random/boot_id`; changes on reboot. */
  bootId: string;
  /** `/sys/class/dmi/id/product_uuid`; empty when absent (Raspberry Pi). */
  systemUuid: string;
  /** When sampled. */
  sampledAt: number;
}

/** Kinds of host device offered to pods as `devices.skiff.dev/<kind>`. */
export type DeviceKind = "serial" | "camera" | "gpio" | "i2c" | "spi";

/** Every device kind. */
export const DEVICE_KINDS: readonly DeviceKind[] = ["serial", "camera", "gpio", "i2c", "spi"];

/** Host devices present. */
export interface DeviceReading {
  /** Device paths of each kind, e.g. `{ serial: ["/dev/ttyUSB0"], … }`. */
  paths: Record<DeviceKind, string[]>;
  /** When sampled. */
  sampledAt: number;
}

/** Process ids. */
export interface PidReading {
  /** Most tasks the kernel allows: min of `pid_max` and `threads-max`. */
  limit: number;
  /** Tasks (threads) now, from `/proc/loadavg`. */
  running: number;
  /** `limit - running`. */
  available: number;
  /** When sampled. */
  sampledAt: number;
}

/** One reading per area. */
export interface HardwareReadings {
  /** The processor. */
  cpu: CpuReading;
  /** Main memory. */
  memory: MemoryReading;
  /** Temperature and throttling. */
  thermal: ThermalReading;
  /** The data directory's file system. */
  disks: DiskReading;
  /** Interfaces and traffic. */
  network: NetworkReading;
  /** Machine and system software. */
  board: BoardReading;
  /** Host devices. */
  devices: DeviceReading;
  /** Process ids. */
  pids: PidReading;
}

/** Options of one {@linkcode Fingerprinter.read}. */
export interface ReadOptions {
  /** Also refresh what is otherwise cached for being slow (CPU identity, interface list). */
  full?: boolean;
}

/** Measures one area. */
export interface Fingerprinter<A extends HardwareArea> {
  /** The area it measures. */
  readonly area: A;
  /** How often {@linkcode HardwareMonitor} reads it, in milliseconds. */
  readonly periodMs: number;
  /** Takes a reading; rejects with an error naming what could not be read. */
  read(options?: ReadOptions): Promise<HardwareReadings[A]>;
}

/** A fingerprinter of any area. */
export type AnyFingerprinter = { [A in HardwareArea]: Fingerprinter<A> }[HardwareArea];
