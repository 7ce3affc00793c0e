/**
 * The patient's key, before anything is signed. Three ways in:
 * - unlock: the key stored (encrypted) in this browser, with the passphrase;
 * - set up with a claim code: a new key and recovery phrase made here, the phrase shown once,
 *   then bound to the record by `$claim` and stored encrypted;
 * - restore: the recovery phrase typed in, checked against the record's chain address.
 */
import { useState } from 'react';
import type { PrivateKeyAccount } from 'viem/accounts';
import { privateKeyToAccount } from 'viem/accounts';
import type { Me } from '../../../../src/portal/PortalApi.ts';
import { ApiError } from '../../api.ts';
import { ErrorMessage } from '../../components/common.tsx';
import { checkClaimCode, claimPatient } from '../../keys/claimKey.ts';
import {
  decryptKey,
  type EncryptedKey,
  encryptKey,
  keyFromPhrase,
  newRecoveryPhrase,
  storedKey,
  storeKey,
} from '../../keys/keyVault.ts';

interface KeyGateProps {
  me: Me;
  patientId: string;
  patientAddress: string | undefined;
  onUnlocked: (account: PrivateKeyAccount) => void;
}

export function KeyGate({ me, patientId, patientAddress, onUnlocked }: KeyGateProps) {
  const stored = storedKey(me.username);
  const usable = stored && stored.address === patientAddress ? stored : undefined;
  // A key in this browser: unlock it. A record already bound (claimed on another device): the
  // recovery phrase. Else the claim code from the hospital's letter.
  const [mode, setMode] = useState<'unlock' | 'claim' | 'restore'>(
    usable ? 'unlock' : me.keyBound ? 'restore' : 'claim',
  );
  const [note, setNote] = useState<string>();
  const alreadyBound = () => {
    setNote(
      'Your record is already bound to a key (set up earlier, perhaps on another device). Type its recovery phrase to use it in this browser.',
    );
    setMode('restore');
  };
  return (
    <section aria-labelledby="key-title">
      <h1 id="key-title" tabIndex={-1}>
        {usable ? 'Unlock your key' : 'Set up your key'}
      </h1>
      <p className="lead">
        Your key signs every decision about who may see your records. It is made and kept in this browser,
        encrypted under your passphrase; the hospital never sees it.
      </p>
      {!usable && stored && (
        <p className="notice">The key stored in this browser is not the one your record is bound to.</p>
      )}
      <fieldset className="segmented">
        <legend className="visually-hidden">How to get your key</legend>
        {usable && (
          <button type="button" aria-pressed={mode === 'unlock'} onClick={() => setMode('unlock')}>
            Unlock
          </button>
        )}
        <button type="button" aria-pressed={mode === 'claim'} onClick={() => setMode('claim')}>
          I have a claim code
        </button>
        <button type="button" aria-pressed={mode === 'restore'} onClick={() => setMode('restore')}>
          Use my recovery phrase
        </button>
      </fieldset>
      {mode === 'unlock' && usable && <Unlock onUnlocked={onUnlocked} blob={usable} />}
      {note && mode === 'restore' && (
        <p className="notice" role="status">
          {note}
        </p>
      )}
      {mode === 'claim' && (
        <Claim me={me} patientId={patientId} onUnlocked={onUnlocked} onAlreadyBound={alreadyBound} />
      )}
      {mode === 'restore' && <Restore me={me} patientAddress={patientAddress} onUnlocked={onUnlocked} />}
    </section>
  );
}

function Unlock({ blob, onUnlocked }: { blob: EncryptedKey; onUnlocked: KeyGateProps['onUnlocked'] }) {
  const [passphrase, setPassphrase] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  return (
    <form
      className="card"
      onSubmit={(e) => {
        e.preventDefault();
        setBusy(true);
        setError(undefined);
        decryptKey(blob, passphrase).then(onUnlocked, (err: unknown) => {
          setError(err);
          setBusy(false);
        });
      }}
    >
      <label htmlFor="unlock-passphrase">Passphrase</label>
      <input
        id="unlock-passphrase"
        type="password"
        autoComplete="current-password"
        required
        value={passphrase}
        onChange={(e) => setPassphrase(e.target.value)}
      />
      {error !== undefined && <ErrorMessage error={error} />}
      <button type="submit" className="primary" disabled={busy}>
        {busy ? 'Unlocking…' : 'Unlock'}
      </button>
    </form>
  );
}

function PassphraseFields({
  value,
  onChange,
}: {
  value: [string, string];
  onChange: (v: [string, string]) => void;
}) {
  return (
    <>
      <label htmlFor="new-passphrase">New passphrase (at least 10 characters)</label>
      <input
        id="new-passphrase"
        type="password"
        autoComplete="new-password"
        minLength={10}
        required
        value={value[0]}
        onChange={(e) => onChange([e.target.value, value[1]])}
      />
      <label htmlFor="new-passphrase-again">The same passphrase again</label>
      <input
        id="new-passphrase-again"
        type="password"
        autoComplete="new-password"
        minLength={10}
        required
        value={value[1]}
        onChange={(e) => onChange([value[0], e.target.value])}
      />
    </>
  );
}

/** Three distinct word positions (1-based) the patient types back to show the phrase is written down. */
function confirmPositions(): number[] {
  const picked = new Set<number>();
  const random = new Uint32Array(1);
  while (picked.size < 3) {
    crypto.getRandomValues(random);
    picked.add(((random[0] as number) % 12) + 1);
  }
  return [...picked].sort((a, b) => a - b);
}

function Claim({
  me,
  patientId,
  onUnlocked,
  onAlreadyBound,
}: {
  me: Me;
  patientId: string;
  onUnlocked: KeyGateProps['onUnlocked'];
  onAlreadyBound: () => void;
}) {
  const [code, setCode] = useState('');
  const [passphrase, setPassphrase] = useState<[string, string]>(['', '']);
  const [phrase, setPhrase] = useState<string>();
  const [positions, setPositions] = useState<number[]>([]);
  const [typed, setTyped] = useState<Record<number, string>>({});
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();

  const used = (err: unknown) => err instanceof ApiError && err.status === 409;
  const finish = async (words: string) => {
    const key = keyFromPhrase(words);
    const account = privateKeyToAccount(key.privateKey);
    await claimPatient(patientId, code, account);
    storeKey(me.username, await encryptKey(key.privateKey, key.address, passphrase[0]));
    setPhrase(undefined);
    onUnlocked(account);
  };

  if (phrase) {
    const words = phrase.split(' ');
    const confirmed = positions.every((p) => (typed[p] ?? '').trim().toLowerCase() === words[p - 1]);
    return (
      <form
        className="card"
        onSubmit={(e) => {
          e.preventDefault();
          if (!confirmed)
            return setError(
              new Error('The words you typed are not the ones at those places in your phrase.'),
            );
          setBusy(true);
          setError(undefined);
          finish(phrase).catch((err: unknown) => {
            if (used(err)) return onAlreadyBound();
            setError(err);
            setBusy(false);
          });
        }}
      >
        <h2>Your recovery phrase</h2>
        <p>
          Write these 12 words down, in order, and keep them somewhere safe. They are shown{' '}
          <strong>only this once</strong>. With them you can restore your key on another device or if you
          forget your passphrase; anyone who has them can act as you.
        </p>
        <ol className="phrase" aria-label="Recovery phrase">
          {words.map((word, i) => (
            // biome-ignore lint/suspicious/noArrayIndexKey: words may repeat; the position is the identity
            <li key={i}>{word}</li>
          ))}
        </ol>
        <fieldset className="confirm-words">
          <legend>To show you wrote them down, type these words of your phrase</legend>
          {positions.map((p) => (
            <div className="field" key={p}>
              <label htmlFor={`word-${p}`}>Word {p}</label>
              <input
                id={`word-${p}`}
                autoComplete="off"
                autoCapitalize="none"
                spellCheck={false}
                required
                value={typed[p] ?? ''}
                onChange={(e) => setTyped({ ...typed, [p]: e.target.value })}
              />
            </div>
          ))}
        </fieldset>
        {error !== undefined && <ErrorMessage error={error} />}
        <div className="actions">
          <button type="submit" className="primary" disabled={busy}>
            {busy ? 'Binding your key to your record…' : 'Bind my key to my record'}
          </button>
          <button
            type="button"
            className="secondary"
            disabled={busy}
            onClick={() => {
              setPhrase(undefined);
              setError(undefined);
            }}
          >
            Back (this phrase will not be used)
          </button>
        </div>
      </form>
    );
  }

  return (
    <form
      className="card"
      onSubmit={(e) => {
        e.preventDefault();
        setError(undefined);
        if (passphrase[0] !== passphrase[1]) return setError(new Error('The two passphrases differ.'));
        if (code.replace(/[^A-Za-z0-9]/g, '').length < 10)
          return setError(new Error('Type the claim code from your letter.'));
        setBusy(true);
        // The code is checked before any key is made: a wrong or used code never shows a phrase.
        checkClaimCode(patientId, code)
          .then(() => {
            setPositions(confirmPositions());
            setTyped({});
            setPhrase(newRecoveryPhrase());
          })
          .catch((err: unknown) => {
            if (used(err)) return onAlreadyBound();
            setError(
              err instanceof ApiError && err.status === 400
                ? new ApiError(
                    400,
                    'This is not the claim code of your record. Check it against your letter (letters and digits; dashes do not matter), or ask the records office for a new one.',
                  )
                : err,
            );
          })
          .finally(() => setBusy(false));
      }}
    >
      <p>
        Your hospital gave you a one-time claim code (for example KX9YN-FF6MB-R8DXC-RGTAA). It binds the key
        made here to your record.
      </p>
      <label htmlFor="claim-code">Claim code</label>
      <input
        id="claim-code"
        autoComplete="one-time-code"
        autoCapitalize="characters"
        spellCheck={false}
        required
        value={code}
        onChange={(e) => setCode(e.target.value)}
      />
      <PassphraseFields value={passphrase} onChange={setPassphrase} />
      {error !== undefined && <ErrorMessage error={error} />}
      <button type="submit" className="primary" disabled={busy}>
        {busy ? 'Checking the claim code…' : 'Create my key'}
      </button>
    </form>
  );
}

function Restore({
  me,
  patientAddress,
  onUnlocked,
}: {
  me: Me;
  patientAddress: string | undefined;
  onUnlocked: KeyGateProps['onUnlocked'];
}) {
  const [phrase, setPhrase] = useState('');
  const [passphrase, setPassphrase] = useState<[string, string]>(['', '']);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  return (
    <form
      className="card"
      onSubmit={(e) => {
        e.preventDefault();
        setError(undefined);
        (async () => {
          if (passphrase[0] !== passphrase[1]) throw new Error('The two passphrases differ.');
          const key = keyFromPhrase(phrase);
          if (key.address !== patientAddress)
            throw new Error('This recovery phrase is not the key your record is bound to.');
          setBusy(true);
          storeKey(me.username, await encryptKey(key.privateKey, key.address, passphrase[0]));
          onUnlocked(privateKeyToAccount(key.privateKey));
        })().catch((err: unknown) => {
          setError(err);
          setBusy(false);
        });
      }}
    >
      <label htmlFor="restore-phrase">Recovery phrase (12 words)</label>
      <textarea
        id="restore-phrase"
        rows={3}
        spellCheck={false}
        autoCapitalize="none"
        required
        value={phrase}
        onChange={(e) => setPhrase(e.target.value)}
      />
      <PassphraseFields value={passphrase} onChange={setPassphrase} />
      {error !== undefined && <ErrorMessage error={error} />}
      <button type="submit" className="primary" disabled={busy}>
        {busy ? 'Restoring…' : 'Restore my key'}
      </button>
    </form>
  );
}
