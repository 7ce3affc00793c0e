/**
 * Who among this institution's own people reads a patient's records for treatment without a
 * consent on chain (`MEDLEDGER_TREATMENT_ACCESS`):
 * - `none`: nobody; every access rests on the patient's consent (or break-glass);
 * - `care-team` (default): a practitioner with a current care relationship with the patient (named
 *   as the patient's general practitioner, a participant of one of the patient's encounters, or a
 *   member of one of the patient's care teams), and the institution's own backend systems;
 * - `institution`: every practitioner of the institution, and its backend systems.
 * Privacy officers never read clinical records under it. A patient who revoked a practitioner on
 * chain has restricted them: that practitioner gets no treatment access to the patient.
 */
export type TreatmentAccess = 'none' | 'care-team' | 'institution';
export const TREATMENT_ACCESS_MODES: readonly TreatmentAccess[] = ['none', 'care-team', 'institution'];
