/**
 * The portal's OAuth client: a public client (authorization code + PKCE, SMART standalone
 * launch) whose one redirect URI is the portal itself. Registered at start-up, and its redirect
 * URI kept equal to this node's public URL.
 */
import { createClient, findClient } from '../access/clients.ts';
import type { Queryable } from '../store/db.ts';

export const PORTAL_CLIENT_ID = 'medledger-portal';
/**
 * Patients get their own compartment; clinicians and officers what their role and consent allow.
 * No `launch/patient`: a patient's token names them anyway, and a clinician chooses patients
 * inside the portal, not at the authorization server's patient picker.
 */
export const PORTAL_CLIENT_SCOPES = 'patient/*.cruds user/*.cruds openid fhirUser';

export const portalRedirectUri = (publicUrl: string) => `${publicUrl.replace(/\/+$/, '')}/portal/`;

export async function ensurePortalClient(db: Queryable, publicUrl: string): Promise<void> {
  const redirectUri = portalRedirectUri(publicUrl);
  const existing = await findClient(db, PORTAL_CLIENT_ID);
  if (existing === undefined) {
    await createClient(db, {
      kind: 'public',
      clientId: PORTAL_CLIENT_ID,
      name: 'medledger web portal',
      scopes: PORTAL_CLIENT_SCOPES,
      redirectUris: [redirectUri],
    }).catch(async (error: unknown) => {
      // Another node process on the same database registered it first.
      if ((await findClient(db, PORTAL_CLIENT_ID)) === undefined) throw error;
    });
    return;
  }
  if (existing.redirectUris.length !== 1 || existing.redirectUris[0] !== redirectUri) {
    await db.query('UPDATE access_clients SET redirect_uris = $2::jsonb WHERE client_id = $1', [
      PORTAL_CLIENT_ID,
      JSON.stringify([redirectUri]),
    ]);
  }
}
