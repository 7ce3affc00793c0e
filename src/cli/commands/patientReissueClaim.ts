/**
 * `medledger patient reissue-claim PATIENT_ID --reason TEXT`: the privacy officer's procedure for a
 * patient who lost their key and their recovery phrase. After checking who the patient is (in
 * person, by the institution's own identity procedure), the officer issues a fresh one-time claim
 * code; the patient binds a new key with it (the portal's "I have a claim code", `$claim`), which
 * changes the binding. Any earlier unused code stops working. The command is an audited operator
 * action naming the patient (so it is in their access report) with the reason; the code itself is
 * printed once and stored only as a hash.
 */

import { ConfigError } from '../../errors/MedledgerError.ts';
import { claimCodeHash, newClaimCode } from '../../fhir/identity/patientClaims.ts';
import { boundAddress } from '../../fhir/identity/patientIdentities.ts';
import { auditOperatorAction } from '../auditOperatorAction.ts';
import type { Command } from '../command.ts';
import { nodeOptions } from '../command.ts';

export const patientReissueClaimCommand: Command = {
  name: ['patient', 'reissue-claim'],
  summary: 'issue a new claim code for a patient who lost their key (audited, with a reason)',
  usage: 'medledger patient reissue-claim PATIENT_ID --reason TEXT [--json]',
  options: { ...nodeOptions, reason: { type: 'string' } },
  workers: false,
  async run(ctx, { values, positionals }) {
    const patientId = positionals[0]?.replace(/^Patient\//, '');
    if (!patientId) throw new ConfigError('the PATIENT_ID is required');
    const reason = typeof values.reason === 'string' ? values.reason.trim() : '';
    if (reason.length < 10)
      throw new ConfigError('--reason is required: how the patient was identified (at least 10 characters)');
    const latest = await ctx.vault.reader().latest('Patient', patientId);
    if (!latest || latest.deleted) throw new ConfigError(`no Patient/${patientId}`);
    const address = await boundAddress(ctx.db, patientId);
    const code = newClaimCode();
    await ctx.db.query(
      `INSERT INTO ehr_patient_claims (patient_id, generated_address, code_hash) VALUES ($1, $2, $3)
       ON CONFLICT (patient_id) DO UPDATE SET code_hash = EXCLUDED.code_hash, created_at = now(),
         claimed_at = NULL, claimed_address = NULL`,
      [patientId, address ?? '', claimCodeHash(code)],
    );
    await auditOperatorAction(ctx, {
      action: 'U',
      description: `claim code reissued for a lost key: ${reason}`,
      resources: [`Patient/${patientId}/$claim`],
      patient: `Patient/${patientId}`,
    });
    return {
      exitCode: 0,
      json: { patient: `Patient/${patientId}`, claim_code: code, current_address: address ?? null },
      text: `claim code for Patient/${patientId} (give it to the patient; it is shown only now): ${code}`,
    };
  },
};
