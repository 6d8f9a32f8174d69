// The driver registry: maps `--driver NAME` to the factory that builds it. A new hypervisor is one file in this
// folder and one line here.
import type { DriverFactory } from './driver.ts';
import { createQemuDriver } from './qemu.ts';
import { createSimDriver } from './sim.ts';

export const DRIVERS: Readonly<Record<string, DriverFactory>> = {
  sim: createSimDriver,
  qemu: createQemuDriver,
};

export function driverNames(): string[] {
  return Object.keys(DRIVERS);
}
