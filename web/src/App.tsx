/**
 * The portal: sign in through the node's login page, then one area per role — patients (key,
 * records, access, access report), clinicians (patients, records, break-glass) and privacy
 * officers (chain, verify, break-glass review, integrity alerts).
 */
import { lazy, Suspense, useEffect, useState } from 'react';
import type { Me, PortalConfig } from '../../src/portal/PortalApi.ts';
import { ApiError, portalConfig, request, SESSION_EXPIRED } from './api.ts';
import { completeSignIn, startSignIn } from './auth/oauth.ts';
import { currentSession, endSession } from './auth/session.ts';
import { ErrorMessage, Loading } from './components/common.tsx';

// One bundle per role, loaded after sign-in: the sign-in screen needs none of them.
const PatientArea = lazy(() => import('./pages/PatientArea.tsx').then((m) => ({ default: m.PatientArea })));
const ClinicianArea = lazy(() =>
  import('./pages/ClinicianArea.tsx').then((m) => ({ default: m.ClinicianArea })),
);
const OfficerDashboard = lazy(() =>
  import('./pages/OfficerDashboard.tsx').then((m) => ({ default: m.OfficerDashboard })),
);

type State =
  | { stage: 'loading' }
  | { stage: 'signed-out'; config: PortalConfig; error?: unknown }
  | { stage: 'signed-in'; config: PortalConfig; me: Me }
  | { stage: 'failed'; error: unknown };

export function App() {
  const [state, setState] = useState<State>({ stage: 'loading' });
  const [attempt, setAttempt] = useState(0);

  // biome-ignore lint/correctness/useExhaustiveDependencies: attempt re-runs the start-up
  useEffect(() => {
    (async () => {
      const config = await portalConfig();
      let signInError: unknown;
      await completeSignIn().catch((error: unknown) => {
        signInError = error;
      });
      if (!currentSession()) return setState({ stage: 'signed-out', config, error: signInError });
      try {
        const me = await request<Me>('/portal/api/me');
        setState({ stage: 'signed-in', config, me });
      } catch (error) {
        endSession();
        setState({ stage: 'signed-out', config, error });
      }
    })().catch((error: unknown) => setState({ stage: 'failed', error }));
  }, [attempt]);

  // A refused token anywhere ends the session: back to sign-in, saying why.
  useEffect(() => {
    const expired = () =>
      setState((s) =>
        s.stage === 'signed-in'
          ? {
              stage: 'signed-out',
              config: s.config,
              error: new ApiError(
                401,
                'Sessions last a limited time, and yours has expired. Sign in again; nothing you had saved is lost.',
              ),
            }
          : s,
      );
    window.addEventListener(SESSION_EXPIRED, expired);
    return () => window.removeEventListener(SESSION_EXPIRED, expired);
  }, []);

  if (state.stage === 'loading')
    return (
      <main className="page">
        <Loading>Connecting to the node…</Loading>
      </main>
    );
  if (state.stage === 'failed')
    return (
      <main className="page">
        <h1>medledger portal</h1>
        <ErrorMessage error={state.error} onRetry={() => setAttempt((a) => a + 1)} />
      </main>
    );
  if (state.stage === 'signed-out') return <SignIn config={state.config} error={state.error} />;

  const { me, config } = state;
  const signOut = () => {
    endSession();
    location.hash = '';
    setState({ stage: 'signed-out', config });
  };
  return (
    <>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <div className="brand">
          <span className="logo" aria-hidden="true">
            ◆
          </span>{' '}
          medledger · {config.institution}
        </div>
        <div className="who">
          <span>
            {me.username} <span className="role">({roleName(me.role)})</span>
          </span>
          <button type="button" className="secondary small" onClick={signOut}>
            Sign out
          </button>
        </div>
      </header>
      <Suspense
        fallback={
          <main className="page" id="main">
            <Loading>Opening your area…</Loading>
          </main>
        }
      >
        {me.role === 'patient' && <PatientArea me={me} config={config} />}
        {me.role === 'practitioner' && <ClinicianArea me={me} />}
        {me.role === 'officer' && <OfficerDashboard me={me} />}
      </Suspense>
      {me.role === 'system' && (
        <main className="page" id="main">
          <ErrorMessage error="Backend clients have no portal; sign in as a person." />
        </main>
      )}
    </>
  );
}

const roleName = (role: Me['role']) =>
  ({
    patient: 'patient',
    practitioner: 'clinician',
    officer: 'privacy officer',
    registrar: 'registrar',
    system: 'system',
  })[role];

function SignIn({ config, error }: { config: PortalConfig; error?: unknown }) {
  const [busy, setBusy] = useState(false);
  const [failure, setFailure] = useState<unknown>(error);
  return (
    <main className="page signin" id="main">
      <h1 tabIndex={-1}>medledger</h1>
      <p className="lead">
        Your health records at <strong>{config.institution}</strong>: see them, decide who may read them, and
        see every access — checked against the consortium's chain.
      </p>
      {failure !== undefined && <ErrorMessage error={failure} />}
      <button
        type="button"
        className="primary big"
        disabled={busy}
        onClick={() => {
          setBusy(true);
          startSignIn().catch((e: unknown) => {
            setFailure(e);
            setBusy(false);
          });
        }}
      >
        {busy ? 'Opening the sign-in page…' : 'Sign in'}
      </button>
      <p className="hint">
        For patients, clinicians and privacy officers. You type your password on this node's own sign-in page;
        patients then unlock their personal key, which never leaves this browser.
      </p>
    </main>
  );
}
