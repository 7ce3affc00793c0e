import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateResourceForWrite } from '../validateFhirResource.ts';
import { ValidationPool } from './validationPool.ts';

describe('ValidationPool (worker threads)', () => {
  let pool: ValidationPool;
  beforeAll(async () => {
    pool = new ValidationPool(2);
  });
  afterAll(async () => {
    await pool.close();
  });

  it('answers every request, from two workers, exactly as validation on this thread does', async () => {
    // Sent before the workers have loaded the definitions: each queues in its worker until then.
    const resources = Array.from({ length: 40 }, (_, i) => ({
      resourceType: 'Observation',
      status: i % 5 === 0 ? 'bogus' : 'final',
      code: { text: `n${i}` },
      ...(i % 7 === 0 ? { valueQuantity: { value: 'many' } } : {}),
    }));
    const answers = await Promise.all(resources.map((r) => pool.validate(r)));
    for (const [i, resource] of resources.entries()) {
      const here = validateResourceForWrite(structuredClone(resource));
      expect(answers[i]).toEqual(here.ok ? undefined : here.outcome);
    }
    expect(answers.filter(Boolean)).toHaveLength(
      resources.filter((_, i) => i % 5 === 0 || i % 7 === 0).length,
    );
  });

  it('refuses work once closed', async () => {
    const other = new ValidationPool(1);
    await other.ready();
    await other.close();
    await expect(other.validate({ resourceType: 'Patient' })).rejects.toThrow(/closed/);
  });
});
