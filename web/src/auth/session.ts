/** The signed-in user's token, kept for this browser tab only (sessionStorage). */

export interface Session {
  accessToken: string;
  expiresAt: number;
  scope: string;
  /** SMART launch context: the patient's FHIR id (patients). */
  patient?: string;
  /** `Practitioner/123` (clinicians). */
  fhirUser?: string;
}

const KEY = 'medledger.session';

export function currentSession(): Session | undefined {
  const raw = sessionStorage.getItem(KEY);
  if (!raw) return undefined;
  const session = JSON.parse(raw) as Session;
  if (session.expiresAt <= Date.now()) {
    endSession();
    return undefined;
  }
  return session;
}

export function saveSession(session: Session): void {
  sessionStorage.setItem(KEY, JSON.stringify(session));
}

const endListeners = new Set<() => void>();

/** Runs `forget` when the session ends: what a module keeps for the signed-in user goes with it. */
export function onSessionEnd(forget: () => void): void {
  endListeners.add(forget);
}

export function endSession(): void {
  sessionStorage.removeItem(KEY);
  for (const forget of endListeners) forget();
}
