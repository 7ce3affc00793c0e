/** A governance action the Registry refuses (not a member, already voted, closed proposal...). */
import { MedledgerError } from '../errors/MedledgerError.ts';

export class GovernanceError extends MedledgerError {
  /** The Registry's custom error, e.g. `RegistryAlreadyVoted(1, 0x..)`, when the chain gave one. */
  readonly reason: string | undefined;

  constructor(message: string, reason?: string) {
    super('ERR_GOVERNANCE_REJECTED', message);
    this.reason = reason;
  }
}
