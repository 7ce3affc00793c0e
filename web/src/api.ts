/**
 * HTTP to the node: the portal's JSON endpoints and the FHIR API, with the signed-in user's
 * token. Every failure becomes an ApiError whose message is the server's own explanation
 * (OperationOutcome diagnostics, the portal's `message`, OAuth's `error_description`).
 */
import type { PortalConfig, PortalErrorBody } from '../../src/portal/PortalApi.ts';
import { currentSession, endSession } from './auth/session.ts';

/** Fired on `window` when the node refuses the session's token: the app returns to sign-in. */
export const SESSION_EXPIRED = 'medledger:session-expired';

export class ApiError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
  }
}

let configPromise: Promise<PortalConfig> | undefined;
export function portalConfig(): Promise<PortalConfig> {
  configPromise ??= request<PortalConfig>('/portal/api/config', { auth: false }).catch((error) => {
    configPromise = undefined;
    throw error;
  });
  return configPromise;
}

export interface RequestOptions {
  method?: string;
  body?: unknown;
  headers?: Record<string, string>;
  auth?: boolean;
}

export async function request<T>(url: string, options: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = {
    accept: 'application/json, application/fhir+json',
    ...options.headers,
  };
  if (options.auth !== false) {
    const session = currentSession();
    if (session) headers.authorization = `Bearer ${session.accessToken}`;
  }
  if (options.body !== undefined)
    headers['content-type'] = url.includes('/fhir/') ? 'application/fhir+json' : 'application/json';
  let response: Response;
  try {
    response = await fetch(url, {
      method: options.method ?? (options.body === undefined ? 'GET' : 'POST'),
      headers,
      ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
    });
  } catch {
    throw new ApiError(0, 'The node cannot be reached. Check your connection and try again.');
  }
  const text = await response.text();
  let json: unknown;
  try {
    json = text === '' ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (response.status === 401 && options.auth !== false && currentSession()) {
    // The token expired or was revoked: the session is over, and the app says so on its sign-in screen.
    endSession();
    window.dispatchEvent(new CustomEvent(SESSION_EXPIRED));
  }
  if (!response.ok) throw new ApiError(response.status, explain(response.status, json, text));
  return json as T;
}

/** FHIR REST on this node's base URL (`Patient/1/$everything`). */
export async function fhir<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const { fhirBaseUrl } = await portalConfig();
  return request<T>(`${new URL(fhirBaseUrl).pathname}/${path}`, options);
}

function explain(status: number, json: unknown, text: string): string {
  const body = json as
    | { resourceType?: string; issue?: { diagnostics?: string; details?: { text?: string } }[] }
    | Partial<PortalErrorBody>
    | { error_description?: string }
    | undefined;
  if (body && 'issue' in body && body.issue?.[0])
    return body.issue[0].diagnostics ?? body.issue[0].details?.text ?? `HTTP ${status}`;
  if (body && 'message' in body && body.message) return body.message;
  if (body && 'error_description' in body && body.error_description) return body.error_description;
  if (status === 401) return 'Sign in again to continue.';
  return text.slice(0, 200) || `The node answered HTTP ${status}.`;
}
