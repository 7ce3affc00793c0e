/**
 * The patient picker's choices. After a practitioner's password login for a standalone launch
 * with `launch/patient`, the picker lists the patients they may open; each listed patient gets a
 * random choice value (stored as SHA-256, bound to the user and the client, five minutes). The
 * picker form posts back only that value: it stands for "this user, logged in just now, chose
 * this patient", so the form needs no password again and cannot name a patient not listed.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Queryable } from '../store/db.ts';

const PICK_LIFETIME_SECONDS = 300;

export interface PatientPick {
  username: string;
  clientId: string;
  patient: string;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('base64url');

export async function createPatientPick(db: Queryable, pick: PatientPick): Promise<string> {
  const value = randomBytes(24).toString('base64url');
  await db.query(
    `INSERT INTO access_patient_picks (pick_hash, username, client_id, patient, expires_at)
     VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))`,
    [sha256(value), pick.username, pick.clientId, pick.patient, PICK_LIFETIME_SECONDS],
  );
  return value;
}

/** Consumes the choice and every other choice of that login's list; its pick if valid for the client. */
export async function redeemPatientPick(
  db: Queryable,
  value: string,
  clientId: string,
): Promise<PatientPick | undefined> {
  const rows = await db.query<{ username: string; client_id: string; patient: string; expired: boolean }>(
    `DELETE FROM access_patient_picks WHERE pick_hash = $1
     RETURNING username, client_id, patient, expires_at < now() AS expired`,
    [sha256(value)],
  );
  await db.query('DELETE FROM access_patient_picks WHERE expires_at < now()');
  const row = rows[0];
  if (!row || row.expired || row.client_id !== clientId) return undefined;
  await db.query('DELETE FROM access_patient_picks WHERE username = $1 AND client_id = $2', [
    row.username,
    row.client_id,
  ]);
  return { username: row.username, clientId: row.client_id, patient: row.patient };
}
