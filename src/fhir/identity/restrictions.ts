/**
 * A patient's restrictions on named clinicians (HIPAA 164.522(a), the right to request
 * restrictions): `patient_restrictions` rows, by `Practitioner/{id}`. The access decision asks
 * {@link isRestricted}; the portal adds and lifts them and "who has access" lists them.
 */
import type { Queryable } from '../../store/db.ts';

export async function isRestricted(q: Queryable, patientId: string, practitioner: string): Promise<boolean> {
  const rows = await q.query(
    'SELECT 1 FROM patient_restrictions WHERE patient_id = $1 AND practitioner = $2',
    [patientId, practitioner],
  );
  return rows.length > 0;
}

/** The clinicians the patient restricted, oldest first. */
export async function restrictedPractitioners(q: Queryable, patientId: string): Promise<string[]> {
  const rows = await q.query<{ practitioner: string }>(
    'SELECT practitioner FROM patient_restrictions WHERE patient_id = $1 ORDER BY created_at',
    [patientId],
  );
  return rows.map((r) => r.practitioner);
}

export async function setRestriction(
  q: Queryable,
  patientId: string,
  practitioner: string,
  restricted: boolean,
): Promise<void> {
  await q.query(
    restricted
      ? 'INSERT INTO patient_restrictions (patient_id, practitioner) VALUES ($1, $2) ON CONFLICT DO NOTHING'
      : 'DELETE FROM patient_restrictions WHERE patient_id = $1 AND practitioner = $2',
    [patientId, practitioner],
  );
}
