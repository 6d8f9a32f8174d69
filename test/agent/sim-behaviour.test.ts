// The sim driver passes the behaviour suite every driver must pass (driver-behaviour.ts): the same state machine,
// refusals, idempotence and concurrency that the qemu driver is held to, here in seconds.
import { createSimDriver } from '../../agent/drivers/sim.ts';
import { describeDriverBehaviour } from './driver-behaviour.ts';

// A fixed seed gives the same VM ids after a restart, as a real host keeps its VMs; a high rate with one or two VMs
// makes every VM's events frequent enough to see them stop and start within a few hundred milliseconds.
describeDriverBehaviour('sim', (setup) => createSimDriver({ agentId: setup.agentId, vms: setup.vms, rate: 400, seed: 7 }), {
  testTimeoutMs: 30_000,
  actionTimeoutMs: 5_000,
  eventWaitMs: 3_000,
  quietMs: 300,
});
