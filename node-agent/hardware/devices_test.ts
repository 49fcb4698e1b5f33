import assert from "node:assert/strict";
import { fixtureRoots } from "./_testdata.ts";
import { devicesFingerprinter } from "./devices.ts";

Deno.test("devicesFingerprinter() on a Raspberry Pi 4 finds serial, camera and GPIO but not the video codec", async () => {
  const roots = fixtureRoots("pi4");
  const { paths } = await devicesFingerprinter({ roots }).read();
  assert.deepEqual(paths, {
    serial: [`${roots.dev}/ttyUSB0`],
    camera: [`${roots.dev}/video0`],
    gpio: [`${roots.dev}/gpiochip0`],
    i2c: [],
    spi: [],
  });
});

Deno.test("devicesFingerprinter() on an x86 mini PC finds a USB ACM radio and I2C buses", async () => {
  const roots = fixtureRoots("minipc");
  const { paths } = await devicesFingerprinter({ roots }).read();
  assert.deepEqual(paths.serial, [`${roots.dev}/ttyACM0`]);
  assert.deepEqual(paths.i2c, [`${roots.dev}/i2c-0`, `${roots.dev}/i2c-1`]);
  assert.deepEqual([paths.camera, paths.gpio, paths.spi], [[], [], []]);
});

Deno.test("devicesFingerprinter() orders devices by number and skips webcam metadata nodes", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const dev = `${dir}/dev`;
    const sys = `${dir}/sys`;
    await Deno.mkdir(dev);
    for (const name of ["ttyUSB10", "ttyUSB2", "spidev0.0", "spidev0.1", "gpiomem", "video0", "video1"]) {
      await Deno.writeTextFile(`${dev}/${name}`, "");
    }
    for (const [name, index] of [["video0", "0"], ["video1", "1"]]) {
      await Deno.mkdir(`${sys}/class/video4linux/${name}`, { recursive: true });
      await Deno.writeTextFile(`${sys}/class/video4linux/${name}/name`, "HD Webcam C615\n");
      await Deno.writeTextFile(`${sys}/class/video4linux/${name}/index`, `${index}\n`);
    }
    const { paths } = await devicesFingerprinter({ roots: { dev, sys } }).read();
    assert.deepEqual(paths.serial, [`${dev}/ttyUSB2`, `${dev}/ttyUSB10`]);
    assert.deepEqual(paths.spi, [`${dev}/spidev0.0`, `${dev}/spidev0.1`]);
    assert.deepEqual(paths.gpio, [`${dev}/gpiomem`]);
    assert.deepEqual(paths.camera, [`${dev}/video0`]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
