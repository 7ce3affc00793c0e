/**
 * EHR launch contexts (SMART App Launch §EHR launch): a practitioner, signed in to the EHR, opens
 * an app "on" a patient. `POST /auth/launch` records the patient (and encounter) under an opaque
 * `launch` value the EHR hands the app; the app passes it back at /auth/authorize with the
 * `launch` scope, and the token response carries the context. Only a hash of the value is stored,
 * it lives ten minutes, and it is bound to the practitioner who created it: only they can
 * complete the login with it. The context names the patient only; every FHIR request is still
 * decided by scopes and the patient's consent.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Queryable } from '../store/db.ts';
import { AccessError } from './AccessError.ts';

export const LAUNCH_LIFETIME_SECONDS = 600;

export interface LaunchContext {
  /** The practitioner (username) the launch is for. */
  username: string;
  patient: string;
  encounter?: string | undefined;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('base64url');
const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;

export async function createLaunchContext(db: Queryable, context: LaunchContext): Promise<string> {
  if (!FHIR_ID.test(context.patient))
    throw new AccessError('ERR_ACCESS_REQUEST_INVALID', 'patient must be a FHIR id');
  if (context.encounter !== undefined && !FHIR_ID.test(context.encounter))
    throw new AccessError('ERR_ACCESS_REQUEST_INVALID', 'encounter must be a FHIR id');
  const launch = randomBytes(24).toString('base64url');
  await db.query('DELETE FROM access_launches WHERE expires_at < now()');
  await db.query(
    `INSERT INTO access_launches (launch_hash, username, patient, encounter, expires_at)
     VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))`,
    [sha256(launch), context.username, context.patient, context.encounter ?? null, LAUNCH_LIFETIME_SECONDS],
  );
  return launch;
}

/** The context of a launch value, if it is known and has not expired. */
export async function findLaunchContext(db: Queryable, launch: string): Promise<LaunchContext | undefined> {
  const rows = await db.query<{ username: string; patient: string; encounter: string | null }>(
    'SELECT username, patient, encounter FROM access_launches WHERE launch_hash = $1 AND expires_at > now()',
    [sha256(launch)],
  );
  const row = rows[0];
  return row
    ? { username: row.username, patient: row.patient, encounter: row.encounter ?? undefined }
    : undefined;
}
