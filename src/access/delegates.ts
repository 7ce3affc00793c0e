/**
 * Whether a patient has appointed `delegate` (guardian, proxy) now, from the chain index's
 * `DelegateSet` events (`chain_delegates`): the access decision (a delegate reads her consents)
 * and the consent relay (a delegate may sign for her) ask the same question.
 */
import type { Queryable } from '../store/db.ts';

export async function isActiveDelegate(
  db: Queryable,
  patient: string,
  delegate: string,
  now = Math.floor(Date.now() / 1000),
): Promise<boolean> {
  const rows = await db.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM chain_delegates WHERE patient = $1 AND delegate = $2 AND until > $3',
    [patient.toLowerCase(), delegate.toLowerCase(), now],
  );
  return (rows[0]?.n ?? 0) > 0;
}
