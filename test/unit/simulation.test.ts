// The engine under a few hundred seeded fault schedules (test/sim/engine-sim.ts). A failure prints fast-check's seed
// and path: replay it exactly with SIM_SEED=<seed> SIM_PATH=<path> npx vitest run test/unit/simulation.test.ts, or a
// single schedule with node bench/simulate.mjs --seed <seed>. bench/simulate.mjs runs 100,000.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { runSchedule, scheduleArb } from '../sim/engine-sim.js';

const seed = process.env.SIM_SEED === undefined ? undefined : Number(process.env.SIM_SEED);
const path = process.env.SIM_PATH;

describe('simulation: the real engine under injected faults', () => {
  it('keeps every invariant on every schedule', async () => {
    await fc.assert(
      fc.asyncProperty(scheduleArb, async (schedule) => {
        const outcome = await runSchedule(schedule);
        if (outcome.violations.length) throw new Error(`violations:\n${outcome.violations.join('\n')}`);
      }),
      { numRuns: Number(process.env.SIM_RUNS ?? 300), seed: seed ?? 20261207, ...(path ? { path } : {}) },
    );
  }, 60_000);

  it('is deterministic: the same schedule gives the same run', async () => {
    const [schedule] = fc.sample(scheduleArb, { seed: 42, numRuns: 1 });
    const a = await runSchedule(schedule!);
    const b = await runSchedule(schedule!);
    expect(b).toEqual(a);
  });
});
