/** Audit append rate (sealed, anchoring on) vs plain jsonb, proof verification, and `medledger verify` speed. */
import { auditBenchTable } from '../audit.ts';
import type { BenchSection } from '../run.ts';

export const auditSection: BenchSection = {
  name: 'audit',
  title: 'Audit log and verifier',
  async run() {
    return [
      'Sealed append = encrypt (fresh data key, wrapped), commit, blind-index, group-committed INSERT, with the',
      'batcher anchoring; plain = the same JSON into a jsonb table. `verify` speed over 100,000 record versions:',
      'every leaf recomputed, every proof checked against the batch root, roots compared with the chain.',
      '',
      await auditBenchTable(),
    ].join('\n');
  },
};
