/**
 * Who a practitioner may choose at the patient picker: the FHIR layer answers (it holds the
 * records and the access decision); the authorization server only shows the list.
 */
import type { UserAccount } from './users.ts';

export interface PickablePatient {
  id: string;
  /** For the picker's list: the patient's name as recorded. */
  name: string;
}

/** The patients this user may open with this scope, at most `limit`. */
export type PatientPicker = (user: UserAccount, scope: string, limit: number) => Promise<PickablePatient[]>;
